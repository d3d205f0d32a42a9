/**
 * The onnxruntime-node edge: opening a session (errors mapped to BAD_INPUT naming the model file),
 * reading its input/output metadata, and running it on plain TensorMaps. Used by the in-process
 * session and by each worker of the pool.
 */
import { existsSync, statSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { DrivegateError, badInput } from '../core/errors.js';
import type { TensorArray, TensorMap, TensorType } from './tensor.js';

/** Metadata of one model input or output. Symbolic dims are strings, unknown dims -1. */
export interface TensorInfo {
  name: string;
  type: string;
  shape: Array<number | string>;
}

/** A model's inputs and outputs. */
export interface ModelIO {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

/** Options of a session. */
export interface SessionOptions {
  /** Threads onnxruntime uses inside one operator (default: onnxruntime's choice, the core count). */
  intraOpThreads?: number;
  /**
   * Whether onnxruntime's intra-op threads busy-wait for work after an operator (onnxruntime's
   * `session.intra_op.allow_spinning`; default: onnxruntime's, on). Spinning lowers the latency of a
   * lone caller but keeps a core busy for a while after every run, which slows whatever else shares the
   * cores (an HTTP event loop, other sessions).
   */
  allowSpinning?: boolean;
  /**
   * Further onnxruntime session config entries, by onnxruntime's own keys (e.g.
   * `session.force_spinning_stop: "1"`: the intra-op threads spin during a run and stop when it
   * returns). `allowSpinning` wins over an `session.intra_op.allow_spinning` entry here.
   */
  sessionConfig?: Record<string, string>;
}

/** Opens an onnxruntime session on a model file; a missing or unparsable model is BAD_INPUT. */
export async function openOrtSession(
  modelPath: string,
  options: SessionOptions = {},
): Promise<ort.InferenceSession> {
  if (!existsSync(modelPath) || !statSync(modelPath).isFile()) {
    throw badInput('the model file does not exist', {
      file: modelPath,
      expected: 'an ONNX model file',
      found: 'nothing',
    });
  }
  try {
    return await ort.InferenceSession.create(modelPath, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      // Errors reach the caller as DrivegateErrors; keep onnxruntime's own log off stderr.
      logSeverityLevel: 4,
      ...(options.intraOpThreads !== undefined ? { intraOpNumThreads: options.intraOpThreads } : {}),
      ...(options.allowSpinning !== undefined || options.sessionConfig !== undefined
        ? {
            // onnxruntime-node adds each (flattened) key of `extra` as a session config entry.
            extra: {
              ...options.sessionConfig,
              ...(options.allowSpinning !== undefined
                ? { 'session.intra_op.allow_spinning': options.allowSpinning ? '1' : '0' }
                : {}),
            },
          }
        : {}),
    });
  } catch (err) {
    throw badInput('cannot load the ONNX model', {
      file: modelPath,
      expected: 'a valid ONNX model that onnxruntime can run on CPU',
      found: err instanceof Error ? err.message : String(err),
    });
  }
}

/** The input/output metadata of a session. */
export function sessionIO(session: ort.InferenceSession): ModelIO {
  const info = (m: ort.InferenceSession.ValueMetadata): TensorInfo =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: [...m.shape] }
      : { name: m.name, type: 'non-tensor', shape: [] };
  return { inputs: session.inputMetadata.map(info), outputs: session.outputMetadata.map(info) };
}

/**
 * Runs a session on plain tensors and returns plain tensors (only `outputNames` when given).
 * onnxruntime's errors (wrong shapes, wrong types) become BAD_INPUT naming the model file.
 * `stamp`, when given, gets process.hrtime stamps (ms) of the run's start and end.
 */
export async function runOrtSession(
  session: ort.InferenceSession,
  modelPath: string,
  feeds: TensorMap,
  outputNames?: readonly string[],
  stamp?: (startMs: number, endMs: number) => void,
): Promise<TensorMap> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims);
  }
  let result: ort.InferenceSession.OnnxValueMapType;
  const start = stamp !== undefined ? Number(process.hrtime.bigint()) / 1e6 : 0;
  try {
    result =
      outputNames !== undefined ? await session.run(ortFeeds, [...outputNames]) : await session.run(ortFeeds);
  } catch (err) {
    throw new DrivegateError('BAD_INPUT', 'the model rejected its input', {
      file: modelPath,
      found: err instanceof Error ? err.message : String(err),
    });
  }
  const out: TensorMap = {};
  for (const [name, v] of Object.entries(result)) {
    const t = v as ort.Tensor;
    out[name] = { type: t.type as TensorType, data: t.data as TensorArray, dims: [...t.dims] };
  }
  stamp?.(start, Number(process.hrtime.bigint()) / 1e6);
  return out;
}
