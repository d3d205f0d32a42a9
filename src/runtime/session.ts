/**
 * Runners: something that runs a model on named tensors. `LocalSession` runs onnxruntime in this
 * thread (simple, but `run` blocks the event loop for the whole inference); `SessionPool` (pool.ts)
 * runs it in worker threads. Both implement `Runner`.
 */
import type ort from 'onnxruntime-node';
import { openOrtSession, runOrtSession, sessionIO, type ModelIO, type SessionOptions } from './ort.js';
import type { TensorMap } from './tensor.js';

/** Runs a model on named input tensors. */
export interface Runner {
  /** The model file. */
  readonly modelPath: string;
  /** The model's inputs and outputs. */
  readonly io: ModelIO;
  /**
   * Runs the model. The feeds' buffers may be transferred to another thread (detached here), so
   * callers must not reuse them.
   */
  run(feeds: TensorMap, outputNames?: readonly string[]): Promise<TensorMap>;
  /** Releases the session(s). */
  close(): Promise<void>;
}

/** An onnxruntime session in the calling thread. */
export class LocalSession implements Runner {
  private constructor(
    readonly modelPath: string,
    private readonly session: ort.InferenceSession,
    readonly io: ModelIO,
  ) {}

  /** Opens a model file; a missing or corrupt model is BAD_INPUT naming it. */
  static async open(modelPath: string, options: SessionOptions = {}): Promise<LocalSession> {
    const session = await openOrtSession(modelPath, options);
    return new LocalSession(modelPath, session, sessionIO(session));
  }

  /** Runs the model in this thread (blocks the event loop while onnxruntime computes). */
  run(feeds: TensorMap, outputNames?: readonly string[]): Promise<TensorMap> {
    return runOrtSession(this.session, this.modelPath, feeds, outputNames);
  }

  /** Releases the session. */
  async close(): Promise<void> {
    await this.session.release();
  }
}
