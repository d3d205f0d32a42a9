/**
 * Shared command-line plumbing for commands that work in the workspace: the `--config` option,
 * opening the workspace and its store, and (for workflow commands) `--resume RUN_ID`, `--no-cache`
 * and `--json`, with a runner whose progress goes to stderr (a bar on a TTY, JSON lines otherwise).
 */
import type { Command } from 'commander';
import { createProgress } from '../core/progress.js';
import { createLogger } from '../core/log.js';
import { createRunner } from '../core/runner.js';
import type { Workflow } from '../core/runner.js';
import type { RunRecord } from '../core/runrecord.js';
import { openWorkspace } from '../core/workspace.js';
import type { Workspace } from '../core/workspace.js';
import { openStore } from '../store/open.js';
import type { ArtifactStore } from '../store/types.js';

/** The flags addWorkspaceOptions adds. */
export interface WorkspaceFlags {
  config?: string;
}

/** Adds `--config <file>` (the workspace config; default $DRIVEGATE_CONFIG or $DRIVEGATE_HOME/drivegate.yaml). */
export function addWorkspaceOptions(cmd: Command): Command {
  return cmd.option(
    '--config <file>',
    'drivegate.yaml to use (default: $DRIVEGATE_CONFIG or <workspace>/drivegate.yaml)',
  );
}

/** Opens the workspace named by the environment and `--config`. */
export function workspaceFromFlags(flags: WorkspaceFlags): Workspace {
  return openWorkspace({ configPath: flags.config });
}

/** Opens the artifact store the workspace config names. */
export async function storeOf(ws: Workspace): Promise<ArtifactStore> {
  return openStore(ws.config.store.uri);
}

/** The flags addRunOptions adds. */
export interface RunFlags extends WorkspaceFlags {
  resume?: string;
  cache?: boolean;
  json?: boolean;
}

/** Adds the options of a workflow command: --config, --resume RUN_ID, --no-cache, --json. */
export function addRunOptions(cmd: Command): Command {
  return addWorkspaceOptions(cmd)
    .option('--resume <run-id>', 'resume an interrupted run (its completed steps are not executed again)')
    .option('--no-cache', 'execute every step even when its inputs are unchanged')
    .option('--json', 'machine output: JSON result on stdout, JSON-lines progress on stderr');
}

/**
 * Runs (or with --resume, resumes) `workflow` in the workspace: outputs go to the workspace store,
 * the record to runs/<id>/run.json, progress to stderr. Returns the final record; throws the failing
 * step's error (whose code gives the exit code).
 */
export async function runWorkflowFromCli<A>(
  workflow: Workflow<A>,
  args: A,
  flags: RunFlags,
): Promise<RunRecord> {
  const ws = workspaceFromFlags(flags);
  const store = await storeOf(ws);
  const runner = createRunner(ws, store, {
    progress: createProgress({ ...(flags.json ? { json: true } : {}) }),
    log: createLogger({ level: ws.config.log.level, ...(flags.json ? { json: true } : {}) }),
    cache: flags.cache !== false,
  });
  return flags.resume !== undefined ? runner.resume(workflow, flags.resume) : runner.run(workflow, args);
}
