/**
 * SessionPool: N worker threads, each holding its own onnxruntime session on the same model, with a
 * FIFO queue of requests. onnxruntime-node's session.run() blocks the calling thread for the whole
 * inference, so servers and evaluation run models here to keep the event loop responsive; tensors
 * travel to and from the workers as transferred buffers (no copies).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DrivegateError } from '../core/errors.js';
import type { ModelIO } from './ort.js';
import {
  monoMs,
  transferList,
  type PoolReply,
  type PoolRequest,
  type PoolWorkerData,
  type RunTiming,
} from './protocol.js';
import type { Runner } from './session.js';
import type { TensorMap } from './tensor.js';

/** Options of a SessionPool. */
export interface PoolOptions {
  /** Worker threads (default 2). */
  workers?: number;
  /**
   * onnxruntime intra-op threads per worker (default: the core count divided by the workers, at
   * least 1, so that the workers together do not oversubscribe the cores).
   */
  intraOpThreads?: number;
  /** onnxruntime's intra-op spinning in each worker (see SessionOptions.allowSpinning; default: onnxruntime's). */
  allowSpinning?: boolean;
  /** Further onnxruntime session config entries in each worker (see SessionOptions.sessionConfig). */
  sessionConfig?: Record<string, string>;
}

interface Job {
  id: number;
  feeds: TensorMap;
  outputNames: string[] | undefined;
  dispatched: number;
  resolve: (r: { outputs: TensorMap; timing: RunTiming }) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

/**
 * How to start a worker module (default: this pool's worker): the compiled .js module as is, or, when
 * it is TypeScript running under tsx, a small bootstrap that registers tsx's loader inside the worker
 * and imports the .ts module (`execArgv: ['--import', 'tsx']` does not load .ts in Node 20 workers).
 * `moduleUrl` is the worker module's file URL, e.g. `new URL('./worker.js', import.meta.url)` with the
 * caller's own extension.
 */
export function workerEntry(moduleUrl?: string): { script: URL | string; eval: boolean } {
  const here = import.meta.url;
  const target = moduleUrl ?? new URL(here.endsWith('.ts') ? './worker.ts' : './worker.js', here).href;
  if (target.endsWith('.ts')) {
    const tsxApi = import.meta.resolve('tsx/esm/api');
    const code = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); });`;
    return { script: code, eval: true };
  }
  return { script: new URL(target), eval: false };
}

/** A pool of worker threads running one model. */
export class SessionPool implements Runner {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  private constructor(
    readonly modelPath: string,
    readonly io: ModelIO,
    private readonly workerData: PoolWorkerData,
  ) {}

  /**
   * Starts the workers and waits until each has opened the model. A missing or corrupt model is
   * BAD_INPUT naming it (and no worker is left running).
   */
  static async open(modelPath: string, options: PoolOptions = {}): Promise<SessionPool> {
    const n = Math.max(1, Math.floor(options.workers ?? 2));
    const intra = options.intraOpThreads ?? Math.max(1, Math.floor(availableParallelism() / n));
    const data: PoolWorkerData = {
      modelPath,
      intraOpThreads: intra,
      ...(options.allowSpinning !== undefined ? { allowSpinning: options.allowSpinning } : {}),
      ...(options.sessionConfig !== undefined ? { sessionConfig: { ...options.sessionConfig } } : {}),
    };
    const started = await Promise.allSettled(Array.from({ length: n }, () => startWorker(data)));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(
        started.map((r) => (r.status === 'fulfilled' ? r.value.worker.terminate() : undefined)),
      );
      throw (failed as PromiseRejectedResult).reason;
    }
    const ok = started as Array<PromiseFulfilledResult<{ worker: Worker; io: ModelIO }>>;
    const pool = new SessionPool(modelPath, ok[0]!.value.io, data);
    for (const r of ok) pool.attach(r.value.worker);
    return pool;
  }

  /** Worker threads in the pool. */
  get size(): number {
    return this.slots.length;
  }

  /** Requests waiting for a free worker. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Runs the model on a free worker (queued until one is free). The feeds' buffers are transferred
   * to the worker and are detached here afterwards.
   */
  run(feeds: TensorMap, outputNames?: readonly string[]): Promise<TensorMap> {
    return this.runTimed(feeds, outputNames).then((r) => r.outputs);
  }

  /** run(), also giving where the time went (stamps on the process-wide monotonic clock). */
  runTimed(
    feeds: TensorMap,
    outputNames?: readonly string[],
  ): Promise<{ outputs: TensorMap; timing: RunTiming }> {
    if (this.closed) return Promise.reject(new DrivegateError('UNAVAILABLE', 'the session pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({
        id: this.nextId++,
        feeds: ownBuffers(feeds),
        outputNames: outputNames !== undefined ? [...outputNames] : undefined,
        dispatched: 0,
        resolve,
        reject,
      });
      this.dispatch();
    });
  }

  /**
   * Stops the workers; queued and running requests are rejected as UNAVAILABLE at once. Resolves when
   * every worker has exited: a worker finishes the inference it is in first (ending a thread inside
   * onnxruntime's run would abort the process).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new DrivegateError('UNAVAILABLE', 'the session pool was closed');
    for (const job of this.queue.splice(0)) job.reject(err);
    await Promise.all(
      this.slots.splice(0).map(async (slot) => {
        slot.job?.reject(err);
        slot.job = undefined;
        const exited = new Promise<void>((resolve) => slot.worker.once('exit', () => resolve()));
        const msg: PoolRequest = { type: 'close' };
        slot.worker.postMessage(msg);
        await exited;
      }),
    );
  }

  private attach(worker: Worker): void {
    const slot: Slot = { worker, job: undefined };
    this.slots.push(slot);
    worker.on('message', (msg: PoolReply) => {
      const job = slot.job;
      if (job === undefined || (msg.type !== 'result' && msg.type !== 'error') || msg.id !== job.id) return;
      slot.job = undefined;
      if (msg.type === 'result') {
        const [received, runStart, runEnd, posted] = msg.timing;
        const returned = monoMs();
        job.resolve({
          outputs: msg.outputs,
          timing: { dispatched: job.dispatched, received, runStart, runEnd, posted, returned },
        });
      } else job.reject(new DrivegateError(msg.code, msg.message));
      this.dispatch();
    });
    const onDeath = (why: string): void => {
      if (this.closed) return;
      const i = this.slots.indexOf(slot);
      if (i < 0) return;
      this.slots.splice(i, 1);
      slot.job?.reject(new DrivegateError('INTERNAL', `an inference worker died: ${why}`));
      slot.job = undefined;
      // Replace the worker; if it cannot start and none is left, fail what is queued.
      startWorker(this.workerData).then(
        (w) => {
          if (this.closed) void w.worker.terminate();
          else {
            this.attach(w.worker);
            this.dispatch();
          }
        },
        (err: unknown) => {
          if (this.slots.length === 0) {
            const e = err instanceof Error ? err : new Error(String(err));
            for (const job of this.queue.splice(0)) job.reject(e);
          }
        },
      );
    };
    worker.on('error', (err) => onDeath(err.message));
    worker.on('exit', (code) => onDeath(`exit code ${code}`));
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.job !== undefined) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      const msg: PoolRequest = {
        type: 'run',
        id: job.id,
        feeds: job.feeds,
        ...(job.outputNames !== undefined ? { outputNames: job.outputNames } : {}),
      };
      job.dispatched = monoMs();
      slot.worker.postMessage(msg, transferList(job.feeds));
    }
  }
}

/** Feeds whose typed arrays each own their whole ArrayBuffer (views are copied), so they can be transferred. */
function ownBuffers(feeds: TensorMap): TensorMap {
  const out: TensorMap = {};
  for (const [name, t] of Object.entries(feeds)) {
    const whole =
      t.data.buffer instanceof ArrayBuffer &&
      t.data.byteOffset === 0 &&
      t.data.byteLength === t.data.buffer.byteLength;
    out[name] = whole ? t : { ...t, data: t.data.slice() };
  }
  return out;
}

function startWorker(data: PoolWorkerData): Promise<{ worker: Worker; io: ModelIO }> {
  const entry = workerEntry();
  const worker = new Worker(entry.script, { workerData: data, eval: entry.eval });
  return new Promise((resolve, reject) => {
    // Only our own listeners are removed: Worker keeps internal 'newListener' hooks that must stay.
    const detach = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const fail = (err: Error): void => {
      detach();
      void worker.terminate();
      reject(err);
    };
    const onMessage = (msg: PoolReply): void => {
      detach();
      if (msg.type === 'ready') resolve({ worker, io: msg.io });
      else if (msg.type === 'error') fail(new DrivegateError(msg.code, msg.message));
      else fail(new DrivegateError('INTERNAL', 'an inference worker answered before it was ready'));
    };
    const onError = (err: Error): void =>
      fail(new DrivegateError('INTERNAL', `an inference worker failed: ${err.message}`));
    const onExit = (code: number): void =>
      fail(new DrivegateError('INTERNAL', `an inference worker exited while starting (code ${code})`));
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
