/**
 * Run records: runs/<run-id>/run.json, one per workflow run, rewritten atomically as the run
 * progresses. Holds the run ids (time-sortable), the record types, and reading/listing of records.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DrivegateError, badInput } from './errors.js';
import { atomicWriteFile } from './fsutil.js';
import { isProcessGone } from './procs.js';

/** The status of a step in a run record. */
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped-cached';

/** The status of a run ('interrupted' is derived when listing: running, but its process is gone). */
export type RunStatus = 'running' | 'succeeded' | 'failed';

/** An error as recorded. */
export interface RecordedError {
  code: string;
  message: string;
}

/** A stored output of a step: a file blob, or a folder stored as a tree manifest blob. */
export interface OutputRecord {
  digest: string;
  size: number;
  kind: 'file' | 'dir';
}

/** One step of a run. */
export interface StepRecord {
  name: string;
  version: string;
  status: StepStatus;
  /** The cache key: digest of step name, version and input digests. */
  inputDigest?: string;
  /** The digest of each declared input file and value. */
  inputs?: { files: Record<string, string>; values: Record<string, string> };
  outputs?: Record<string, OutputRecord>;
  /** The JSON value the step returned. */
  result?: unknown;
  /** For skipped-cached: the run whose execution produced the outputs. */
  cachedFrom?: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  error?: RecordedError;
}

/** The record of a run (runs/<id>/run.json). */
export interface RunRecord {
  schema: 'drivegate.run/v1';
  id: string;
  workflow: string;
  args: unknown;
  status: RunStatus;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  durationMs?: number;
  /** The process running (or that last ran) this run. */
  pid: number;
  host: string;
  /** When the run was resumed, each time. */
  resumedAt?: string[];
  steps: StepRecord[];
  error?: RecordedError & { step: string };
}

const RUN_ID = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/** A new run id: UTC time to the second plus 6 random hex digits, e.g. 20261127T091500Z-3fa9c2. */
export function newRunId(now: Date = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Checks a run id (so that it can never name a path outside the runs folder). */
export function validateRunId(id: string): string {
  if (!RUN_ID.test(id)) {
    throw badInput('invalid run id', {
      field: 'run',
      expected: 'an id like 20261127T091500Z-3fa9c2',
      found: JSON.stringify(id),
    });
  }
  return id;
}

/** The folder of a run. */
export function runDir(runsDir: string, id: string): string {
  return join(runsDir, validateRunId(id));
}

/** Writes a run record atomically (updating updatedAt). */
export async function writeRunRecord(runsDir: string, record: RunRecord): Promise<void> {
  record.updatedAt = new Date().toISOString();
  await atomicWriteFile(join(runDir(runsDir, record.id), 'run.json'), JSON.stringify(record, null, 2) + '\n');
}

/** Reads a run record; NOT_FOUND when there is no such run. */
export async function readRunRecord(runsDir: string, id: string): Promise<RunRecord> {
  const file = join(runDir(runsDir, id), 'run.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DrivegateError('NOT_FOUND', `no run ${id}`, { file, cause: err });
    }
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw badInput('run record is not JSON', { file, cause: err });
  }
  const rec = value as Partial<RunRecord> | null;
  if (
    rec === null ||
    typeof rec !== 'object' ||
    rec.schema !== 'drivegate.run/v1' ||
    !Array.isArray(rec.steps)
  ) {
    throw badInput('not a run record', { file, field: 'schema', expected: 'drivegate.run/v1' });
  }
  return rec as RunRecord;
}

/** True when the record says running but its process (on this host) is gone. */
export function isInterrupted(record: RunRecord): boolean {
  return record.status === 'running' && isProcessGone(record.host, record.pid);
}

/** One line of a run listing. */
export interface RunSummary {
  id: string;
  workflow: string;
  status: RunStatus | 'interrupted';
  createdAt: string;
  durationMs?: number;
  steps: { total: number; succeeded: number; cached: number; failed: number };
}

/** Summarizes a record for listings. */
export function summarizeRun(record: RunRecord): RunSummary {
  const count = (s: StepStatus): number => record.steps.filter((x) => x.status === s).length;
  return {
    id: record.id,
    workflow: record.workflow,
    status: isInterrupted(record) ? 'interrupted' : record.status,
    createdAt: record.createdAt,
    ...(record.durationMs !== undefined ? { durationMs: record.durationMs } : {}),
    steps: {
      total: record.steps.length,
      succeeded: count('succeeded'),
      cached: count('skipped-cached'),
      failed: count('failed'),
    },
  };
}

/** Every run in the runs folder, newest first (by start time; unreadable records are skipped). */
export async function listRuns(runsDir: string): Promise<RunSummary[]> {
  let names: string[];
  try {
    names = await readdir(runsDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: RunSummary[] = [];
  for (const name of names.filter((n) => RUN_ID.test(n))) {
    try {
      out.push(summarizeRun(await readRunRecord(runsDir, name)));
    } catch {
      // a run folder without a readable record (being created, or damaged) is not listed
    }
  }
  // Ids order runs to the second; createdAt (milliseconds) orders runs started within one second.
  const key = (r: RunSummary): string => `${r.createdAt} ${r.id}`;
  return out.sort((a, b) => (key(a) < key(b) ? 1 : key(a) > key(b) ? -1 : 0));
}
