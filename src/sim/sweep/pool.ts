/**
 * The sweep's worker pool: K worker threads, each running `simulateRun` of the engine with its own
 * model sessions (one intra-op thread each, so K workers use K cores) and its own caches of static
 * assets (parsed scenario variants, sent once per worker; the engine's model sessions). Jobs are
 * handed out in order to whichever worker is free; results come back as they finish.
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

interface Slot {
  worker: Worker;
  sent: Set<string>;
  busy: { id: number; resolve: (r: RunResult) => void; reject: (e: Error) => void } | null;
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
        const slot: Slot = { worker, sent: new Set(), busy: null };
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
      slot.busy = { id, resolve, reject };
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

  private acquire(): Promise<Slot> {
    const free = this.slots.find((s) => s.busy === null && !this.reserved.has(s));
    if (free !== undefined) {
      this.reserved.add(free);
      return Promise.resolve(free);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private readonly reserved = new Set<Slot>();

  private release(slot: Slot): void {
    slot.busy = null;
    const next = this.waiting.shift();
    if (next !== undefined) next(slot);
    else this.reserved.delete(slot);
  }

  private onReply(slot: Slot, m: SweepReply): void {
    const busy = slot.busy;
    if (busy === null || m.type === 'ready' || m.id !== busy.id) return;
    this.release(slot);
    if (m.type === 'result') busy.resolve(m.result);
    else busy.reject(toError(m.code, m.message));
  }

  private fail(slot: Slot, err: Error): void {
    this.failure ??= err;
    const busy = slot.busy;
    slot.busy = null;
    busy?.reject(err);
  }
}

function toError(code: string, message: string): DrivegateError {
  const c = (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : 'INTERNAL';
  return new DrivegateError(c, message);
}
