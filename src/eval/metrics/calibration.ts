/**
 * Calibration metrics of confidence scores against binary outcomes: ECE (equal-width or
 * equal-mass bins, default 15), MCE, Brier score and reliability-diagram data; and detection
 * calibration, where the outcome of a detection is "matched a ground truth at IoU 0.5".
 *
 * Binning follows scikit-learn's `calibration_curve` exactly, so the two can be compared:
 * - edges: equal-width e_i = i * (1 / B) for i < B and e_B = 1 (numpy.linspace); equal-mass
 *   e_i = the (i / B)-quantile of the confidences by linear interpolation, computed with numpy's
 *   arithmetic (numpy.percentile, method 'linear');
 * - bin of p: the number of interior edges e_1..e_{B-1} strictly below p (numpy.searchsorted,
 *   side 'left'). So bin 0 is [e_0, e_1] and bin i > 0 is (e_i, e_{i+1}]: a value on an edge
 *   goes to the lower bin.
 * Definitions, with N predictions, bin b holding n_b of them, conf_b their mean confidence and
 * acc_b the fraction with outcome 1:
 *   ECE = sum_b (n_b / N) |acc_b - conf_b|;  MCE = max over non-empty b of |acc_b - conf_b|;
 *   Brier = (1 / N) sum (p - y)^2  (scikit-learn's brier_score_loss).
 */
import { badInput } from '../../core/errors.js';
import type { Matching } from './detections.js';

/** How bins are laid out: equal width on [0, 1], or equal mass (quantiles of the confidences). */
export type BinStrategy = 'uniform' | 'quantile';

/** One bin of a reliability diagram. */
export interface ReliabilityBin {
  index: number;
  /** Lower and upper edge; the bin holds (lower, upper] (the first bin also holds lower). */
  lower: number;
  upper: number;
  count: number;
  /** Mean confidence in the bin (null when empty). */
  mean_confidence: number | null;
  /** Fraction of outcomes 1 in the bin (null when empty). */
  accuracy: number | null;
  /** accuracy - mean_confidence (negative: over-confident); null when empty. */
  gap: number | null;
}

/** Calibration of a set of predictions. */
export interface CalibrationResult {
  strategy: BinStrategy;
  n_bins: number;
  count: number;
  ece: number;
  mce: number;
  brier: number;
  mean_confidence: number;
  accuracy: number;
  bins: ReliabilityBin[];
}

/** Options of calibrationOf. */
export interface CalibrationOptions {
  /** Number of bins (default 15). */
  bins?: number;
  strategy?: BinStrategy;
}

/** Bin edges (B + 1 numbers) for the confidences, as scikit-learn's calibration_curve lays them. */
export function binEdges(confidences: ArrayLike<number>, nBins: number, strategy: BinStrategy): number[] {
  const lin: number[] = [];
  const step = 1 / nBins;
  for (let i = 0; i < nBins; i++) lin.push(i * step);
  lin.push(1);
  if (strategy === 'uniform') return lin;
  const sorted = Float64Array.from(confidences).sort();
  return lin.map((q) => percentileLinear(sorted, (q * 100) / 100));
}

/** numpy.percentile(method='linear') at quantile q of sorted values, with numpy's rounding. */
function percentileLinear(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  const v = (n - 1) * q;
  if (v >= n - 1) return sorted[n - 1]!;
  if (v < 0) return sorted[0]!;
  const prev = Math.floor(v);
  const a = sorted[prev]!;
  const b = sorted[prev + 1]!;
  const t = v - prev;
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** The bin index of p among the interior edges (searchsorted, side 'left'). */
function binOf(interior: ReadonlyArray<number>, p: number): number {
  let lo = 0;
  let hi = interior.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (interior[mid]! < p) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Calibration of confidences (each in [0, 1]) against outcomes (1/true = correct). Throws
 * BAD_INPUT on empty input, mismatched lengths or a confidence outside [0, 1].
 */
export function calibrationOf(
  confidences: ArrayLike<number>,
  outcomes: ArrayLike<number | boolean>,
  options: CalibrationOptions = {},
): CalibrationResult {
  const nBins = options.bins ?? 15;
  const strategy = options.strategy ?? 'uniform';
  const n = confidences.length;
  if (!Number.isInteger(nBins) || nBins < 1)
    throw badInput('invalid bin count', { expected: 'an integer >= 1', found: String(nBins) });
  if (n !== outcomes.length) {
    throw badInput('confidences and outcomes differ in length', {
      expected: String(n),
      found: String(outcomes.length),
    });
  }
  if (n === 0)
    throw badInput('no predictions to calibrate', { expected: 'at least one prediction', found: 'none' });
  for (let i = 0; i < n; i++) {
    const p = confidences[i]!;
    if (!(p >= 0 && p <= 1)) {
      throw badInput('confidence outside [0, 1]', {
        record: i,
        expected: 'a number in [0, 1]',
        found: String(p),
      });
    }
  }
  const edges = binEdges(confidences, nBins, strategy);
  const interior = edges.slice(1, -1);
  const sumP = new Array<number>(nBins).fill(0);
  const sumY = new Array<number>(nBins).fill(0);
  const cnt = new Array<number>(nBins).fill(0);
  let brier = 0;
  let totalP = 0;
  let totalY = 0;
  for (let i = 0; i < n; i++) {
    const p = confidences[i]!;
    const y = Number(outcomes[i]!) ? 1 : 0;
    const b = binOf(interior, p);
    sumP[b]! += p;
    sumY[b]! += y;
    cnt[b]! += 1;
    brier += (p - y) * (p - y);
    totalP += p;
    totalY += y;
  }
  let ece = 0;
  let mce = 0;
  const bins: ReliabilityBin[] = [];
  for (let b = 0; b < nBins; b++) {
    const c = cnt[b]!;
    const conf = c > 0 ? sumP[b]! / c : null;
    const acc = c > 0 ? sumY[b]! / c : null;
    const gap = conf !== null && acc !== null ? acc - conf : null;
    if (gap !== null) {
      ece += (c / n) * Math.abs(gap);
      mce = Math.max(mce, Math.abs(gap));
    }
    bins.push({
      index: b,
      lower: edges[b]!,
      upper: edges[b + 1]!,
      count: c,
      mean_confidence: conf,
      accuracy: acc,
      gap,
    });
  }
  return {
    strategy,
    n_bins: nBins,
    count: n,
    ece,
    mce,
    brier: brier / n,
    mean_confidence: totalP / n,
    accuracy: totalY / n,
    bins,
  };
}

/** Detection calibration: over all detections and per class. */
export interface DetectionCalibration {
  iou_threshold: number;
  /** Detections that fell on crowd regions and were left out. */
  ignored: number;
  overall: CalibrationResult;
  /** Per class name; classes without detections are absent. */
  per_class: Record<string, CalibrationResult>;
}

/**
 * Calibration of detection scores against "matched a ground truth at the matching's IoU threshold"
 * (see detections.ts for the matching rule): true positives have outcome 1, false positives 0,
 * detections on crowd regions are left out.
 */
export function detectionCalibration(
  matching: Matching,
  options: CalibrationOptions = {},
): DetectionCalibration {
  const kept = matching.detections.filter((d) => d.status !== 'ignored');
  const overall = calibrationOf(
    kept.map((d) => d.score),
    kept.map((d) => d.status === 'tp'),
    options,
  );
  const per_class: Record<string, CalibrationResult> = {};
  for (const [id, name] of matching.categories) {
    const ds = kept.filter((d) => d.category_id === id);
    if (ds.length === 0) continue;
    per_class[name] = calibrationOf(
      ds.map((d) => d.score),
      ds.map((d) => d.status === 'tp'),
      options,
    );
  }
  return {
    iou_threshold: matching.iouThreshold,
    ignored: matching.detections.length - kept.length,
    overall,
    per_class,
  };
}
