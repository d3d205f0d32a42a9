/**
 * drivegate core: the bottom layer every other module builds on, with no dependency on any of them.
 * It holds the error type and its codes, digests (sha256, canonical JSON), atomic file writes,
 * logging, paths, the workspace and its config (YAML + environment, validated with zod), progress
 * reporting, and the step runner that records, caches and resumes workflow runs.
 * Computations here take data and return data; the few I/O helpers are explicit about it.
 */
export { DrivegateError, ERROR_CODES, asDrivegateError, badInput, exitCodeOf } from './errors.js';
export type { ErrorCode, ErrorLocation, DrivegateErrorOptions } from './errors.js';
export { sha256, sha256File, canonicalJson, digestOf, isSha256 } from './digest.js';
export {
  atomicWriteFile,
  atomicWriteFileSync,
  exists,
  fsyncDir,
  listFilesRecursive,
  readInputFile,
  tempPathFor,
} from './fsutil.js';
export { createLogger } from './log.js';
export type { Logger, LogLevel, LoggerOptions } from './log.js';
export { packageRoot, workspaceHome, sharedFixtures } from './paths.js';
export { mulberry32 } from './random.js';
export { loadConfig, parseConfigText, configFileSchema, normalizeStoreUri, ENV_OVERRIDES } from './config.js';
export type { DrivegateConfig, ConfigFile, LoadConfigOptions } from './config.js';
export { openWorkspace, ensureWorkspace } from './workspace.js';
export type { Workspace, OpenWorkspaceOptions } from './workspace.js';
export { createProgress, jsonLinesProgress, ttyProgress, silentProgress } from './progress.js';
export type {
  ProgressEvent,
  ProgressSink,
  ProgressStream,
  ProgressOptions,
  StepEndStatus,
} from './progress.js';
export { Runner, createRunner } from './runner.js';
export type { Workflow, Step, StepContext, StepInputs, StepStore, RunView, RunnerOptions } from './runner.js';
export {
  newRunId,
  validateRunId,
  readRunRecord,
  writeRunRecord,
  listRuns,
  summarizeRun,
  isInterrupted,
} from './runrecord.js';
export type { RunRecord, StepRecord, StepStatus, RunStatus, RunSummary, OutputRecord } from './runrecord.js';
export { isProcessGone } from './procs.js';
