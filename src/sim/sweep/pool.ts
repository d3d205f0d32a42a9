/**
 * The sweep's worker pool: K worker threads, each running `simulateRun` of the engine with its own
 * model sessions (one intra-op thread each, so K workers use K cores) and its own caches of static
 * assets (parsed scenario variants, sent once per worker; the engine's model sessions). Jobs are
 * handed out in order to whichever worker has room; results come back as they finish. Each worker
 * holds up to POOL_PIPELINE jobs (it runs them one after another), so it never idles waiting for the main
 * thread to hand out the next one: short ground-truth runs take a few milliseconds, comparable to a
 * message round trip when the main thread shares the cores with the workers.
 */
import { Worker } from 'node:worker_threads';
import { DrivegateError, ERROR_CODES } from '../../core/errors.js';
import type { ErrorCode } from '../../core/errors.js';
import { workerEntry } from '../../runtime/pool.js';
import type { RunOptions, RunResult, ScenarioVariant } from '../types.js';
import type { SweepReply, SweepRequest, SweepWorkerData } from './protocol.js';

/** One run for the pool. */
export interface PoolJob {
  variant: ScenarioVariant;
  options: RunOptions;
}

/** Jobs queued in one worker at a time (one running, the next ready). */
export const POOL_PIPELINE = 2;

interface Pending {
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  sent: Set<string>;
  /** Jobs sent to this worker and not answered yet, by request id. */
  pending: Map<number, Pending>;
}

/** The worker module of the pool, with the extension this module runs as (.ts under tsx, .js built). */
function sweepWorkerUrl(): string {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './worker.ts' : './worker.js', here).href;
}

/** A pool of simulation workers. */
export class SimPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Array<(slot: Slot) => void> = [];
  private nextId = 1;
  private failure: Error | null = null;
  private closed = false;

  private constructor() {}

  /** Starts `workers` threads and waits until each is ready. */
  static async open(workers: number): Promise<SimPool> {
    const pool = new SimPool();
    const entry = workerEntry(sweepWorkerUrl());
    const data: SweepWorkerData = { intraOpThreads: 1 };
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
            } else if (m.type === 'error') reject(toError(m.code, m.message));
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
  async run(job: PoolJob): Promise<RunResult> {
    if (this.failure !== null) throw this.failure;
    const slot = await this.acquire();
    this.reserve(slot, -1);
    const id = this.nextId++;
    const first = !slot.sent.has(job.variant.id);
    slot.sent.add(job.variant.id);
    const req: SweepRequest = {
      type: 'run',
      id,
      variantId: job.variant.id,
      ...(first ? { variant: job.variant } : {}),
      options: job.options,
    };
    return new Promise<RunResult>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage(req);
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

  /** Places promised to run() calls between acquire() and their postMessage. */
  private readonly reservations = new Map<Slot, number>();

  private load(slot: Slot): number {
    return slot.pending.size + (this.reservations.get(slot) ?? 0);
  }

  private reserve(slot: Slot, delta: number): void {
    this.reservations.set(slot, (this.reservations.get(slot) ?? 0) + delta);
  }

  /** The worker with the fewest jobs, when it has room (reserved for the caller); else waits for one. */
  private acquire(): Promise<Slot> {
    let best: Slot | undefined;
    for (const s of this.slots) {
      if (this.load(s) < POOL_PIPELINE && (best === undefined || this.load(s) < this.load(best))) best = s;
    }
    if (best !== undefined) {
      this.reserve(best, 1);
      return Promise.resolve(best);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private onReply(slot: Slot, m: SweepReply): void {
    if (m.type === 'ready') return;
    const p = slot.pending.get(m.id);
    if (p === undefined) return;
    slot.pending.delete(m.id);
    const next = this.waiting.shift();
    if (next !== undefined) {
      this.reserve(slot, 1);
      next(slot);
    }
    if (m.type === 'result') p.resolve(m.result);
    else p.reject(toError(m.code, m.message));
  }

  private fail(slot: Slot, err: Error): void {
    this.failure ??= err;
    const pending = [...slot.pending.values()];
    slot.pending.clear();
    for (const p of pending) p.reject(err);
  }
}

function toError(code: string, message: string): DrivegateError {
  const c = (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : 'INTERNAL';
  return new DrivegateError(c, message);
}
