/** Messages between the sweep pool and its worker threads. */
import type { RunOptions, RunResult, ScenarioVariant } from '../types.js';

/** What a worker is started with. */
export interface SweepWorkerData {
  /** onnxruntime intra-op threads of each model session in the worker (1: one core per worker). */
  intraOpThreads: number;
  /** The worker sends the results it has when this many milliseconds passed since its last message. */
  resultBatchMs: number;
}

/** A run to do. `variant` is sent with the first job of that variant to each worker, then cached there. */
export interface SweepJob {
  id: number;
  variantId: string;
  variant?: ScenarioVariant;
  options: RunOptions;
}

/** Main thread -> worker: runs to queue (done in order, one at a time), or close once they are done. */
export type SweepRequest = { type: 'runs'; jobs: SweepJob[] } | { type: 'close' };

/**
 * The outcome of one run: its result as JSON text (`json`: a run without recorded frames; one string
 * crosses threads far cheaper than the object it encodes, and it is the text the checkpoint line
 * holds), the result itself (a run with frames: pixels do not go through JSON), or its error.
 */
export type SweepOutcome =
  | { id: number; json: string }
  | { id: number; result: RunResult }
  | { id: number; error: { code: string; message: string } };

/** Worker -> main thread: ready once started; then the outcomes of finished runs, several per message. */
export type SweepReply = { type: 'ready' } | { type: 'results'; outcomes: SweepOutcome[] };
