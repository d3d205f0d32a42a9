/**
 * Static post-training INT8 quantization of an FP32 ONNX model into QDQ form, with calibration,
 * a comparison of the three calibrators, per-layer sensitivity analysis with FP32 fallback, and a
 * TensorRT calibration cache. Activation statistics come from running onnxruntime on a copy of the
 * model whose activations are graph outputs; deviations are measured by running the QDQ model
 * against the FP32 one. Deterministic: the same model, calibration data and options give
 * byte-identical model and cache bytes (onnxruntime runs single-threaded by default for that).
 * See docs/int8.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type ort from 'onnxruntime-node';
import { DrivegateError, badInput } from '../core/errors.js';
import { openOrtSession, runOrtSession } from '../runtime/ort.js';
import type { TensorMap } from '../runtime/tensor.js';
import {
  CALIBRATORS,
  calibratedAmax,
  emptyStats,
  observe,
  symmetricScale,
  type CalibratorKind,
  type TensorStats,
} from './calibrate.js';
import { decodeModel, type EditableModel } from './graph.js';
import { readOnnxModel } from './proto.js';
import {
  analyzeGraph,
  buildQdqModel,
  exposeTensors,
  type ActivationRange,
  type ActivationType,
  type GraphAnalysis,
} from './quantize-graph.js';
import { DEFAULT_TRT_VERSION, calibrationCacheText, type TrtCalibrationAlgorithm } from './trt-cache.js';

export type { CalibratorKind } from './calibrate.js';
export type { ActivationType } from './quantize-graph.js';

/** Bounds on the int8-vs-FP32 deviation of each output (at least one bound must be given). */
export interface Int8Tolerance {
  /** Largest absolute difference allowed on any element of any output. */
  maxAbs?: number;
  /** Largest mean absolute difference allowed per output. */
  meanAbs?: number;
  /** Per-output bounds; they replace the global ones for that output. */
  outputs?: Record<string, { maxAbs?: number; meanAbs?: number }>;
}

/** Options of `quantizeInt8`. */
export interface QuantizeInt8Options {
  /** The FP32 ONNX model's bytes. */
  model: Uint8Array;
  /** Its path (named in errors). */
  file: string;
  /** Preprocessed input batches (every graph input, float32), in a fixed order. */
  calibration: TensorMap[];
  /** The calibrator whose ranges the model and cache use. */
  calibrator: CalibratorKind;
  /** Percentile of |x| kept by the percentile calibrator (default 99.99). */
  percentile?: number;
  /** Per-output bound for the deviation from FP32, measured on `check` when given, else on `evaluation`. */
  tolerance: Int8Tolerance;
  /** Most layers kept in FP32 by the fallback loop (default 8). */
  maxFallback?: number;
  /**
   * Activation type of the QDQ model. 'uint8' (default): asymmetric uint8 activations, int32 bias,
   * Relu folded into QuantizeLinear, ConvTranspose left FP32 — the form onnxruntime's CPU provider
   * fuses into QLinearConv (fast). 'int8': symmetric int8 with zero point 0 and float bias, the
   * form TensorRT's explicit quantization accepts. Weights are per-channel symmetric int8 in both.
   */
  activationType?: ActivationType;
  /**
   * Batches the deviation is measured on (a held-out set). Default: up to 8 calibration batches,
   * evenly spaced.
   */
  evaluation?: TensorMap[];
  /**
   * Batches the result must be within tolerance on, e.g. every image of the calibration shard, which
   * the packaging equivalence step checks too (a small `evaluation` set can miss the one image where
   * INT8 deviates most). When given: the chosen calibrator's deviation, every fallback trial and the
   * final deviation are measured on `check`, and the layer sensitivity on its worst batches (as many
   * as `evaluation` has) instead of on `evaluation`; the calibrator comparison stays on `evaluation`.
   */
  check?: TensorMap[];
  /**
   * 'always' (default): measure every layer's sensitivity for the report; 'when-needed': only when
   * the fully quantized model is out of tolerance (faster; `sensitivity` is then empty).
   */
  sensitivity?: 'always' | 'when-needed';
  /** The version number in the cache header (default 8601 = TensorRT 8.6.1). */
  trtVersion?: number;
  /** onnxruntime intra-op threads (default 1: bit-reproducible statistics and deviations). */
  threads?: number;
  /** Progress messages (to stderr in the CLI). */
  log?: (message: string) => void;
}

/** Deviation of one output from FP32. */
export interface OutputDeviation {
  maxAbs: number;
  meanAbs: number;
}

/** One layer's sensitivity: the deviation when only this layer is quantized. */
export interface LayerSensitivity {
  node: string;
  op: string;
  deviation: Record<string, OutputDeviation>;
  /** The deviation as a share of the tolerance (the largest ratio over outputs and bounds; ≤ 1 is within). */
  score: number;
}

/** The result of `quantizeInt8`. */
export interface QuantizeInt8Result {
  /** The QDQ model's bytes. */
  model: Buffer;
  /** TensorRT calibration cache text (scales of the chosen calibrator for every activation). */
  calibrationCache: string;
  calibrator: CalibratorKind;
  activationType: ActivationType;
  /** Symmetric scale (amax / 127) per activation tensor, in graph order (what the cache holds). */
  scales: Record<string, number>;
  /** Every calibrator with every quantizable layer quantized (no fallback): deviation per output. */
  comparison: Array<{ calibrator: CalibratorKind; outputs: Record<string, OutputDeviation>; score: number }>;
  /** Layers by decreasing sensitivity (chosen calibrator); empty with sensitivity 'when-needed' and no fallback. */
  sensitivity: LayerSensitivity[];
  /** Layers kept in FP32 (each lowered the deviation when it was put back), in that order. */
  fallback: string[];
  /** Deviation of the returned model per output. */
  deviation: Record<string, OutputDeviation>;
  /** The returned model's deviation as a share of the tolerance. */
  score: number;
  quantizedNodes: number;
  /** Layers that could be quantized. */
  quantizableNodes: number;
  withinTolerance: boolean;
  /** Batches and samples the calibrator comparison (and, without `check`, everything) was measured on. */
  evaluation: { batches: number; samples: number };
  /** Batches and samples of `check` (the final deviation and the fallback trials), or null without one. */
  check: { batches: number; samples: number } | null;
  /** Indices into `check` of the worst batches the sensitivity was measured on; null: on `evaluation`. */
  sensitivityBatches: number[] | null;
}

/** The cache header's algorithm tag for a calibrator (TensorRT has no percentile calibrator). */
export function cacheAlgorithmFor(kind: CalibratorKind): TrtCalibrationAlgorithm {
  return kind === 'minmax' ? 'MinMaxCalibration' : 'EntropyCalibration2';
}

/** A temp folder of model files with one onnxruntime session each, closed together. */
class Sessions {
  private readonly dir = mkdtempSync(join(tmpdir(), 'dg-int8-'));
  private readonly open: ort.InferenceSession[] = [];
  private n = 0;
  constructor(private readonly threads: number) {}

  async load(bytes: Uint8Array): Promise<{ session: ort.InferenceSession; path: string }> {
    const path = join(this.dir, `m${this.n++}.onnx`);
    writeFileSync(path, bytes);
    const session = await openOrtSession(path, { intraOpThreads: this.threads });
    this.open.push(session);
    return { session, path };
  }

  async release(session: ort.InferenceSession): Promise<void> {
    const i = this.open.indexOf(session);
    if (i >= 0) this.open.splice(i, 1);
    await session.release();
  }

  async close(): Promise<void> {
    for (const s of this.open.splice(0)) await s.release();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function checkInputs(opts: QuantizeInt8Options): ReturnType<typeof readOnnxModel> {
  const info = readOnnxModel(opts.model, opts.file);
  const inits = new Set(info.graph.initializers);
  for (const i of info.graph.inputs) {
    if (inits.has(i.name)) continue;
    if (i.elemType !== 1) {
      throw badInput('int8 quantization needs float32 model inputs', {
        file: opts.file,
        field: `graph.input ${i.name}`,
        expected: 'element type float32',
        found: `element type ${i.elemType}`,
      });
    }
  }
  const opset = info.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
  if (opset < 13) {
    throw badInput('per-channel QDQ needs opset 13 or later', {
      file: opts.file,
      field: 'opset_import',
      expected: 'default-domain opset >= 13',
      found: `opset ${opset}`,
    });
  }
  if (opts.calibration.length === 0) {
    throw badInput('the calibration set is empty', {
      file: opts.file,
      field: 'calibration',
      expected: 'at least one batch of preprocessed model inputs',
      found: '0 batches',
    });
  }
  const check = (batches: TensorMap[], what: string): void =>
    batches.forEach((b, k) => {
      for (const i of info.graph.inputs) {
        if (inits.has(i.name)) continue;
        const t = b[i.name];
        if (t === undefined || t.type !== 'float32') {
          throw badInput(`a ${what} batch lacks a float32 model input`, {
            file: opts.file,
            record: `${what}[${k}]`,
            field: i.name,
            expected: `a float32 tensor named ${i.name}`,
            found: t === undefined ? 'no such tensor' : t.type,
          });
        }
      }
    });
  check(opts.calibration, 'calibration');
  check(opts.evaluation ?? [], 'evaluation');
  const t = opts.tolerance;
  const bounds = [
    t.maxAbs,
    t.meanAbs,
    ...Object.values(t.outputs ?? {}).flatMap((o) => [o.maxAbs, o.meanAbs]),
  ];
  if (!bounds.some((b) => b !== undefined) || bounds.some((b) => b !== undefined && !(b >= 0))) {
    throw badInput('the int8 tolerance needs at least one non-negative bound', {
      file: opts.file,
      field: 'tolerance',
      expected: '{maxAbs?, meanAbs?, outputs?} with a bound >= 0',
      found: JSON.stringify(t),
    });
  }
  return info;
}

/** Runs the statistics model over the batches (one pass: min/max and histograms of |x|). */
async function collectStats(
  sessions: Sessions,
  model: EditableModel,
  analysis: GraphAnalysis,
  batches: TensorMap[],
  file: string,
): Promise<Map<string, TensorStats>> {
  const stats = new Map<string, TensorStats>(analysis.activations.map((t) => [t, emptyStats()]));
  const { session, path } = await sessions.load(exposeTensors(model, analysis.activations));
  const inner = analysis.activations.filter((t) => !analysis.graphInputs.includes(t));
  for (const feeds of batches) {
    const out = await runOrtSession(session, path, copyFeeds(feeds), inner);
    for (const t of analysis.activations) {
      const v = analysis.graphInputs.includes(t) ? feeds[t] : out[t];
      if (v === undefined || !(v.data instanceof Float32Array)) {
        throw badInput('an activation to calibrate is not float32', {
          file,
          field: t,
          expected: 'float32',
          found: v === undefined ? 'nothing' : v.type,
        });
      }
      observe(stats.get(t) as TensorStats, v.data);
    }
  }
  await sessions.release(session);
  return stats;
}

function copyFeeds(feeds: TensorMap): TensorMap {
  const out: TensorMap = {};
  for (const [k, v] of Object.entries(feeds)) out[k] = { ...v, dims: [...v.dims] };
  return out;
}

function rangesFor(
  stats: Map<string, TensorStats>,
  kind: CalibratorKind,
  percentile: number,
): Map<string, ActivationRange> {
  const r = new Map<string, ActivationRange>();
  for (const [t, s] of stats) {
    r.set(t, {
      amax: calibratedAmax(s, kind, percentile),
      min: s.min === Infinity ? 0 : s.min,
      max: s.max === -Infinity ? 0 : s.max,
    });
  }
  return r;
}

/** Deviation per output between two sets of run results (max and mean of |a - b| over all elements). */
export function outputDeviation(
  reference: TensorMap[],
  candidate: TensorMap[],
): Record<string, OutputDeviation> {
  const acc = new Map<string, { max: number; sum: number; n: number }>();
  reference.forEach((ref, k) => {
    const cand = candidate[k] as TensorMap;
    for (const [name, r] of Object.entries(ref)) {
      const c = cand[name];
      const a = acc.get(name) ?? { max: 0, sum: 0, n: 0 };
      if (c !== undefined) {
        for (let i = 0; i < r.data.length; i++) {
          const d = Math.abs(Number(r.data[i]) - Number(c.data[i]));
          const dd = Number.isNaN(d) ? Infinity : d;
          if (dd > a.max) a.max = dd;
          a.sum += dd;
        }
        a.n += r.data.length;
      }
      acc.set(name, a);
    }
  });
  const out: Record<string, OutputDeviation> = {};
  for (const [name, a] of acc) out[name] = { maxAbs: a.max, meanAbs: a.n > 0 ? a.sum / a.n : 0 };
  return out;
}

/** The deviation as a share of the tolerance: the largest value / bound over outputs and bounds. */
export function toleranceScore(dev: Record<string, OutputDeviation>, tol: Int8Tolerance): number {
  let score = 0;
  for (const [name, d] of Object.entries(dev)) {
    const own = tol.outputs?.[name];
    const maxAbs = own !== undefined ? own.maxAbs : tol.maxAbs;
    const meanAbs = own !== undefined ? own.meanAbs : tol.meanAbs;
    const ratio = (v: number, b: number | undefined): number =>
      b === undefined ? 0 : b === 0 ? (v === 0 ? 0 : Infinity) : v / b;
    score = Math.max(score, ratio(d.maxAbs, maxAbs), ratio(d.meanAbs, meanAbs));
  }
  return score;
}

/** Samples in `batches` (the first input's leading dimension, summed). */
const samplesOf = (batches: TensorMap[]): number =>
  batches.reduce((a, b) => a + (Object.values(b)[0]?.dims[0] ?? 1), 0);

function evenlySpaced<T>(items: T[], most: number): T[] {
  if (items.length <= most) return items;
  return Array.from({ length: most }, (_, k) => items[Math.floor((k * items.length) / most)] as T);
}

/**
 * Quantizes an FP32 ONNX model to INT8 QDQ (see the module doc and docs/int8.md). BAD_INPUT naming
 * the file for a non-float model input, a model without Conv/MatMul to quantize, opset < 13, an
 * empty calibration set, a batch lacking an input, or a tolerance without bounds.
 */
export async function quantizeInt8(opts: QuantizeInt8Options): Promise<QuantizeInt8Result> {
  checkInputs(opts);
  const log = opts.log ?? ((): void => {});
  const percentile = opts.percentile ?? 99.99;
  if (!(percentile > 0 && percentile <= 100)) {
    throw badInput('the percentile must lie in (0, 100]', {
      file: opts.file,
      field: 'percentile',
      expected: '0 < percentile <= 100',
      found: String(percentile),
    });
  }
  const activationType = opts.activationType ?? 'uint8';
  const model = decodeModel(opts.model, opts.file);
  const analysis = analyzeGraph(model);
  // onnxruntime's CPU provider has no QLinear kernel for ConvTranspose: quantizing it only adds
  // conversions, so the uint8 (onnxruntime) form leaves it in FP32.
  const candidates = analysis.quantizable.filter(
    (q) => activationType === 'int8' || q.opType !== 'ConvTranspose',
  );
  if (candidates.length === 0) {
    throw badInput('the model has nothing int8 quantization can rewrite', {
      file: opts.file,
      field: 'graph.node',
      expected: 'Conv (with a constant weight) or MatMul nodes on float activations',
      found: `ops ${[...new Set(model.graph.nodes.map((n) => n.opType))].join(', ')}`,
    });
  }
  const sessions = new Sessions(opts.threads ?? 1);
  try {
    log(`int8: collecting activation statistics on ${opts.calibration.length} batches`);
    const stats = await collectStats(sessions, model, analysis, opts.calibration, opts.file);
    log(`int8: statistics of ${analysis.activations.length} activations done`);
    const evaluation = opts.evaluation ?? evenlySpaced(opts.calibration, 8);
    const ref = await sessions.load(opts.model);
    const reference: TensorMap[] = [];
    for (const b of evaluation) reference.push(await runOrtSession(ref.session, ref.path, copyFeeds(b)));
    const check = opts.check ?? null;
    const checkReference: TensorMap[] = [];
    for (const b of check ?? [])
      checkReference.push(await runOrtSession(ref.session, ref.path, copyFeeds(b)));
    await sessions.release(ref.session);

    /** The variant's outputs on `batches`, one TensorMap per batch. */
    const outputsOf = async (bytes: Buffer, batches: TensorMap[]): Promise<TensorMap[]> => {
      let s: Awaited<ReturnType<Sessions['load']>>;
      try {
        s = await sessions.load(bytes);
      } catch (err) {
        // The FP32 model loaded, so a QDQ rewrite onnxruntime refuses is a bug here, not bad input.
        throw new DrivegateError('INTERNAL', 'onnxruntime refused the int8 QDQ model', {
          file: opts.file,
          cause: err,
          found: err instanceof Error ? err.message : String(err),
        });
      }
      const got: TensorMap[] = [];
      for (const b of batches) got.push(await runOrtSession(s.session, s.path, copyFeeds(b)));
      await sessions.release(s.session);
      return got;
    };
    const measure = async (bytes: Buffer): Promise<Record<string, OutputDeviation>> =>
      outputDeviation(reference, await outputsOf(bytes, evaluation));
    // Where the result must hold: the check set when given, else the evaluation set.
    const measureFinal = async (bytes: Buffer): Promise<Record<string, OutputDeviation>> =>
      check === null ? measure(bytes) : outputDeviation(checkReference, await outputsOf(bytes, check));
    const build = (ranges: Map<string, ActivationRange>, nodes: Set<string>): Buffer =>
      buildQdqModel(
        model,
        analysis,
        { nodes, ranges, activationType, outputQdq: true, biasInt32: activationType === 'uint8' },
        opts.file,
      );
    const allKeys = new Set(candidates.map((q) => q.key));

    const comparison: QuantizeInt8Result['comparison'] = [];
    const rangesBy = new Map(CALIBRATORS.map((k) => [k, rangesFor(stats, k, percentile)]));
    for (const kind of CALIBRATORS) {
      const dev = await measure(build(rangesBy.get(kind) as Map<string, ActivationRange>, allKeys));
      comparison.push({ calibrator: kind, outputs: dev, score: toleranceScore(dev, opts.tolerance) });
      log(`int8: ${kind}: score ${toleranceScore(dev, opts.tolerance).toFixed(3)} of the tolerance`);
    }
    const ranges = rangesBy.get(opts.calibrator) as Map<string, ActivationRange>;
    // The chosen calibrator with every layer quantized: the fallback loop starts from it.
    const full = build(ranges, allKeys);

    const sensitivity: LayerSensitivity[] = [];
    const chosen = comparison.find((c) => c.calibrator === opts.calibrator);
    let deviation = chosen?.outputs ?? {};
    let score = chosen?.score ?? Infinity;
    // Sensitivity images: the evaluation set, or with a check set its worst batches for the fully
    // quantized model (so the ranking sees the images that break the tolerance).
    let sensIdx = evaluation.map((_, i) => i);
    let sensReference = reference;
    let sensBatches = evaluation;
    if (check !== null) {
      const got = await outputsOf(full, check);
      deviation = outputDeviation(checkReference, got);
      score = toleranceScore(deviation, opts.tolerance);
      const perBatch = got.map((g, i) => ({
        i,
        score: toleranceScore(outputDeviation([checkReference[i] as TensorMap], [g]), opts.tolerance),
      }));
      perBatch.sort((a, b) => b.score - a.score || a.i - b.i);
      sensIdx = perBatch
        .slice(0, Math.max(1, evaluation.length))
        .map((b) => b.i)
        .sort((a, b) => a - b);
      sensReference = sensIdx.map((i) => checkReference[i] as TensorMap);
      sensBatches = sensIdx.map((i) => check[i] as TensorMap);
      log(
        `int8: ${opts.calibrator} on the ${check.length} check batches: score ${score.toFixed(3)} of the tolerance; sensitivity on batches ${sensIdx.join(', ')}`,
      );
    }
    const needSensitivity = (opts.sensitivity ?? 'always') === 'always' || score > 1;
    for (const q of needSensitivity ? candidates : []) {
      const dev = outputDeviation(
        sensReference,
        await outputsOf(build(ranges, new Set([q.key])), sensBatches),
      );
      sensitivity.push({
        node: q.key,
        op: q.opType,
        deviation: dev,
        score: toleranceScore(dev, opts.tolerance),
      });
    }
    if (needSensitivity) log(`int8: sensitivity of ${candidates.length} layers measured`);
    const order = sensitivity.map((s, i) => ({ s, i })).sort((a, b) => b.s.score - a.s.score || a.i - b.i);
    sensitivity.splice(0, sensitivity.length, ...order.map((o) => o.s));

    // Greedy fallback: try the layers from the most sensitive down; keep a layer in FP32 only when
    // that lowers the deviation score; stop once within tolerance or at maxFallback layers.
    const maxFallback = opts.maxFallback ?? 8;
    const fallback: string[] = [];
    let bytes = full;
    for (const next of sensitivity) {
      if (score <= 1 || fallback.length >= maxFallback) break;
      const keep = new Set([...allKeys].filter((k) => k !== next.node && !fallback.includes(k)));
      const trial = build(ranges, keep);
      const dev = await measureFinal(trial);
      const trialScore = toleranceScore(dev, opts.tolerance);
      log(`int8: ${next.node} in FP32: score ${trialScore.toFixed(3)} (was ${score.toFixed(3)})`);
      if (trialScore < score) {
        fallback.push(next.node);
        bytes = trial;
        deviation = dev;
        score = trialScore;
      }
    }

    const scales: Record<string, number> = {};
    for (const t of analysis.activations) scales[t] = symmetricScale((ranges.get(t) as ActivationRange).amax);
    const calibrationCache = calibrationCacheText(scales, {
      version: opts.trtVersion ?? DEFAULT_TRT_VERSION,
      algorithm: cacheAlgorithmFor(opts.calibrator),
    });
    return {
      model: bytes,
      calibrationCache,
      calibrator: opts.calibrator,
      activationType,
      scales,
      comparison,
      sensitivity,
      fallback,
      deviation,
      score,
      quantizedNodes: candidates.length - fallback.length,
      quantizableNodes: candidates.length,
      withinTolerance: score <= 1,
      evaluation: { batches: evaluation.length, samples: samplesOf(evaluation) },
      check: check === null ? null : { batches: check.length, samples: samplesOf(check) },
      sensitivityBatches: check === null ? null : sensIdx,
    };
  } finally {
    await sessions.close();
  }
}
