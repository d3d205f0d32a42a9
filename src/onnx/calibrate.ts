/**
 * Activation calibrators for int8 post-training quantization, as pure functions over collected
 * statistics: MinMax (the largest |x| seen), percentile (the |x| below which `p`% of the values lie)
 * and entropy (the clipping threshold that minimises the KL divergence between the clipped FP32
 * distribution and its 128-level quantized version, as TensorRT's EntropyCalibration2 describes it).
 * Statistics are a running min/max per tensor plus a 2048-bin histogram of |x| over [0, absMax],
 * filled in a second pass once absMax is known (so the histogram never needs re-binning and the
 * result does not depend on batch order). See docs/int8.md.
 */

/** How activation ranges are chosen. */
export type CalibratorKind = 'minmax' | 'percentile' | 'entropy';

/** All calibrators, in the order reports list them. */
export const CALIBRATORS: readonly CalibratorKind[] = ['minmax', 'percentile', 'entropy'];

/** Histogram bins per tensor (as TensorRT's calibrators use). */
export const HISTOGRAM_BINS = 2048;

/** Quantized levels on one side of zero for symmetric int8 (the entropy search's target resolution). */
export const QUANTIZED_BINS = 128;

/** Statistics of one activation tensor over a calibration set. */
export interface TensorStats {
  min: number;
  max: number;
  /** max(|min|, |max|). */
  absMax: number;
  /** Element count seen. */
  count: number;
  /** Counts of |x| in HISTOGRAM_BINS equal bins over [0, absMax] (present after the second pass). */
  histogram?: Float64Array;
}

/** Fresh statistics (before the first batch). */
export function emptyStats(): TensorStats {
  return { min: Infinity, max: -Infinity, absMax: 0, count: 0 };
}

/** First pass: folds the min/max of `data` into `s`. NaN values are ignored. */
export function observeRange(s: TensorStats, data: Float32Array): void {
  let mn = s.min;
  let mx = s.max;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  s.min = mn;
  s.max = mx;
  s.absMax = Math.max(Math.abs(mn === Infinity ? 0 : mn), Math.abs(mx === -Infinity ? 0 : mx));
  s.count += data.length;
}

/** Second pass: adds |x| of `data` into the histogram over [0, absMax] (absMax from the first pass). */
export function observeHistogram(s: TensorStats, data: Float32Array): void {
  const h = (s.histogram ??= new Float64Array(HISTOGRAM_BINS));
  if (s.absMax <= 0) {
    h[0] = (h[0] as number) + data.length;
    return;
  }
  const k = HISTOGRAM_BINS / s.absMax;
  const last = HISTOGRAM_BINS - 1;
  for (let i = 0; i < data.length; i++) {
    const a = Math.abs(data[i] as number);
    if (!(a >= 0)) continue; // NaN
    const b = Math.floor(a * k);
    const j = b > last ? last : b;
    h[j] = (h[j] as number) + 1;
  }
}

/** MinMax: the largest |x| seen. */
export function minMaxAmax(s: TensorStats): number {
  return s.absMax;
}

/**
 * Percentile: the upper edge of the first histogram bin at which the cumulative share of |x|
 * reaches `percentile`% (so at least that share lies within ±amax). Needs the histogram.
 */
export function percentileAmax(s: TensorStats, percentile: number): number {
  const h = s.histogram;
  if (h === undefined || s.absMax <= 0) return s.absMax;
  let total = 0;
  for (const c of h) total += c;
  if (total === 0) return s.absMax;
  const want = (percentile / 100) * total;
  let cum = 0;
  const width = s.absMax / HISTOGRAM_BINS;
  for (let i = 0; i < h.length; i++) {
    cum += h[i] as number;
    if (cum >= want) return Math.min(s.absMax, (i + 1) * width);
  }
  return s.absMax;
}

/**
 * Entropy (KL divergence) calibration on the |x| histogram, after TensorRT's description of
 * EntropyCalibration: for each candidate threshold i (in bins, from 128 to 2048) the reference
 * distribution P is bins[0, i) with the outlier count folded into its last bin; the candidate Q is
 * bins[0, i) merged into 128 levels and spread back uniformly over the bins where P is non-zero;
 * both are normalised and the i with the smallest KL(P || Q) wins (the first one on ties).
 * Returns the threshold i x bin width.
 */
export function entropyAmax(s: TensorStats): number {
  const h = s.histogram;
  if (h === undefined || s.absMax <= 0) return s.absMax;
  const n = h.length;
  let total = 0;
  for (const c of h) total += c;
  if (total === 0) return s.absMax;
  const suffix = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) suffix[i] = (suffix[i + 1] as number) + (h[i] as number);
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  let best = n;
  let bestKl = Infinity;
  for (let i = QUANTIZED_BINS; i <= n; i++) {
    // P: clipped reference distribution
    for (let j = 0; j < i; j++) p[j] = h[j] as number;
    p[i - 1] = (p[i - 1] as number) + (suffix[i] as number);
    // Q: bins[0, i) merged into 128 levels, expanded over P's non-zero bins
    for (let level = 0; level < QUANTIZED_BINS; level++) {
      const start = Math.floor((level * i) / QUANTIZED_BINS);
      const stop = Math.floor(((level + 1) * i) / QUANTIZED_BINS);
      let sum = 0;
      let nonzero = 0;
      for (let j = start; j < stop; j++) {
        sum += h[j] as number;
        if ((p[j] as number) !== 0) nonzero++;
      }
      const v = nonzero > 0 ? sum / nonzero : 0;
      for (let j = start; j < stop; j++) q[j] = (p[j] as number) !== 0 ? v : 0;
    }
    let pSum = 0;
    let qSum = 0;
    for (let j = 0; j < i; j++) {
      pSum += p[j] as number;
      qSum += q[j] as number;
    }
    if (pSum === 0 || qSum === 0) continue;
    let kl = 0;
    for (let j = 0; j < i; j++) {
      const pj = (p[j] as number) / pSum;
      if (pj === 0) continue;
      const qj = (q[j] as number) / qSum;
      if (qj === 0) {
        kl = Infinity;
        break;
      }
      kl += pj * Math.log(pj / qj);
    }
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  return Math.min(s.absMax, best * (s.absMax / n));
}

/** The activation amax of one tensor under a calibrator. */
export function calibratedAmax(s: TensorStats, kind: CalibratorKind, percentile = 99.99): number {
  if (kind === 'minmax') return minMaxAmax(s);
  if (kind === 'percentile') return percentileAmax(s, percentile);
  return entropyAmax(s);
}

/** Symmetric int8 scale for an amax: amax / 127 as float32 (1 when amax is 0 or not finite, as onnxruntime does). */
export function symmetricScale(amax: number): number {
  const s = Math.fround(amax / 127);
  return Number.isFinite(s) && s > 1.1754943508222875e-38 ? s : 1;
}
