/**
 * Activation calibrators for int8 post-training quantization, as pure functions over collected
 * statistics: MinMax (the largest |x| seen), percentile (the |x| below which `p`% of the values lie)
 * and entropy (the clipping threshold that minimises the KL divergence between the clipped FP32
 * distribution and its 128-level quantized version, as TensorRT's EntropyCalibration2 describes it).
 * Statistics come from one pass over the calibration set: a running min/max per tensor and a
 * histogram of non-zero |x| (at most 65,536 strided samples per batch) whose bin width is set by the first batch (its max over 2048 bins); a
 * later, larger value adds bins of the same width, and past MAX_HISTOGRAM_BINS adjacent pairs merge
 * (the width doubles), so a histogram always has between 2048 and 4096 bins of exact counts. The
 * result depends on the batch order, deterministically. See docs/int8.md. */

/** How activation ranges are chosen. */
export type CalibratorKind = 'minmax' | 'percentile' | 'entropy';

/** All calibrators, in the order reports list them. */
export const CALIBRATORS: readonly CalibratorKind[] = ['minmax', 'percentile', 'entropy'];

/** Initial histogram bins over the first batch's range (as TensorRT's calibrators use). */
export const HISTOGRAM_BINS = 2048;

/** Most histogram bins; beyond, adjacent bins merge in pairs. */
export const MAX_HISTOGRAM_BINS = 4096;

/** Quantized levels on one side of zero for symmetric int8 (the entropy search's target resolution). */
export const QUANTIZED_BINS = 128;

/** Statistics of one activation tensor over a calibration set. */
export interface TensorStats {
  min: number;
  max: number;
  /** max(|min|, |max|). */
  absMax: number;
  /** Element count seen (NaN included). */
  count: number;
  /** Exact zeros among the histogram's samples (kept out of the histogram). */
  zeros: number;
  /** Bin width of the histogram (0 until a non-zero value is seen). */
  width: number;
  /** Bins in use: bin i counts non-zero |x| in [i*width, (i+1)*width) (the last bin also its top edge). */
  bins: number;
  /** Bin counts (length MAX_HISTOGRAM_BINS; the first `bins` are used). */
  histogram: Float64Array;
}

/** Fresh statistics (before the first batch). */
export function emptyStats(): TensorStats {
  return {
    min: Infinity,
    max: -Infinity,
    absMax: 0,
    count: 0,
    zeros: 0,
    width: 0,
    bins: 0,
    histogram: new Float64Array(MAX_HISTOGRAM_BINS),
  };
}

/** Makes the histogram cover [0, m]: more bins of the same width, merging pairs past the maximum. */
function cover(s: TensorStats, m: number): void {
  if (m <= 0) return;
  if (s.width === 0) {
    s.width = m / HISTOGRAM_BINS;
    s.bins = HISTOGRAM_BINS;
    return;
  }
  let need = Math.ceil(m / s.width);
  if (need <= s.bins) return;
  const h = s.histogram;
  while (need > MAX_HISTOGRAM_BINS) {
    const half = Math.ceil(s.bins / 2);
    for (let i = 0; i < half; i++)
      h[i] = (h[2 * i] as number) + (2 * i + 1 < s.bins ? (h[2 * i + 1] as number) : 0);
    h.fill(0, half, s.bins);
    s.bins = half;
    s.width *= 2;
    need = Math.ceil(m / s.width);
  }
  s.bins = Math.max(s.bins, need);
}

/**
 * Most values of one batch of one tensor that go into the histogram: a larger batch is sampled
 * with a fixed stride (min/max always see every value). 64 batches give ≥ 4 M samples per tensor.
 */
export const HISTOGRAM_SAMPLES = 65536;

/**
 * Folds one batch of a tensor into its statistics: min/max over every value; zeros and the
 * histogram of |x| over every `ceil(n / HISTOGRAM_SAMPLES)`-th value (all of them up to 65,536).
 * NaN is ignored.
 */
export function observe(s: TensorStats, data: Float32Array): void {
  const n = data.length;
  let mn = Infinity;
  let mx = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = data[i] as number;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  s.count += n;
  if (mn === Infinity) return; // empty, or nothing but NaN
  s.min = Math.min(s.min, mn);
  s.max = Math.max(s.max, mx);
  const bm = Math.max(-mn, mx);
  s.absMax = Math.max(s.absMax, bm);
  cover(s, bm);
  const stride = Math.max(1, Math.ceil(n / HISTOGRAM_SAMPLES));
  const h = s.histogram;
  const inv = s.width > 0 ? 1 / s.width : 0;
  const last = s.bins - 1;
  let zeros = 0;
  for (let i = 0; i < n; i += stride) {
    const v = data[i] as number;
    const a = v < 0 ? -v : v;
    if (a === 0) {
      zeros++;
      continue;
    }
    if (!(a > 0)) continue; // NaN
    let j = Math.floor(a * inv);
    if (j > last) j = last;
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
  if (s.absMax <= 0 || s.bins === 0) return s.absMax;
  let total = s.zeros;
  for (let i = 0; i < s.bins; i++) total += h[i] as number;
  const want = (percentile / 100) * total;
  let cum = s.zeros;
  for (let i = 0; i < s.bins; i++) {
    cum += h[i] as number;
    if (cum >= want) return Math.min(s.absMax, (i + 1) * s.width);
  }
  return s.absMax;
}

/**
 * Entropy (KL divergence) calibration on the histogram of non-zero |x|, after TensorRT's description of
 * EntropyCalibration: for each candidate threshold i (in bins, from 128 to the bin count) the reference
 * distribution P is bins[0, i) with the outlier count folded into its last bin; the candidate Q is
 * bins[0, i) merged into 128 levels and spread back uniformly over the bins where P is non-zero;
 * both are normalised and the i with the smallest KL(P || Q) wins (the first one on ties).
 * Returns the threshold i x bin width. Exact zeros are left out (as NVIDIA pytorch-quantization's
 * `skip_zeros` does): they are exact at any scale, and after a Relu they are half of all values, a
 * spike in the first bin that otherwise drives the search to thresholds of 1/8 of the real range.
 */
export function entropyAmax(s: TensorStats): number {
  const h = s.histogram;
  const n = s.bins;
  if (s.absMax <= 0 || n < QUANTIZED_BINS) return s.absMax;
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
  return Math.min(s.absMax, best * s.width);
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
