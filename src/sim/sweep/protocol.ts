/** Messages between the sweep pool and its worker threads. */
import type { RunOptions, RunResult, ScenarioVariant } from '../types.js';

/** What a worker is started with. */
export interface SweepWorkerData {
  /** onnxruntime intra-op threads of each model session in the worker (1: one core per worker). */
  intraOpThreads: number;
}

/** A run to do. `variant` is sent with the first job of that variant to each worker, then cached there. */
export interface SweepRunRequest {
  type: 'run';
  id: number;
  variantId: string;
  variant?: ScenarioVariant;
  options: RunOptions;
}

/** Main thread -> worker. */
export type SweepRequest = SweepRunRequest | { type: 'close' };

/** Worker -> main thread. */
export type SweepReply =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: RunResult }
  | { type: 'error'; id: number; code: string; message: string };
