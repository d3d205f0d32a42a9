/**
 * The sweep checkpoint: an append-only JSON-lines file in the output folder. The first line names
 * the sweep (a digest of everything that decides its results: models, scenario variants, seeds,
 * engine options); each further line is one finished run, counted as done only once it is written and
 * fsynced. Runs that finish together share one write and one fsync (group commit), off the main
 * thread, so many fast workers are not serialized on the disk. A process killed mid-write leaves at most a partial last line, which resume cuts
 * off; every complete line is kept, so a resumed sweep neither redoes nor loses a finished run.
 */
import { promisify } from 'node:util';
import {
  fsync,
  write,
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { digestOf } from '../../core/digest.js';
import { DrivegateError } from '../../core/errors.js';
import type { RunResult } from '../types.js';
import type { RunRole } from './seeds.js';

/** The checkpoint file name inside the output folder. */
export const CHECKPOINT_FILE = 'sim_checkpoint.jsonl';

const SCHEMA = 'drivegate.sim-checkpoint/v1';

/** One finished run as the checkpoint records it (frames are never recorded). */
export interface CheckpointEntry {
  run_id: string;
  role: RunRole;
  /** Seed index k of the variant. */
  k: number;
  result: RunResult;
}

interface Header {
  schema: typeof SCHEMA;
  sweep: string;
  identity: unknown;
  created_at: string;
}

/** An open checkpoint, ready to append finished runs. */
export class Checkpoint {
  private constructor(
    /** The checkpoint file. */
    readonly path: string,
    private fd: number,
    /** The runs finished before this process opened it (resume), by run id. */
    readonly done: ReadonlyMap<string, CheckpointEntry>,
  ) {}

  /**
   * Opens the checkpoint of the sweep `identity` at `path`. Without `resume`, an existing file is a
   * CONFLICT (another sweep's progress would be mixed in); with it, the finished runs are read back
   * (a partial last line is cut off) and the identity must match the recorded one.
   */
  static open(path: string, identity: unknown, resume: boolean): Checkpoint {
    const sweep = digestOf(identity);
    const done = new Map<string, CheckpointEntry>();
    if (existsSync(path)) {
      if (!resume) {
        throw new DrivegateError('CONFLICT', 'the output folder holds the checkpoint of an earlier sweep', {
          file: path,
          expected: 'an output folder without a sweep in it, or --resume to continue that sweep',
          found: 'a checkpoint',
        });
      }
      const text = readFileSync(path, 'utf8');
      const end = text.lastIndexOf('\n') + 1;
      const lines = text
        .slice(0, end)
        .split('\n')
        .filter((l) => l !== '');
      const header = parseLine(lines[0], path, 1) as Partial<Header> | undefined;
      if (header === undefined || header.schema !== SCHEMA) {
        throw new DrivegateError('INTEGRITY', 'not a sweep checkpoint', {
          file: path,
          line: 1,
          expected: `a ${SCHEMA} header`,
          found: header === undefined ? 'an empty file' : JSON.stringify(header.schema ?? null),
        });
      }
      if (header.sweep !== sweep) {
        throw new DrivegateError('CONFLICT', 'the checkpoint belongs to a different sweep', {
          file: path,
          expected: `sweep ${sweep.slice(0, 12)} (${describeIdentity(identity)})`,
          found: `sweep ${String(header.sweep).slice(0, 12)} (${describeIdentity(header.identity)})`,
        });
      }
      for (let i = 1; i < lines.length; i++) {
        const e = parseLine(lines[i], path, i + 1) as CheckpointEntry;
        if (typeof e.run_id !== 'string' || e.result === undefined) {
          throw new DrivegateError('INTEGRITY', 'a checkpoint line is not a finished run', {
            file: path,
            line: i + 1,
            expected: '{run_id, role, k, result}',
          });
        }
        done.set(e.run_id, e);
      }
      const fd = openSync(path, 'r+');
      ftruncateSync(fd, Buffer.byteLength(text.slice(0, end)));
      fsyncSync(fd);
      closeSync(fd);
      return new Checkpoint(path, openSync(path, 'a'), done);
    }
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'a');
    const h: Header = { schema: SCHEMA, sweep, identity, created_at: new Date().toISOString() };
    writeAll(fd, JSON.stringify(h) + '\n');
    fsyncSync(fd);
    return new Checkpoint(path, fd, done);
  }

  private pending: Array<{ line: string; resolve: () => void; reject: (e: unknown) => void }> = [];
  private flushing = false;

  /**
   * Appends one finished run (frames are dropped); resolves once it is on disk (written and fsynced,
   * together with any other runs that finished meanwhile). `resultJson`, when given, is
   * `JSON.stringify(entry.result)` already made (the sweep worker's text): the line is the same
   * bytes without encoding the result again.
   */
  append(entry: CheckpointEntry, resultJson?: string): Promise<void> {
    let line: string;
    if (resultJson !== undefined && entry.result.frames === undefined) {
      line = `{"run_id":${JSON.stringify(entry.run_id)},"role":${JSON.stringify(entry.role)},"k":${JSON.stringify(entry.k)},"result":${resultJson}}\n`;
    } else {
      const { frames: _frames, ...result } = entry.result;
      void _frames;
      line = JSON.stringify({ ...entry, result }) + '\n';
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      if (!this.flushing) {
        // start on the next turn, so the runs finished together (one worker message) share one write and fsync
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        const buf = Buffer.from(batch.map((b) => b.line).join(''));
        let off = 0;
        while (off < buf.length) off += await writeAsync(this.fd, buf, off, buf.length - off);
        await fsyncAsync(this.fd);
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.flushing = false;
  }

  /** Closes the file. */
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

const writeAsync = promisify(
  (
    fd: number,
    buf: Buffer,
    off: number,
    len: number,
    cb: (err: NodeJS.ErrnoException | null, n: number) => void,
  ) => write(fd, buf, off, len, null, cb),
);
const fsyncAsync = promisify(fsync);

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

function parseLine(line: string | undefined, file: string, n: number): unknown {
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line) as unknown;
  } catch (err) {
    throw new DrivegateError('INTEGRITY', 'a checkpoint line is not JSON', {
      file,
      line: n,
      expected: 'one JSON object per line',
      found: (err as Error).message,
    });
  }
}

function describeIdentity(identity: unknown): string {
  if (identity === null || typeof identity !== 'object') return String(identity);
  const o = identity as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of ['candidate', 'baseline', 'seeds', 'variants']) {
    const v = o[key];
    if (v === undefined) continue;
    const text = Array.isArray(v)
      ? `${v.length}`
      : typeof v === 'object' && v !== null
        ? String((v as Record<string, unknown>)['label'] ?? '?')
        : String(v);
    parts.push(`${key} ${text}`);
  }
  return parts.join(', ');
}
