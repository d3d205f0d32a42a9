/**
 * The INT8 step of packaging around the quantizer (src/onnx/quantize.ts): calibration batches from
 * the pre-processed shard, an evaluation subset (evenly spaced shard images), the recipe's options
 * and tolerance, and the report parts (calibrator comparison, sensitivity, fallback) shaped for
 * export_report.json.
 */
import { readFile } from 'node:fs/promises';
import { sha256 } from '../core/digest.js';
import { DrivegateError, badInput } from '../core/errors.js';
import { readOnnxModel } from '../onnx/proto.js';
import type { OnnxModelInfo, OnnxValueInfo } from '../onnx/proto.js';
import { quantizeInt8 } from '../onnx/quantize.js';
import type { Int8Tolerance, QuantizeInt8Result } from '../onnx/quantize.js';
import type { TensorMap } from '../runtime/tensor.js';
import type { Recipe } from './recipe.js';
import { DEFAULT_TOLERANCES } from './recipe.js';
import type { ShardTensors } from './shard.js';

/** Batches of the given shard images (by index) as runtime TensorMaps. */
export function shardBatches(
  px: ShardTensors,
  inputName: string,
  indices: readonly number[],
  batch: number,
): TensorMap[] {
  const per = px.dims[0] * px.dims[1] * px.dims[2];
  const out: TensorMap[] = [];
  for (let i = 0; i < indices.length; i += batch) {
    const chunk = indices.slice(i, i + batch);
    const data = new Float32Array(per * chunk.length);
    chunk.forEach((j, k) => data.set(px.images[j] as Float32Array, k * per));
    out.push({ [inputName]: { type: 'float32', data, dims: [chunk.length, ...px.dims] } });
  }
  return out;
}

/** `n` evenly spaced indices of `0..total-1` (all of them when n >= total). */
export function evenlySpaced(total: number, n: number): number[] {
  if (n >= total) return Array.from({ length: total }, (_, i) => i);
  return Array.from({ length: n }, (_, i) => Math.floor((i * total) / n));
}

/** The quantizer's tolerance from the recipe's `tolerances.int8.max_abs` (one number, or per head). */
export function int8Tolerance(recipe: Recipe): Int8Tolerance {
  const m = recipe.tolerances.int8?.max_abs ?? DEFAULT_TOLERANCES.int8.max_abs;
  if (typeof m === 'number') return { maxAbs: m };
  const outputs: NonNullable<Int8Tolerance['outputs']> = {};
  for (const [head, v] of Object.entries(m)) if (head !== '*') outputs[head] = { maxAbs: v };
  return { ...(m['*'] !== undefined ? { maxAbs: m['*'] } : {}), outputs };
}

/** What the INT8 step records in export_report.json (the model and cache go to files). */
export interface Int8Report {
  status: 'built';
  /** Post-training quantization by drivegate (a QAT model gives a QatReport instead). */
  source: 'ptq';
  calibrator: string;
  activation_type: string;
  calibration: { images: number; batch: number; shard_digest: string };
  evaluation: { images: number; batches: number };
  /** The whole shard: tolerance checked, fallback decided; sensitivity on its worst batches (indices). */
  check: { images: number; batches: number; sensitivity_batches: number[] };
  tolerance: Int8Tolerance;
  comparison: QuantizeInt8Result['comparison'];
  sensitivity: QuantizeInt8Result['sensitivity'];
  fallback: string[];
  deviation: QuantizeInt8Result['deviation'];
  score: number;
  within_tolerance: boolean;
  quantized_nodes: number;
  quantizable_nodes: number;
  seconds: number;
}

/** Quantizes `model` with the shard (see the module doc). Returns the quantizer's result and the report. */
export async function buildInt8(
  model: Uint8Array,
  file: string,
  px: ShardTensors,
  inputName: string,
  recipe: Recipe,
  shardDigest: string,
  log?: (m: string) => void,
): Promise<{ result: QuantizeInt8Result; report: Int8Report }> {
  const o = recipe.int8;
  const t0 = performance.now();
  const all = px.images.map((_, i) => i);
  const evalIdx = evenlySpaced(px.images.length, o.evaluation_images);
  const tolerance = int8Tolerance(recipe);
  const result = await quantizeInt8({
    model,
    file,
    calibration: shardBatches(px, inputName, all, o.batch),
    evaluation: shardBatches(px, inputName, evalIdx, 8),
    // The whole shard: the equivalence step checks every shard image against the same bounds.
    check: shardBatches(px, inputName, all, 8),
    calibrator: o.calibrator,
    percentile: o.percentile,
    maxFallback: o.max_fallback,
    activationType: o.activation_type,
    tolerance,
    ...(log !== undefined ? { log } : {}),
  });
  return {
    result,
    report: {
      status: 'built',
      source: 'ptq',
      calibrator: result.calibrator,
      activation_type: result.activationType,
      calibration: { images: px.images.length, batch: o.batch, shard_digest: shardDigest },
      evaluation: { images: evalIdx.length, batches: result.evaluation.batches },
      check: {
        images: result.check?.samples ?? 0,
        batches: result.check?.batches ?? 0,
        sensitivity_batches: result.sensitivityBatches ?? [],
      },
      tolerance,
      comparison: result.comparison,
      sensitivity: result.sensitivity,
      fallback: result.fallback,
      deviation: result.deviation,
      score: result.score,
      within_tolerance: result.withinTolerance,
      quantized_nodes: result.quantizedNodes,
      quantizable_nodes: result.quantizableNodes,
      seconds: (performance.now() - t0) / 1000,
    },
  };
}

/** The recipe field naming a QAT model. */
export const QAT_FIELD = 'int8.qat_model';

/** What verifyQatModel found: the QDQ node counts and the file's digest. */
export interface QatCheck {
  path: string;
  sha256: string;
  quantize_linear: number;
  dequantize_linear: number;
}

const ioKey = (v: OnnxValueInfo): string => `${v.name}:${v.elemType}`;

/**
 * Checks a QAT export given as `int8.qat_model` (absolute `path`) before a run: it loads as ONNX,
 * has QuantizeLinear and DequantizeLinear nodes, and has the FP32 model's graph inputs and outputs
 * (same names and element types, in order). Anything else is BAD_INPUT naming the recipe field.
 */
export async function verifyQatModel(
  path: string,
  fp32: OnnxModelInfo,
  recipeFile: string,
): Promise<QatCheck> {
  const fail = (message: string, expected: string, found: string): DrivegateError =>
    badInput(`${QAT_FIELD}: ${message}`, { file: recipeFile, field: QAT_FIELD, expected, found });
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw fail(
      `cannot read the QAT model ${path}`,
      'a QDQ ONNX file (relative to the recipe)',
      String((err as NodeJS.ErrnoException).code ?? err),
    );
  }
  let model: OnnxModelInfo;
  try {
    model = readOnnxModel(bytes, path);
  } catch (err) {
    if (!(err instanceof DrivegateError)) throw err;
    throw fail(`the QAT model ${path} is not a readable ONNX model`, 'a QDQ ONNX file', err.message);
  }
  const count = (op: string): number =>
    model.graph.nodes.filter((n) => n.opType === op && (n.domain === '' || n.domain === 'ai.onnx')).length;
  const q = count('QuantizeLinear');
  const dq = count('DequantizeLinear');
  if (q === 0 || dq === 0) {
    throw fail(
      `the QAT model ${path} is not in QDQ format`,
      'QuantizeLinear and DequantizeLinear nodes',
      `${q} QuantizeLinear, ${dq} DequantizeLinear`,
    );
  }
  for (const side of ['inputs', 'outputs'] as const) {
    const want = fp32.graph[side].map(ioKey).join(', ');
    const got = model.graph[side].map(ioKey).join(', ');
    if (want !== got) {
      throw fail(
        `the QAT model's graph ${side} differ from the FP32 model's`,
        `${side} (name:elem_type) ${want}`,
        got,
      );
    }
  }
  return { path, sha256: `sha256:${sha256(bytes)}`, quantize_linear: q, dequantize_linear: dq };
}

/** What the INT8 step records for a QAT model (used as the INT8 variant as is). */
export interface QatReport extends QatCheck {
  status: 'built';
  source: 'qat';
  file: 'model.int8.onnx';
  calibration_cache: null;
  note: string;
}

/** The report of the INT8 step when the recipe gives a QAT model. */
export function qatReport(check: QatCheck): QatReport {
  return {
    status: 'built',
    source: 'qat',
    ...check,
    file: 'model.int8.onnx',
    calibration_cache: null,
    note:
      'the QAT model (int8.qat_model) is the INT8 variant as given: no post-training quantization ran, ' +
      'and no calibration.cache was derived (its QDQ scales are in the model; TensorRT builds it with ' +
      'explicit quantization: trtexec --onnx=model.int8.onnx --int8 --fp16)',
  };
}
