/**
 * The step runner. A workflow is a list of named steps; each declares its inputs (files and values,
 * whose digests are computed) and its outputs (files or folders it writes into its work folder,
 * stored into the artifact store afterwards). The runner:
 *
 * - gives each run a time-sortable id and records it in runs/<id>/run.json, rewritten atomically
 *   when each step starts and ends (statuses, input/output digests, timings, errors);
 * - skips a step whose cache key (step name + version + input digests) matches an earlier
 *   successful execution, restoring its outputs from the store (cache index: <cacheDir>/steps/);
 * - resumes an interrupted run by id without re-executing its completed steps;
 * - reports progress to a ProgressSink (bar on a TTY, JSON lines otherwise).
 *
 * The runner sits in core, below the store: it talks to any store through the small StepStore
 * interface, which the ArtifactStore satisfies.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, relative, sep } from 'node:path';
import { digestOf, sha256File } from './digest.js';
import { DrivegateError, asDrivegateError, badInput } from './errors.js';
import { atomicWriteFile, exists, listFilesRecursive } from './fsutil.js';
import type { Logger } from './log.js';
import type { ProgressEvent, ProgressSink, StepEndStatus } from './progress.js';
import { silentProgress } from './progress.js';
import { isInterrupted, newRunId, readRunRecord, runDir, writeRunRecord } from './runrecord.js';
import type { OutputRecord, RunRecord, StepRecord } from './runrecord.js';
import type { Workspace } from './workspace.js';

/** What the runner needs from an artifact store (an ArtifactStore has all of it). */
export interface StepStore {
  put(data: Uint8Array | string): Promise<{ digest: string; size: number }>;
  putFile(path: string): Promise<{ digest: string; size: number }>;
  get(digest: string): Promise<Buffer>;
  getToFile(digest: string, path: string): Promise<{ digest: string; size: number }>;
  has(digest: string): Promise<boolean>;
}

/** The declared inputs of a step: files (or folders) and JSON values, by name. */
export interface StepInputs {
  files?: Record<string, string>;
  values?: Record<string, unknown>;
}

/** What a step can see of its run: the args and the outputs and results of earlier steps. */
export interface RunView<A> {
  readonly runId: string;
  readonly args: A;
  /** The path of output `name` of an earlier step `step` (in that step's work folder). */
  outputPath(step: string, name: string): string;
  /** The stored digest of output `name` of an earlier step. */
  outputDigest(step: string, name: string): string;
  /** The JSON value an earlier step returned. */
  result<T = unknown>(step: string): T | undefined;
}

/** What a running step gets. */
export interface StepContext<A> extends RunView<A> {
  /** This step's name. */
  readonly step: string;
  /** This step's work folder: its declared outputs are written here (emptied before the step runs). */
  readonly workDir: string;
  /** The path to write declared output `name` to. */
  out(name: string): string;
  /** The step's resolved inputs. */
  readonly inputs: { files: Record<string, string>; values: Record<string, unknown> };
  /** Reports sub-progress (done of total units). */
  progress(done: number, total: number): void;
  readonly log: Logger | undefined;
}

/** A step of a workflow. */
export interface Step<A> {
  /** Unique within the workflow: letters, digits, '.', '_' and '-'. */
  name: string;
  /** Bump when the step's code changes what it produces: it invalidates cached results. */
  version?: string | number;
  /** Declared inputs, or a function of the run (args, earlier outputs) that returns them. */
  inputs?: StepInputs | ((view: RunView<A>) => StepInputs | Promise<StepInputs>);
  /** Files the step writes into its work folder (relative names); a name ending in '/' is a folder. */
  outputs?: readonly string[];
  /** Set false for steps that must always run (e.g. ones with side effects outside their outputs). */
  cache?: boolean;
  /** Does the work; may return a small JSON value (recorded, and restored on a cache hit). */
  run(ctx: StepContext<A>): unknown;
}

/** A named list of steps. */
export interface Workflow<A> {
  name: string;
  steps: readonly Step<A>[];
}

/** Options of the Runner. */
export interface RunnerOptions {
  /** Where run records and work folders go. */
  runsDir: string;
  /** Where the step cache index goes. */
  cacheDir: string;
  store: StepStore;
  progress?: ProgressSink;
  log?: Logger;
  /** Set false to execute every step (no cache lookups; results are still recorded in the cache). */
  cache?: boolean;
}

const STEP_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** A cache index entry: the outputs of a successful step execution, keyed by its input digest. */
interface CacheEntry {
  schema: 'drivegate.step-cache/v1';
  inputDigest: string;
  step: string;
  version: string;
  outputs: Record<string, OutputRecord>;
  result?: unknown;
  runId: string;
  createdAt: string;
}

/** A folder stored as a tree manifest blob. */
interface TreeManifest {
  schema: 'drivegate.tree/v1';
  entries: { path: string; digest: string; size: number }[];
}

/** Runs workflows, records them, skips cached steps and resumes interrupted runs. */
export class Runner {
  private readonly o: RunnerOptions;
  private readonly progressSink: ProgressSink;

  /** A runner writing records under options.runsDir and storing outputs in options.store. */
  constructor(options: RunnerOptions) {
    this.o = options;
    this.progressSink = options.progress ?? silentProgress();
  }

  /** Runs `workflow` with `args` (JSON) as a new run; returns the final record, throws the failing step's error. */
  async run<A>(workflow: Workflow<A>, args: A): Promise<RunRecord> {
    checkWorkflow(workflow);
    const now = new Date();
    const record: RunRecord = {
      schema: 'drivegate.run/v1',
      id: newRunId(now),
      workflow: workflow.name,
      args: JSON.parse(JSON.stringify(args ?? null)) as unknown,
      status: 'running',
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      pid: process.pid,
      host: hostname(),
      steps: workflow.steps.map((s) => ({ name: s.name, version: versionOf(s), status: 'pending' })),
    };
    return this.execute(workflow, record, false);
  }

  /**
   * Resumes run `runId` of `workflow`: steps that completed are not executed again (their outputs
   * are restored if their work folder lost them); the others run. A finished run is returned as is.
   */
  async resume<A>(workflow: Workflow<A>, runId: string): Promise<RunRecord> {
    checkWorkflow(workflow);
    const record = await readRunRecord(this.o.runsDir, runId);
    if (record.workflow !== workflow.name) {
      throw badInput('run belongs to another workflow', {
        record: runId,
        field: 'workflow',
        expected: workflow.name,
        found: record.workflow,
      });
    }
    const names = workflow.steps.map((s) => s.name).join(',');
    if (record.steps.map((s) => s.name).join(',') !== names) {
      throw new DrivegateError(
        'CONFLICT',
        'the workflow steps changed since the run started; start a new run',
        {
          record: runId,
          expected: names,
          found: record.steps.map((s) => s.name).join(','),
        },
      );
    }
    if (record.status === 'succeeded') return record;
    if (record.status === 'running' && !isInterrupted(record)) {
      throw new DrivegateError(
        'CONFLICT',
        `run ${runId} is still running (process ${record.pid} on ${record.host})`,
        {
          record: runId,
        },
      );
    }
    record.status = 'running';
    record.pid = process.pid;
    record.host = hostname();
    delete record.error;
    delete record.finishedAt;
    record.resumedAt = [...(record.resumedAt ?? []), new Date().toISOString()];
    record.steps = record.steps.map((s) =>
      s.status === 'succeeded' || s.status === 'skipped-cached'
        ? s
        : { name: s.name, version: s.version, status: 'pending' },
    );
    return this.execute(workflow, record, true);
  }

  private emit(e: ProgressEvent): void {
    this.progressSink.emit(e);
  }

  private async execute<A>(workflow: Workflow<A>, record: RunRecord, resumed: boolean): Promise<RunRecord> {
    const started = Date.now();
    const base = runDir(this.o.runsDir, record.id);
    const args = record.args as A;
    const total = workflow.steps.length;
    const view: RunView<A> = {
      runId: record.id,
      args,
      outputPath: (step, name) => {
        const rec = record.steps.find((s) => s.name === step);
        if (rec === undefined || rec.outputs?.[name] === undefined) {
          throw new DrivegateError('INTERNAL', `step ${step} has no output ${name} (yet)`);
        }
        return outputFile(join(base, 'work', step), name);
      },
      outputDigest: (step, name) => {
        const out = record.steps.find((s) => s.name === step)?.outputs?.[name];
        if (out === undefined)
          throw new DrivegateError('INTERNAL', `step ${step} has no output ${name} (yet)`);
        return out.digest;
      },
      result: <T>(step: string) => record.steps.find((s) => s.name === step)?.result as T | undefined,
    };
    await writeRunRecord(this.o.runsDir, record);
    this.emit({ event: 'run_start', run: record.id, workflow: record.workflow, steps: total, resumed });
    for (const [i, step] of workflow.steps.entries()) {
      const rec = record.steps[i];
      if (rec === undefined) throw new DrivegateError('INTERNAL', 'record and workflow disagree');
      const index = i + 1;
      const workDir = join(base, 'work', step.name);
      if (rec.status === 'succeeded' || rec.status === 'skipped-cached') {
        // Completed in an earlier attempt of this run: make sure its outputs are on disk, never re-execute.
        this.emit({ event: 'step_start', run: record.id, step: step.name, index, steps: total });
        await this.restoreOutputs(rec.outputs ?? {}, workDir, true);
        this.emit({
          event: 'step_end',
          run: record.id,
          step: step.name,
          index,
          steps: total,
          status: 'skipped-done',
          durationMs: 0,
        });
        continue;
      }
      const t0 = Date.now();
      rec.status = 'running';
      rec.startedAt = new Date(t0).toISOString();
      await writeRunRecord(this.o.runsDir, record);
      this.emit({ event: 'step_start', run: record.id, step: step.name, index, steps: total });
      let failure: DrivegateError | undefined;
      try {
        const inputs = await resolveInputs(step, view);
        const digests = await this.inputDigests(inputs, base, record);
        rec.inputs = digests;
        rec.inputDigest = `sha256:${digestOf({ step: step.name, version: rec.version, ...digests })}`;
        const cached =
          this.o.cache !== false && step.cache !== false
            ? await this.lookup(rec.inputDigest, step, workDir)
            : undefined;
        if (cached !== undefined) {
          rec.status = 'skipped-cached';
          rec.outputs = cached.outputs;
          if (cached.result !== undefined) rec.result = cached.result;
          rec.cachedFrom = cached.runId;
        } else {
          await rm(workDir, { recursive: true, force: true });
          await mkdir(workDir, { recursive: true });
          const ctx: StepContext<A> = {
            ...view,
            step: step.name,
            workDir,
            inputs,
            out: (name) => outputFile(workDir, name),
            progress: (done, of) =>
              this.emit({
                event: 'step_progress',
                run: record.id,
                step: step.name,
                index,
                steps: total,
                done,
                total: of,
              }),
            log: this.o.log?.child({ run: record.id, step: step.name }),
          };
          const result: unknown = await step.run(ctx);
          rec.outputs = await this.storeOutputs(step, workDir);
          if (result !== undefined) rec.result = JSON.parse(JSON.stringify(result)) as unknown;
          rec.status = 'succeeded';
          if (step.cache !== false) await this.remember(rec, record.id);
        }
      } catch (err) {
        failure = asDrivegateError(err);
        rec.status = 'failed';
        rec.error = { code: failure.code, message: failure.message };
        record.status = 'failed';
        record.error = { step: step.name, ...rec.error };
      }
      const t1 = Date.now();
      rec.finishedAt = new Date(t1).toISOString();
      rec.durationMs = t1 - t0;
      if (failure !== undefined) {
        record.finishedAt = rec.finishedAt;
        record.durationMs = (record.durationMs ?? 0) + (t1 - started);
      }
      await writeRunRecord(this.o.runsDir, record);
      this.emit({
        event: 'step_end',
        run: record.id,
        step: step.name,
        index,
        steps: total,
        status: rec.status as StepEndStatus,
        durationMs: rec.durationMs,
        ...(rec.error !== undefined ? { error: rec.error } : {}),
      });
      if (failure !== undefined) {
        this.emit({
          event: 'run_end',
          run: record.id,
          workflow: record.workflow,
          status: 'failed',
          durationMs: t1 - started,
          error: { code: failure.code, message: failure.message },
        });
        throw failure;
      }
    }
    record.status = 'succeeded';
    record.finishedAt = new Date().toISOString();
    record.durationMs = (record.durationMs ?? 0) + (Date.now() - started);
    await writeRunRecord(this.o.runsDir, record);
    this.emit({
      event: 'run_end',
      run: record.id,
      workflow: record.workflow,
      status: 'succeeded',
      durationMs: Date.now() - started,
    });
    return record;
  }

  /** Digests of the resolved inputs: files (and folders) hashed, values canonical-JSON hashed. */
  private async inputDigests(
    inputs: { files: Record<string, string>; values: Record<string, unknown> },
    base: string,
    record: RunRecord,
  ): Promise<{ files: Record<string, string>; values: Record<string, string> }> {
    const files: Record<string, string> = {};
    for (const [key, path] of Object.entries(inputs.files).sort(([a], [b]) => (a < b ? -1 : 1))) {
      files[key] = knownOutputDigest(path, base, record) ?? (await digestPath(path, key));
    }
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(inputs.values))
      values[key] = `sha256:${digestOf(value ?? null)}`;
    return { files, values };
  }

  private cachePath(inputDigest: string): string {
    const hex = inputDigest.slice('sha256:'.length);
    return join(this.o.cacheDir, 'steps', hex.slice(0, 2), `${hex}.json`);
  }

  /** A usable cache entry for `inputDigest`, with its outputs restored into workDir; else undefined. */
  private async lookup<A>(
    inputDigest: string,
    step: Step<A>,
    workDir: string,
  ): Promise<CacheEntry | undefined> {
    let entry: CacheEntry;
    try {
      entry = JSON.parse(await readFile(this.cachePath(inputDigest), 'utf8')) as CacheEntry;
    } catch {
      return undefined;
    }
    const declared = (step.outputs ?? []).slice().sort().join('\n');
    if (
      entry.schema !== 'drivegate.step-cache/v1' ||
      Object.keys(entry.outputs).sort().join('\n') !== declared
    ) {
      return undefined;
    }
    for (const out of Object.values(entry.outputs))
      if (!(await this.o.store.has(out.digest))) return undefined;
    await rm(workDir, { recursive: true, force: true });
    try {
      await this.restoreOutputs(entry.outputs, workDir, false);
    } catch (err) {
      if (err instanceof DrivegateError && (err.code === 'NOT_FOUND' || err.code === 'INTEGRITY')) {
        this.o.log?.warn('cached outputs could not be restored; running the step', {
          step: step.name,
          error: err.message,
        });
        return undefined;
      }
      throw err;
    }
    return entry;
  }

  private async remember(rec: StepRecord, runId: string): Promise<void> {
    if (rec.inputDigest === undefined || rec.outputs === undefined) return;
    const entry: CacheEntry = {
      schema: 'drivegate.step-cache/v1',
      inputDigest: rec.inputDigest,
      step: rec.name,
      version: rec.version,
      outputs: rec.outputs,
      ...(rec.result !== undefined ? { result: rec.result } : {}),
      runId,
      createdAt: new Date().toISOString(),
    };
    await atomicWriteFile(this.cachePath(rec.inputDigest), JSON.stringify(entry, null, 2) + '\n');
  }

  /** Stores each declared output; a missing one fails the step. */
  private async storeOutputs<A>(step: Step<A>, workDir: string): Promise<Record<string, OutputRecord>> {
    const outputs: Record<string, OutputRecord> = {};
    for (const name of step.outputs ?? []) {
      const path = outputFile(workDir, name);
      const isDir = name.endsWith('/');
      let st;
      try {
        st = await stat(path);
      } catch {
        st = undefined;
      }
      if (st === undefined || st.isDirectory() !== isDir) {
        throw new DrivegateError(
          'INTERNAL',
          `step ${step.name} did not produce its declared output ${name}`,
          {
            file: path,
            expected: isDir ? 'a folder' : 'a file',
            found: st === undefined ? 'nothing' : st.isDirectory() ? 'a folder' : 'something else',
          },
        );
      }
      if (!isDir) {
        outputs[name] = { ...(await this.o.store.putFile(path)), kind: 'file' };
        continue;
      }
      const manifest: TreeManifest = { schema: 'drivegate.tree/v1', entries: [] };
      for (const file of await listFilesRecursive(path)) {
        const info = await this.o.store.putFile(file);
        manifest.entries.push({ path: relative(path, file).split(sep).join('/'), ...info });
      }
      manifest.entries.sort((a, b) => (a.path < b.path ? -1 : 1));
      const info = await this.o.store.put(JSON.stringify(manifest));
      outputs[name] = {
        digest: info.digest,
        size: manifest.entries.reduce((n, e) => n + e.size, 0),
        kind: 'dir',
      };
    }
    return outputs;
  }

  /** Writes stored outputs into workDir (with onlyMissing, leaves files already there alone). */
  private async restoreOutputs(
    outputs: Record<string, OutputRecord>,
    workDir: string,
    onlyMissing: boolean,
  ): Promise<void> {
    for (const [name, out] of Object.entries(outputs)) {
      const path = outputFile(workDir, name);
      if (onlyMissing && (await exists(path))) continue;
      if (out.kind === 'file') {
        await this.o.store.getToFile(out.digest, path);
        continue;
      }
      const manifest = JSON.parse((await this.o.store.get(out.digest)).toString('utf8')) as TreeManifest;
      await mkdir(path, { recursive: true });
      for (const e of manifest.entries) {
        await this.o.store.getToFile(e.digest, join(path, ...checkOutputName(e.path).split('/')));
      }
    }
  }
}

/** A runner on a workspace: records in its runs folder, cache index in its cache folder. */
export function createRunner(
  ws: Workspace,
  store: StepStore,
  options: Omit<RunnerOptions, 'runsDir' | 'cacheDir' | 'store'> = {},
): Runner {
  return new Runner({ ...options, runsDir: ws.runsDir, cacheDir: ws.cacheDir, store });
}

function versionOf<A>(step: Step<A>): string {
  return String(step.version ?? '1');
}

function checkWorkflow<A>(workflow: Workflow<A>): void {
  const seen = new Set<string>();
  for (const s of workflow.steps) {
    if (!STEP_NAME.test(s.name) || seen.has(s.name)) {
      throw new DrivegateError(
        'INTERNAL',
        `workflow ${workflow.name}: step name ${JSON.stringify(s.name)} is invalid or repeated`,
      );
    }
    seen.add(s.name);
    for (const o of s.outputs ?? []) checkOutputName(o);
  }
}

/** The path of output `name` (a trailing '/' marks a folder) inside a step's work folder. */
function outputFile(workDir: string, name: string): string {
  return join(workDir, ...checkOutputName(name).replace(/\/$/, '').split('/'));
}

/** Output names are relative paths of safe segments (no '..', no absolute paths). */
function checkOutputName(name: string): string {
  const body = name.endsWith('/') ? name.slice(0, -1) : name;
  if (
    body === '' ||
    body.startsWith('/') ||
    body.split('/').some((s) => s === '' || s === '.' || s === '..' || s.includes('\\'))
  ) {
    throw badInput('invalid output name', {
      field: 'outputs',
      expected: 'a relative path without . or .. segments',
      found: JSON.stringify(name),
    });
  }
  return name;
}

async function resolveInputs<A>(
  step: Step<A>,
  view: RunView<A>,
): Promise<{ files: Record<string, string>; values: Record<string, unknown> }> {
  const declared = typeof step.inputs === 'function' ? await step.inputs(view) : (step.inputs ?? {});
  return { files: { ...(declared.files ?? {}) }, values: { ...(declared.values ?? {}) } };
}

/** The digest of an earlier step's output of this run, when `path` is one (no need to re-hash it). */
function knownOutputDigest(path: string, base: string, record: RunRecord): string | undefined {
  const rel = relative(join(base, 'work'), path).split(sep);
  if (rel.length < 2 || rel[0] === '..') return undefined;
  const [stepName, ...rest] = rel;
  const outputs = record.steps.find((s) => s.name === stepName)?.outputs ?? {};
  const name = rest.join('/');
  return (outputs[name] ?? outputs[`${name}/`])?.digest;
}

/** sha256 of a file, or of a folder's sorted listing of (path, file digest); BAD_INPUT when missing. */
async function digestPath(path: string, key: string): Promise<string> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw badInput('declared input is missing', {
      file: path,
      field: `inputs.files.${key}`,
      expected: 'an existing file or folder',
      found: 'nothing',
      cause: err,
    });
  }
  if (!st.isDirectory()) return `sha256:${(await sha256File(path)).sha256}`;
  const entries: { path: string; sha256: string; size: number }[] = [];
  for (const file of await listFilesRecursive(path)) {
    const d = await sha256File(file);
    entries.push({ path: relative(path, file).split(sep).join('/'), ...d });
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : 1));
  return `sha256:${digestOf({ tree: entries })}`;
}

/** Exported for tests: the folder where a run keeps its step work folders. */
export function runWorkDir(runsDir: string, runId: string, step: string): string {
  return join(runDir(runsDir, runId), 'work', step);
}
