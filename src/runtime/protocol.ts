/** Messages between SessionPool and its worker threads. */
import type { ErrorCode } from '../core/errors.js';
import type { ModelIO } from './ort.js';
import type { TensorMap } from './tensor.js';

/** What a pool worker is started with. */
export interface PoolWorkerData {
  modelPath: string;
  intraOpThreads?: number;
  /** onnxruntime's session.intra_op.allow_spinning (undefined: onnxruntime's default). */
  allowSpinning?: boolean;
  /** Further onnxruntime session config entries (see SessionOptions.sessionConfig). */
  sessionConfig?: Record<string, string>;
}

/** Main thread to worker. */
export type PoolRequest =
  { type: 'run'; id: number; feeds: TensorMap; outputNames?: string[] } | { type: 'close' };

/**
 * Milliseconds on the process-wide monotonic clock (process.hrtime), the same in every thread, so
 * that stamps taken in a worker and in the main thread can be subtracted (performance.now() is
 * relative to each thread's own start).
 */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Where one pool run's time went, as monoMs() stamps. */
export interface RunTiming {
  /** The main thread posted the request to the worker. */
  dispatched: number;
  /** The worker received it. */
  received: number;
  /** onnxruntime's run was called (after the feeds became onnxruntime tensors). */
  runStart: number;
  /** onnxruntime's run returned (outputs as plain tensors). */
  runEnd: number;
  /** The worker posted the outputs. */
  posted: number;
  /** The main thread received them. */
  returned: number;
}

/** Worker to main thread; an error with id -1 means the session could not be opened. */
export type PoolReply =
  | { type: 'ready'; io: ModelIO }
  | {
      type: 'result';
      id: number;
      outputs: TensorMap;
      /** The worker's stamps of the run (received, runStart, runEnd, posted). */
      timing: [number, number, number, number];
    }
  | { type: 'error'; id: number; code: ErrorCode; message: string };

/** The distinct ArrayBuffers behind a TensorMap's tensors (for postMessage's transfer list). */
export function transferList(tensors: TensorMap): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of Object.values(tensors)) {
    const buf = t.data.buffer;
    if (buf instanceof ArrayBuffer) seen.add(buf);
  }
  return [...seen];
}
