/**
 * Equivalence of a pack's variants (fp16, fp16-emulated, int8, ...) against the FP32 reference: the
 * same seeded randomized inputs and the same real shard images go through the reference once and
 * through every variant; per output head the max/mean absolute and relative error, and on the real
 * images detection-level drift after the runtime's decoder (box IoU drift, score drift, recall of
 * the reference's boxes). The statistics (`HeadStats`, `matchDetections`, `checkVariant`) are pure;
 * `compareVariants` runs onnxruntime.
 */
import { mulberry32 } from '../core/random.js';
import { DrivegateError, badInput } from '../core/errors.js';
import type { InferenceConfig } from '../runtime/config.js';
import { decodeDetections, iou } from '../runtime/decode.js';
import type { Detection } from '../runtime/decode.js';
import { LocalSession } from '../runtime/session.js';
import type { TensorMap } from '../runtime/tensor.js';
import type { ShardTensors } from './shard.js';
import { randomBatch } from './steps.js';

/** Error statistics of one output head. */
export interface HeadError {
  elements: number;
  max_abs: number;
  mean_abs: number;
  /** Over elements whose reference magnitude is >= 1e-3 (relative error of near-zero values is noise). */
  max_rel: number;
  mean_rel: number;
}

/** Accumulates absolute/relative error per head. */
export class HeadStats {
  private readonly acc = new Map<
    string,
    { n: number; maxAbs: number; sumAbs: number; nRel: number; maxRel: number; sumRel: number }
  >();

  /** Adds the elementwise differences of one head. */
  add(head: string, ref: ArrayLike<number>, got: ArrayLike<number>): void {
    let s = this.acc.get(head);
    if (s === undefined) {
      s = { n: 0, maxAbs: 0, sumAbs: 0, nRel: 0, maxRel: 0, sumRel: 0 };
      this.acc.set(head, s);
    }
    for (let i = 0; i < ref.length; i++) {
      const x = ref[i] as number;
      const d = Math.abs(x - (got[i] as number));
      const dd = Number.isNaN(d) ? Infinity : d;
      if (dd > s.maxAbs) s.maxAbs = dd;
      s.sumAbs += dd;
      s.n++;
      const ax = Math.abs(x);
      if (ax >= 1e-3) {
        const r = dd / ax;
        if (r > s.maxRel) s.maxRel = r;
        s.sumRel += r;
        s.nRel++;
      }
    }
  }

  /** The statistics per head, heads sorted by name. */
  result(): Record<string, HeadError> {
    const out: Record<string, HeadError> = {};
    for (const k of [...this.acc.keys()].sort()) {
      const s = this.acc.get(k);
      if (s === undefined) continue;
      out[k] = {
        elements: s.n,
        max_abs: s.maxAbs,
        mean_abs: s.n > 0 ? s.sumAbs / s.n : 0,
        max_rel: s.maxRel,
        mean_rel: s.nRel > 0 ? s.sumRel / s.nRel : 0,
      };
    }
    return out;
  }
}

/** Detection-level drift of a variant against the reference on real images. */
export interface DetectionDrift {
  images: number;
  /** Reference detections at or above the drift score threshold. */
  reference_detections: number;
  variant_detections: number;
  matched: number;
  /** matched / reference_detections (1 when the reference has none). */
  recall: number;
  /** Mean and max of (1 - IoU) over matched pairs. */
  iou_drift_mean: number;
  iou_drift_max: number;
  /** Mean and max |score difference| over matched pairs. */
  score_drift_mean: number;
  score_drift_max: number;
}

/** Accumulates detection drift image by image. */
export class DriftStats {
  private images = 0;
  private ref = 0;
  private got = 0;
  private matched = 0;
  private iouSum = 0;
  private iouMax = 0;
  private scoreSum = 0;
  private scoreMax = 0;

  constructor(
    private readonly scoreThreshold: number,
    private readonly matchIou: number,
  ) {}

  /**
   * Matches one image's reference detections (score >= threshold, highest score first) greedily to
   * the variant's detections of the same class with the highest IoU >= matchIou.
   */
  add(reference: readonly Detection[], variant: readonly Detection[]): void {
    this.images++;
    const refs = reference.filter((d) => d.score >= this.scoreThreshold).sort((a, b) => b.score - a.score);
    this.ref += refs.length;
    this.got += variant.filter((d) => d.score >= this.scoreThreshold).length;
    const used = new Set<number>();
    for (const r of refs) {
      let best = -1;
      let bestIou = this.matchIou;
      variant.forEach((v, j) => {
        if (used.has(j) || v.classIndex !== r.classIndex) return;
        const o = iou(r.bbox, v.bbox);
        if (o >= bestIou) {
          bestIou = o;
          best = j;
        }
      });
      if (best < 0) continue;
      used.add(best);
      const v = variant[best] as Detection;
      this.matched++;
      const di = 1 - bestIou;
      this.iouSum += di;
      if (di > this.iouMax) this.iouMax = di;
      const ds = Math.abs(v.score - r.score);
      this.scoreSum += ds;
      if (ds > this.scoreMax) this.scoreMax = ds;
    }
  }

  /** The drift so far. */
  result(): DetectionDrift {
    return {
      images: this.images,
      reference_detections: this.ref,
      variant_detections: this.got,
      matched: this.matched,
      recall: this.ref > 0 ? this.matched / this.ref : 1,
      iou_drift_mean: this.matched > 0 ? this.iouSum / this.matched : 0,
      iou_drift_max: this.iouMax,
      score_drift_mean: this.matched > 0 ? this.scoreSum / this.matched : 0,
      score_drift_max: this.scoreMax,
    };
  }
}

/** The bounds a variant is held to (resolved from the recipe and the defaults). */
export interface Bounds {
  /** Per head, or '*' for every head without its own bound: on real images. */
  max_abs: Record<string, number>;
  /** The same on the randomized inputs. */
  random_max_abs: Record<string, number>;
  iou_drift: number;
  score_drift: number;
  min_recall: number;
}

/** One bound checked. */
export interface BoundCheck {
  name: string;
  value: number;
  limit: number;
  ok: boolean;
}

/** The equivalence of one variant. */
export interface VariantEquivalence {
  variant: string;
  model: string;
  random: { samples: number; batch: number; seed: number; inputs: string; heads: Record<string, HeadError> };
  images: { count: number; heads: Record<string, HeadError>; detection: DetectionDrift } | null;
  bounds: Bounds;
  checks: BoundCheck[];
  ok: boolean;
}

/** Checks a variant's statistics against its bounds (pure). */
export function checkVariant(
  random: Record<string, HeadError>,
  images: { heads: Record<string, HeadError>; detection: DetectionDrift } | null,
  b: Bounds,
): BoundCheck[] {
  const checks: BoundCheck[] = [];
  const limit = (m: Record<string, number>, h: string): number => m[h] ?? m['*'] ?? Infinity;
  for (const h of Object.keys(random).sort()) {
    const value = random[h]?.max_abs ?? 0;
    const l = limit(b.random_max_abs, h);
    checks.push({ name: `random.max_abs.${h}`, value, limit: l, ok: value <= l });
  }
  for (const h of Object.keys(images?.heads ?? {}).sort()) {
    const value = images?.heads[h]?.max_abs ?? 0;
    const l = limit(b.max_abs, h);
    checks.push({ name: `images.max_abs.${h}`, value, limit: l, ok: value <= l });
  }
  if (images !== null) {
    const d = images.detection;
    checks.push({
      name: 'iou_drift',
      value: d.iou_drift_mean,
      limit: b.iou_drift,
      ok: d.iou_drift_mean <= b.iou_drift,
    });
    checks.push({
      name: 'score_drift',
      value: d.score_drift_mean,
      limit: b.score_drift,
      ok: d.score_drift_mean <= b.score_drift,
    });
    checks.push({ name: 'recall', value: d.recall, limit: b.min_recall, ok: d.recall >= b.min_recall });
  }
  return checks;
}

/** A variant to compare. */
export interface VariantSpec {
  id: string;
  path: string;
  bounds: Bounds;
  /** Run on only the first this many random inputs (default: all). */
  samples?: number;
}

/** Options of compareVariants. */
export interface CompareOptions {
  samples: number;
  batch: number;
  seed: number;
  /** Pre-processed real images (null: none). */
  real: ShardTensors | null;
  driftScoreThreshold: number;
  matchIou: number;
  onProgress?: (done: number, total: number) => void;
}

function copyFeeds(feeds: TensorMap): TensorMap {
  const out: TensorMap = {};
  for (const [k, t] of Object.entries(feeds))
    out[k] = { ...t, data: new Float32Array(t.data as Float32Array) };
  return out;
}

/**
 * Runs the reference and every variant on the same seeded random batches and real images and
 * returns each variant's equivalence (see the module doc). Never throws for a failed bound: see `ok`.
 */
export async function compareVariants(
  reference: string,
  variants: readonly VariantSpec[],
  cfg: InferenceConfig,
  o: CompareOptions,
): Promise<Record<string, VariantEquivalence>> {
  const ref = await LocalSession.open(reference);
  const sessions: LocalSession[] = [];
  try {
    for (const v of variants) sessions.push(await LocalSession.open(v.path));
    const rand = variants.map(() => new HeadStats());
    const real = variants.map(() => new HeadStats());
    const drift = variants.map(() => new DriftStats(o.driftScoreThreshold, o.matchIou));
    const total = o.samples + (o.real?.images.length ?? 0);
    const compare = (name: string, ra: TensorMap, rb: TensorMap, stats: HeadStats, file: string): void => {
      for (const [head, ta] of Object.entries(ra)) {
        const tb = rb[head];
        if (tb === undefined || tb.data.length !== ta.data.length) {
          throw badInput(`the ${name} variant's output '${head}' differs in shape from the reference`, {
            file,
            field: head,
            expected: `[${ta.dims.join(',')}]`,
            found: tb === undefined ? 'no such output' : `[${tb.dims.join(',')}]`,
          });
        }
        stats.add(head, ta.data as ArrayLike<number>, tb.data as ArrayLike<number>);
      }
    };
    const r = mulberry32(o.seed);
    for (let done = 0; done < o.samples;) {
      const n = Math.min(o.batch, o.samples - done);
      const feeds = randomBatch(cfg, n, r);
      const ra = await ref.run(copyFeeds(feeds));
      for (const [i, s] of sessions.entries()) {
        const v = variants[i] as VariantSpec;
        if (done >= (v.samples ?? o.samples)) continue;
        compare(v.id, ra, await s.run(copyFeeds(feeds)), rand[i] as HeadStats, v.path);
      }
      done += n;
      o.onProgress?.(done, total);
    }
    const imgs = o.real;
    if (imgs !== null) {
      const per = imgs.dims[0] * imgs.dims[1] * imgs.dims[2];
      for (let start = 0; start < imgs.images.length; start += o.batch) {
        const chunk = imgs.images.slice(start, start + o.batch);
        const transforms = imgs.transforms.slice(start, start + o.batch);
        const data = new Float32Array(per * chunk.length);
        chunk.forEach((im, k) => data.set(im, k * per));
        const feeds: TensorMap = {
          [cfg.input.name]: { type: 'float32', data, dims: [chunk.length, ...imgs.dims] },
        };
        const ra = await ref.run(copyFeeds(feeds));
        const da = decodeDetections(ra, transforms, cfg, reference);
        for (const [i, s] of sessions.entries()) {
          const v = variants[i] as VariantSpec;
          const rb = await s.run(copyFeeds(feeds));
          compare(v.id, ra, rb, real[i] as HeadStats, v.path);
          const db = decodeDetections(rb, transforms, cfg, v.path);
          da.forEach((d, k) => (drift[i] as DriftStats).add(d, db[k] ?? []));
        }
        o.onProgress?.(o.samples + start + chunk.length, total);
      }
    }
    const out: Record<string, VariantEquivalence> = {};
    variants.forEach((v, i) => {
      const randomHeads = (rand[i] as HeadStats).result();
      const images =
        imgs === null || imgs.images.length === 0
          ? null
          : {
              count: imgs.images.length,
              heads: (real[i] as HeadStats).result(),
              detection: (drift[i] as DriftStats).result(),
            };
      const checks = checkVariant(randomHeads, images, v.bounds);
      out[v.id] = {
        variant: v.id,
        model: v.path,
        random: {
          samples: Math.min(o.samples, Math.ceil((v.samples ?? o.samples) / o.batch) * o.batch),
          batch: o.batch,
          seed: o.seed,
          inputs: `seeded uniform random in [-2, 2] (the normalized image range), shape [batch,3,${cfg.input.height},${cfg.input.width}]`,
          heads: randomHeads,
        },
        images,
        bounds: v.bounds,
        checks,
        ok: checks.every((c) => c.ok),
      };
    });
    return out;
  } finally {
    await ref.close();
    for (const s of sessions) await s.close();
  }
}

/** GATE_FAILED naming the first failed bound of the first failing variant (none: returns). */
export function assertEquivalent(results: Record<string, VariantEquivalence>, recipeFile: string): void {
  for (const r of Object.values(results)) {
    const bad = r.checks.find((c) => !c.ok);
    if (bad === undefined) continue;
    const precision = r.variant.startsWith('fp16') ? 'fp16' : r.variant.startsWith('int8') ? 'int8' : 'fp32';
    throw new DrivegateError(
      'GATE_FAILED',
      `the ${r.variant} variant is not equivalent to the FP32 reference`,
      {
        file: recipeFile,
        field: `tolerances.${precision}.${bad.name.startsWith('random.') ? 'random_max_abs' : bad.name.startsWith('images.') ? 'max_abs' : bad.name === 'recall' ? 'min_recall' : bad.name}`,
        expected: bad.name === 'recall' ? `>= ${bad.limit}` : `<= ${bad.limit}`,
        found: `${bad.name} = ${bad.value}`,
        details: r,
      },
    );
  }
}
