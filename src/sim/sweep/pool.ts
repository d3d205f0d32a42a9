/**
 * The sweep's worker pool: K worker threads, each running `simulateRun` of the engine with its own
 * model sessions (one intra-op thread each, so K workers use K cores) and its own caches of static
 * assets (parsed scenario variants, sent once per worker; the engine's model sessions).
 *
 * Jobs wait in one queue and go out in order, in chunks, to whichever worker has room; outcomes
 * come back several per message. The chunk adapts to the runs' length: about CHUNK_TARGET_MS of
 * work (one job while the length is unknown or runs are long), and each worker holds up to two
 * chunks (one running, the next queued), so it never idles waiting for the main thread. A sweep of
 * millisecond ground-truth runs thus costs the main thread one message per chunk instead of one per
 * run (the messages, not the runs, were what kept 2 workers from scaling), while a sweep of
 * second-long model runs still goes one run at a time.
 */
import { Worker } from 'node:worker_threads';
import { DrivegateError, ERROR_CODES } from '../../core/errors.js';
import type { ErrorCode } from '../../core/errors.js';
import { workerEntry } from '../../runtime/pool.js';
import type { RunOptions, RunResult, ScenarioVariant } from '../types.js';
import type { SweepJob, SweepReply, SweepRequest, SweepWorkerData } from './protocol.js';

/** One run for the pool. */
export interface PoolJob {
  variant: ScenarioVariant;
  options: RunOptions;
}

/** Wall milliseconds of runs a chunk (one message to a worker) aims at. */
export const CHUNK_TARGET_MS = 20;
/** Largest chunk, jobs. */
export const MAX_CHUNK = 256;

interface Item {
  job: PoolJob;
  /** `json`: the result's JSON text as the worker wrote it (absent for a run with frames). */
  resolve: (r: RunResult, json?: string) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  sent: Set<string>;
  /** Jobs sent to this worker and not answered yet, by request id. */
  pending: Map<number, Item>;
}

/** The worker module of the pool, with the extension this module runs as (.ts under tsx, .js built). */
function sweepWorkerUrl(): string {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './worker.ts' : './worker.js', here).href;
}

/** A pool of simulation workers. */
export class SimPool {
  private readonly slots: Slot[] = [];
  /** Jobs not sent yet, in order (from `head`). */
  private queue: Item[] = [];
  private head = 0;
  private nextId = 1;
  private failure: Error | null = null;
  private closed = false;
  /** Mean wall milliseconds per run (exponential average of the workers' reports); NaN until known. */
  private meanRunMs = Number.NaN;
  /** Messages sent to workers (benchmarks and tests). */
  messages = 0;

  private constructor() {}

  /** Starts `workers` threads and waits until each is ready. */
  static async open(workers: number): Promise<SimPool> {
    const pool = new SimPool();
    const entry = workerEntry(sweepWorkerUrl());
    const data: SweepWorkerData = { intraOpThreads: 1, resultBatchMs: CHUNK_TARGET_MS };
    await Promise.all(
      Array.from({ length: Math.max(1, workers) }, async () => {
        const worker = new Worker(entry.script, { eval: entry.eval, workerData: data });
        const slot: Slot = { worker, sent: new Set(), pending: new Map() };
        pool.slots.push(slot);
        await new Promise<void>((resolve, reject) => {
          const onMsg = (m: SweepReply): void => {
            if (m.type === 'ready') {
              worker.off('message', onMsg);
              resolve();
            }
          };
          worker.on('message', onMsg);
          worker.once('error', reject);
        });
        worker.on('message', (m: SweepReply) => pool.onReply(slot, m));
        worker.on('error', (err) => pool.fail(slot, err));
        worker.on('exit', (code) => {
          if (!pool.closed)
            pool.fail(slot, new DrivegateError('INTERNAL', `a simulation worker exited (${code})`));
        });
      }),
    ).catch(async (err: unknown) => {
      await pool.close();
      throw err;
    });
    return pool;
  }

  /** Number of workers. */
  get size(): number {
    return this.slots.length;
  }

  /** Runs one job on the next free worker. */
  run(job: PoolJob): Promise<RunResult> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise<RunResult>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Runs every job; `onResult(i, result, json)` is called as job i finishes (in completion order),
   * with `json` the result's JSON text (`JSON.stringify(result)`; absent for a run with frames). After
   * the first failure no further job of this call starts; the call waits for those in progress
   * and rejects with that failure.
   */
  runMany(
    jobs: readonly PoolJob[],
    onResult: (index: number, result: RunResult, json?: string) => void,
  ): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (jobs.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let remaining = jobs.length;
      let failed: Error | null = null;
      const items: Item[] = [];
      const settle = (): void => {
        if (--remaining === 0) {
          if (failed !== null) reject(failed);
          else resolve();
        }
      };
      jobs.forEach((job, i) => {
        const item: Item = {
          job,
          resolve: (r, json) => {
            if (failed === null) onResult(i, r, json);
            settle();
          },
          reject: (e) => {
            if (failed === null) {
              failed = e;
              // withdraw this call's jobs that were not sent yet
              const mine = new Set(items);
              const rest = this.queue.slice(this.head);
              this.queue = rest.filter((it) => !mine.has(it));
              this.head = 0;
              remaining -= rest.length - this.queue.length;
            }
            settle();
          },
        };
        items.push(item);
        this.queue.push(item);
      });
      this.dispatch();
    });
  }

  /** Stops the workers (waiting for runs in progress to end). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.worker.once('exit', () => resolve());
            const close: SweepRequest = { type: 'close' };
            s.worker.postMessage(close);
            // A worker that does not answer within 10 s is terminated.
            setTimeout(() => void s.worker.terminate(), 10_000).unref();
          }),
      ),
    );
  }

  /** Jobs per message now: about CHUNK_TARGET_MS of runs, shared fairly over the workers near the end. */
  private chunkSize(): number {
    if (!(this.meanRunMs > 0)) return 1;
    const left = this.queue.length - this.head;
    const byTime = Math.floor(CHUNK_TARGET_MS / this.meanRunMs);
    const fair = Math.ceil(left / (2 * this.slots.length));
    return Math.max(1, Math.min(MAX_CHUNK, byTime, fair));
  }

  /** Sends queued jobs to workers with room (each holds up to two chunks). */
  private dispatch(): void {
    if (this.failure !== null) return;
    for (;;) {
      if (this.head >= this.queue.length) {
        this.queue = [];
        this.head = 0;
        return;
      }
      const chunk = this.chunkSize();
      // room: a chunk running and the next waiting; long runs (a chunk of one) go one more at a time
      const cap = 2 * chunk;
      let best: Slot | undefined;
      for (const s of this.slots) {
        if (s.pending.size + chunk <= cap && (best === undefined || s.pending.size < best.pending.size))
          best = s;
      }
      if (best === undefined) return;
      const jobs: SweepJob[] = [];
      const n = Math.min(chunk, this.queue.length - this.head);
      for (let k = 0; k < n; k++) {
        const item = this.queue[this.head++]!;
        const id = this.nextId++;
        const v = item.job.variant;
        const first = !best.sent.has(v.id);
        best.sent.add(v.id);
        jobs.push({ id, variantId: v.id, ...(first ? { variant: v } : {}), options: item.job.options });
        best.pending.set(id, item);
      }
      const req: SweepRequest = { type: 'runs', jobs };
      this.messages++;
      best.worker.postMessage(req);
    }
  }

  private onReply(slot: Slot, m: SweepReply): void {
    if (m.type === 'ready') return;
    const done: Array<[Item, RunResult, string | undefined]> = [];
    const failed: Array<[Item, Error]> = [];
    for (const o of m.outcomes) {
      const item = slot.pending.get(o.id);
      if (item === undefined) continue;
      slot.pending.delete(o.id);
      if ('error' in o) {
        failed.push([item, toError(o.error.code, o.error.message)]);
        continue;
      }
      const json = 'json' in o ? o.json : undefined;
      const result =
        json !== undefined ? (JSON.parse(json) as RunResult) : (o as { result: RunResult }).result;
      const ms = result.wallS * 1000;
      this.meanRunMs = Number.isNaN(this.meanRunMs) ? ms : 0.8 * this.meanRunMs + 0.2 * ms;
      done.push([item, result, json]);
    }
    // refill first, so the worker has its next chunk while the results are handled here
    this.dispatch();
    for (const [item, r, json] of done) item.resolve(r, json);
    for (const [item, e] of failed) item.reject(e);
  }

  private fail(slot: Slot, err: Error): void {
    this.failure ??= err;
    const pending = [...slot.pending.values()];
    slot.pending.clear();
    for (const p of pending) p.reject(err);
    const waiting = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    for (const p of waiting) p.reject(err);
  }
}

function toError(code: string, message: string): DrivegateError {
  const c = (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : 'INTERNAL';
  return new DrivegateError(c, message);
}
