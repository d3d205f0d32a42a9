/**
 * The INT8 step of packaging around the quantizer (src/onnx/quantize.ts): calibration batches from
 * the pre-processed shard, an evaluation subset (evenly spaced shard images), the recipe's options
 * and tolerance, and the report parts (calibrator comparison, sensitivity, fallback) shaped for
 * export_report.json.
 */
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
  calibrator: string;
  activation_type: string;
  calibration: { images: number; batch: number; shard_digest: string };
  evaluation: { images: number; batches: number };
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
      calibrator: result.calibrator,
      activation_type: result.activationType,
      calibration: { images: px.images.length, batch: o.batch, shard_digest: shardDigest },
      evaluation: { images: evalIdx.length, batches: result.evaluation.batches },
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
