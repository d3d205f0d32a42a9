/**
 * Activation calibrators for int8 post-training quantization, as pure functions over collected
 * statistics: MinMax (the largest |x| seen), percentile (the |x| below which `p`% of the values lie)
 * and entropy (the clipping threshold that minimises the KL divergence between the clipped FP32
 * distribution and its 128-level quantized version, as TensorRT's EntropyCalibration2 describes it).
 * Statistics are a running min/max per tensor plus a 2048-bin histogram of non-zero |x| over [0, absMax],
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
  /** Counts of non-zero |x| in HISTOGRAM_BINS equal bins over [0, absMax] (after the second pass). */
  histogram?: Float64Array;
  /** Exact zeros seen in the second pass (kept out of the histogram). */
  zeros: number;
}

/** Fresh statistics (before the first batch). */
export function emptyStats(): TensorStats {
  return { min: Infinity, max: -Infinity, absMax: 0, count: 0, zeros: 0 };
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
  const k = s.absMax > 0 ? HISTOGRAM_BINS / s.absMax : 0;
  const last = HISTOGRAM_BINS - 1;
  let zeros = 0;
  for (let i = 0; i < data.length; i++) {
    const a = Math.abs(data[i] as number);
    if (a === 0) {
      zeros++;
      continue;
    }
    if (!(a > 0)) continue; // NaN
    const b = Math.floor(a * k);
    const j = b > last ? last : b;
    h[j] = (h[j] as number) + 1;
  }
  s.zeros += zeros;
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
  let total = s.zeros;
  for (const c of h) total += c;
  if (total === 0) return s.absMax;
  const want = (percentile / 100) * total;
  let cum = s.zeros;
  const width = s.absMax / HISTOGRAM_BINS;
  for (let i = 0; i < h.length; i++) {
    cum += h[i] as number;
    if (cum >= want) return Math.min(s.absMax, (i + 1) * width);
  }
  return s.absMax;
}

/**
 * Entropy (KL divergence) calibration on the histogram of non-zero |x|, after TensorRT's description of
 * EntropyCalibration: for each candidate threshold i (in bins, from 128 to 2048) the reference
 * distribution P is bins[0, i) with the outlier count folded into its last bin; the candidate Q is
 * bins[0, i) merged into 128 levels and spread back uniformly over the bins where P is non-zero;
 * both are normalised and the i with the smallest KL(P || Q) wins (the first one on ties).
 * Returns the threshold i x bin width. Exact zeros are left out (as NVIDIA pytorch-quantization's
 * `skip_zeros` does): they are exact at any scale, and after a Relu they are half of all values, a
 * spike in the first bin that otherwise drives the search to thresholds of 1/8 of the real range.
 */
export function entropyAmax(s: TensorStats): number {
  const h = s.histogram;
  if (h === undefined || s.absMax <= 0) return s.absMax;
  const n = h.length;
  // Prefix sums make each candidate O(levels): S = counts, C = non-zero bins, L = sum of h log h.
  // With P's total fixed (outliers are folded in, not dropped), KL(P||Q) over normalised P and Q is
  // (1/Ptot) * sum_j p_j (log p_j - log q_j) + log(Qtot / Ptot), summed per level.
  const S = new Float64Array(n + 1);
  const C = new Float64Array(n + 1);
  const L = new Float64Array(n + 1);
  for (let j = 0; j < n; j++) {
    const c = h[j] as number;
    S[j + 1] = (S[j] as number) + c;
    C[j + 1] = (C[j] as number) + (c > 0 ? 1 : 0);
    L[j + 1] = (L[j] as number) + (c > 0 ? c * Math.log(c) : 0);
  }
  const total = S[n] as number;
  if (total === 0) return s.absMax;
  let best = n;
  let bestKl = Infinity;
  for (let i = QUANTIZED_BINS; i <= n; i++) {
    const outliers = total - (S[i] as number);
    const lastCount = h[i - 1] as number;
    const lastP = lastCount + outliers;
    let acc = 0;
    let qTotal = 0;
    let infinite = false;
    for (let level = 0; level < QUANTIZED_BINS; level++) {
      const a = Math.floor((level * i) / QUANTIZED_BINS);
      const b = Math.floor(((level + 1) * i) / QUANTIZED_BINS);
      if (b <= a) continue;
      const sum = (S[b] as number) - (S[a] as number);
      let nonzero = (C[b] as number) - (C[a] as number);
      let pLogP = (L[b] as number) - (L[a] as number);
      let pSum = sum;
      if (b === i) {
        // the last bin carries the outliers in P (Q is built from the bins without them)
        if (lastCount === 0 && lastP > 0) nonzero++;
        pLogP +=
          (lastP > 0 ? lastP * Math.log(lastP) : 0) - (lastCount > 0 ? lastCount * Math.log(lastCount) : 0);
        pSum += outliers;
      }
      if (nonzero === 0) continue;
      if (sum === 0) {
        infinite = true;
        break;
      }
      acc += pLogP - pSum * Math.log(sum / nonzero);
      qTotal += sum;
    }
    if (infinite || qTotal === 0) continue;
    const kl = acc / total + Math.log(qTotal / total);
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
