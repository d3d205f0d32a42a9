/**
 * The metrics step of `drivegate eval run`: every metric overall and per slice, from loaded data
 * (pure: data in, report sections out).
 *
 * Work is shared: the COCO evaluation runs once per distinct image selection (slices that differ
 * only by category reuse it), once more per distinct object-attribute selection, and the IoU-0.5
 * matching behind calibration and thresholds runs once over the whole set and is filtered per
 * slice (matching is per image and category, so filtering by image and category is exact).
 */
import type { CocoDetections, CocoEvalResult } from './metrics/coco/index.js';
import { RECALL_THRESHOLDS } from './metrics/coco/index.js';
import { confusionMatrix } from './metrics/confusion.js';
import type { ConfusionMatrix } from './metrics/confusion.js';
import { detectionCalibration } from './metrics/calibration.js';
import type { CalibrationResult, DetectionCalibration } from './metrics/calibration.js';
import { matchDetections } from './metrics/detections.js';
import type { CocoDetection, CocoGroundTruth as CocoObjects, Matching } from './metrics/detections.js';
import { tuneThresholds } from './metrics/thresholds.js';
import type { ThresholdResult } from './metrics/thresholds.js';
import type { EvalGroundTruth } from './run-inputs.js';
import type { CocoSubset, SliceCocoStats } from './slice-coco.js';
import {
  classStats,
  evaluateSubset,
  markSliceObjects,
  slicePrCurve50,
  sliceStats,
  subsetByImages,
} from './slice-coco.js';
import type { CompiledSlice, SliceScoring } from './slices.js';
import { areaMatches, imageMask, objectMask } from './slices.js';

/** Options of the metrics. */
export interface MetricOptions {
  /** Calibration bins (default 15). */
  bins?: number;
  /** Threshold tuning: best F1 (default) or a precision target. */
  thresholdMode?: 'f1' | 'precision';
  precisionTarget?: number;
  /** Score threshold of the confusion matrix (default 0.5). */
  confusionScore?: number;
}

/** Per-class numbers of a metric set. */
export interface ClassMetrics {
  ap: number | null;
  ap50: number | null;
  ap75: number | null;
  num_gt: number;
  num_dt?: number;
  /** Recall at IoU 0.5 with all (<= 100) detections: the end of the PR curve. */
  max_recall50: number | null;
  /** Operating point at the tuned threshold (overall and image/category slices). */
  threshold?: number | null;
  precision?: number | null;
  recall?: number | null;
  f1?: number | null;
  ece?: number | null;
}

/** A metric set (overall or of a slice): the COCO summary and per class. */
export type MetricValues = SliceCocoStats & { per_class: Record<string, ClassMetrics> };

/** Calibration summary of a set of detections (null fields: not computable). */
export interface CalibrationSummary {
  ece: number | null;
  ece_equal_mass: number | null;
  mce: number | null;
  brier: number | null;
  count: number;
}

/** One slice's results. */
export interface SliceResult {
  name: string;
  description?: string;
  filter: CompiledSlice['definition']['filter'];
  weight: number;
  critical: boolean;
  scoring: SliceScoring;
  empty: boolean;
  images: number;
  num_gt: number;
  metrics: MetricValues;
  calibration: CalibrationSummary | null;
  score_thresholds: Record<string, number> | null;
  confusion: { labels: string[]; rows: string[]; matrix: number[][] } | null;
  /** Precision at the 101 COCO recall points at IoU 0.5, averaged over the slice's classes (null when empty). */
  pr_curve50: number[] | null;
}

/** PR curve of a class (precision at the 101 COCO recall thresholds). */
export interface PrCurveData {
  class: string;
  recall: number[];
  precision_iou50: number[];
  precision_mean: number[];
  ap: number;
  ap50: number;
}

/** Everything the metrics step computes. */
export interface EvalMetrics {
  images: number;
  detections: number;
  overall: MetricValues;
  slices: SliceResult[];
  calibration: {
    uniform: DetectionCalibration | null;
    quantile: DetectionCalibration | null;
  };
  confusion: ConfusionMatrix;
  thresholds: ThresholdResult;
  pr_curves: PrCurveData[];
  weighted_map: { value: number | null; weight_total: number; slices_used: number; empty_excluded: string[] };
  timings_ms: Record<string, number>;
}

const round = (v: number | null): number | null => v;

/** COCO results (object form) of a columnar subset. */
function detectionObjects(
  gt: EvalGroundTruth,
  dt: CocoDetections,
  imageIds: readonly unknown[],
): CocoDetection[] {
  const out: CocoDetection[] = new Array<CocoDetection>(dt.count);
  const cats = gt.columns.categoryIds;
  for (let d = 0; d < dt.count; d++) {
    out[d] = {
      image_id: Number(imageIds[dt.image[d]!]),
      category_id: Number(cats[dt.category[d]!]),
      bbox: [dt.box[d * 4]!, dt.box[d * 4 + 1]!, dt.box[d * 4 + 2]!, dt.box[d * 4 + 3]!],
      score: dt.score[d]!,
    };
  }
  return out;
}

function gtObjectsOf(gt: EvalGroundTruth, images: ReadonlySet<number>): CocoObjects {
  return {
    ...gt.objects,
    images: gt.objects.images.filter((i) => images.has(i.id)),
    annotations: gt.objects.annotations.filter((a) => images.has(a.image_id)),
  };
}

function calibrationSummary(
  matching: Matching,
  bins: number,
): { uniform: DetectionCalibration; quantile: DetectionCalibration } | null {
  if (!matching.detections.some((d) => d.status !== 'ignored')) return null;
  return {
    uniform: detectionCalibration(matching, { bins, strategy: 'uniform' }),
    quantile: detectionCalibration(matching, { bins, strategy: 'quantile' }),
  };
}

const summaryOf = (c: { uniform: CalibrationResult; quantile: CalibrationResult }): CalibrationSummary => ({
  ece: c.uniform.ece,
  ece_equal_mass: c.quantile.ece,
  mce: c.uniform.mce,
  brier: c.uniform.brier,
  count: c.uniform.count,
});

const NULL_STATS: SliceCocoStats = {
  map: null,
  map50: null,
  map75: null,
  map_small: null,
  map_medium: null,
  map_large: null,
  mar1: null,
  mar10: null,
  mar100: null,
  mar_small: null,
  mar_medium: null,
  mar_large: null,
};

interface ImageSelection {
  sub: CocoSubset;
  res: CocoEvalResult | null;
  ids: Set<number>;
  gtObjects: CocoObjects | null;
  confusion: ConfusionMatrix | null;
}

/**
 * Computes every metric. `manifestMask[i]` is 1 for ground-truth image index i in the manifest;
 * `manifestIndexOf[i]` its record index (or -1). `dt` are the loaded detections (all images).
 */
export function computeMetrics(
  gt: EvalGroundTruth,
  dt: CocoDetections,
  records: ReadonlyArray<Record<string, unknown>>,
  manifestIndexOf: Int32Array,
  slices: readonly CompiledSlice[],
  options: MetricOptions = {},
): EvalMetrics {
  const timings: Record<string, number> = {};
  const time = <T>(name: string, f: () => T): T => {
    const t0 = performance.now();
    try {
      return f();
    } finally {
      timings[name] = (timings[name] ?? 0) + (performance.now() - t0);
    }
  };
  const bins = options.bins ?? 15;
  const cols = gt.columns;
  const nI = cols.imageIds.length;
  const K = cols.categoryIds.length;
  const catName = (k: number): string => cols.categoryNames[k] || String(cols.categoryIds[k]);
  const annotations = gt.objects.annotations as unknown as ReadonlyArray<Record<string, unknown>>;

  // ---- image selections (one COCO evaluation each) ----------------------------------------------
  const selections = new Map<string, ImageSelection>();
  const selectImages = (key: string, recordMask: Uint8Array | null): ImageSelection => {
    const hit = selections.get(key);
    if (hit) return hit;
    const keep = new Uint8Array(nI);
    const ids = new Set<number>();
    for (let i = 0; i < nI; i++) {
      const r = manifestIndexOf[i]!;
      if (r >= 0 && (recordMask === null || recordMask[r] === 1)) {
        keep[i] = 1;
        ids.add(Number(cols.imageIds[i]));
      }
    }
    const sub = time('subset', () => subsetByImages(cols, dt, keep));
    const sel: ImageSelection = { sub, res: null, ids, gtObjects: null, confusion: null };
    selections.set(key, sel);
    return sel;
  };
  const cocoOf = (sel: ImageSelection): CocoEvalResult => {
    if (sel.res === null) sel.res = time('coco', () => evaluateSubset(sel.sub));
    return sel.res;
  };

  const all = selectImages('[]', null);
  const overallRes = cocoOf(all);
  const gtAll = gtObjectsOf(gt, all.ids);
  const dtAll = detectionObjects(gt, all.sub.dt, all.sub.gt.imageIds);
  const matching = time('matching', () => matchDetections(gtAll, dtAll, 0.5, { maxDets: 100 }));
  const thresholdOptions =
    options.thresholdMode === 'precision'
      ? { mode: 'precision' as const, target: options.precisionTarget ?? 0.9 }
      : { mode: 'f1' as const };
  const thresholds = time('thresholds', () => tuneThresholds(matching, thresholdOptions));
  const calibration = time('calibration', () => calibrationSummary(matching, bins));
  const confusionScore = options.confusionScore ?? 0.5;
  const confusion = time('confusion', () =>
    confusionMatrix(gtAll, dtAll, { iouThreshold: 0.5, scoreThreshold: confusionScore }),
  );
  all.gtObjects = gtAll;
  all.confusion = confusion;

  // ---- overall ------------------------------------------------------------------------------------
  const tByClass = new Map(thresholds.classes.map((c) => [c.category_id, c] as const));
  const overallPerClass: Record<string, ClassMetrics> = {};
  const prCurves: PrCurveData[] = [];
  overallRes.perClass.forEach((c, k) => {
    const cs = classStats(overallRes, k, false);
    const t = tByClass.get(Number(c.categoryId));
    const cal = calibration?.uniform.per_class[catName(k)];
    overallPerClass[catName(k)] = {
      ap: cs.ap,
      ap50: cs.ap50,
      ap75: cs.ap75,
      num_gt: c.gtCount,
      num_dt: c.dtCount,
      max_recall50: cs.recall50,
      threshold: t?.threshold ?? null,
      precision: t?.precision ?? null,
      recall: t?.recall ?? null,
      f1: t?.f1 ?? null,
      ece: cal?.ece ?? null,
    };
    if (c.prAt50 !== null && c.prMean !== null) {
      prCurves.push({
        class: catName(k),
        recall: Array.from(RECALL_THRESHOLDS),
        precision_iou50: c.prAt50,
        precision_mean: c.prMean,
        ap: c.ap,
        ap50: c.ap50,
      });
    }
  });
  const overall: MetricValues = { ...sliceStats(overallRes, null, false), per_class: overallPerClass };

  // ---- slices -------------------------------------------------------------------------------------
  const objectMasks = new Map<string, Uint8Array>();
  const attrResults = new Map<string, CocoEvalResult>();
  const sliceResults: SliceResult[] = slices.map((s) =>
    time(`slice`, () => {
      const def = s.definition;
      const sel =
        s.imageConditions.length === 0
          ? all
          : selectImages(s.imageKey, imageMask(s.imageConditions, records));
      const kIdx =
        s.categoryIds === null
          ? null
          : s.categoryIds.map((id) => cols.categoryIndex.get(id)).filter((k): k is number => k !== undefined);
      const kSet = new Set(kIdx ?? cols.categoryIds.map((_, k) => k));
      let objMask: Uint8Array | null = null;
      if (s.objectConditions.length > 0) {
        objMask = objectMasks.get(s.objectKey) ?? objectMask(s.objectConditions, annotations);
        objectMasks.set(s.objectKey, objMask);
      }
      // ground truth in the slice, per class
      const gtPerClass = new Int32Array(K);
      const sg = sel.sub.gt;
      for (let a = 0; a < sg.count; a++) {
        const k = sg.category[a]!;
        if (sg.image[a]! < 0 || k < 0 || sg.crowd[a] === 1 || !kSet.has(k)) continue;
        if (objMask !== null && objMask[a] !== 1) continue;
        gtPerClass[k]!++;
      }
      const numGt = gtPerClass.reduce((x, y) => x + y, 0);
      const base = {
        name: def.name,
        ...(def.description !== undefined ? { description: def.description } : {}),
        filter: def.filter,
        weight: def.weight,
        critical: def.critical,
        scoring: s.scoring,
        images: sel.sub.images,
        num_gt: numGt,
      };
      const classKeys = [...kSet].sort((a, b) => a - b);
      if (numGt === 0) {
        const perClass: Record<string, ClassMetrics> = {};
        for (const k of classKeys)
          perClass[catName(k)] = { ap: null, ap50: null, ap75: null, num_gt: 0, max_recall50: null };
        return {
          ...base,
          empty: true,
          metrics: { ...NULL_STATS, per_class: perClass },
          calibration: null,
          score_thresholds: null,
          confusion: null,
          pr_curve50: null,
        };
      }
      let res: CocoEvalResult;
      const sliceArea = objMask !== null;
      if (objMask === null) res = cocoOf(sel);
      else {
        const key = `${s.imageKey}|${s.objectKey}`;
        let r = attrResults.get(key);
        if (r === undefined) {
          const sd = sel.sub.dt;
          const counts =
            s.scoring === 'area-range'
              ? (d: number): boolean =>
                  areaMatches(s.objectConditions, sd.box[d * 4 + 2]! * sd.box[d * 4 + 3]!)
              : (): boolean => false;
          const mask = objMask;
          r = time('coco', () => evaluateSubset(markSliceObjects(sel.sub, mask, counts)));
          attrResults.set(key, r);
        }
        res = r;
      }
      const stats = sliceStats(res, kIdx, sliceArea);
      // detections per class in the selection
      const dtPerClass = new Int32Array(K);
      for (let d = 0; d < sel.sub.dt.count; d++) dtPerClass[sel.sub.dt.category[d]!]!++;
      // matching-based metrics: defined where false positives count (image and category slices)
      let cal: CalibrationSummary | null = null;
      let thr: ThresholdResult | null = null;
      let perClassCal: Record<string, CalibrationResult> = {};
      if (!sliceArea) {
        const catIds = new Set(classKeys.map((k) => Number(cols.categoryIds[k])));
        const gtCount = new Map<number, number>();
        const categories = new Map<number, string>();
        for (const k of classKeys) {
          gtCount.set(Number(cols.categoryIds[k]), gtPerClass[k]!);
          categories.set(Number(cols.categoryIds[k]), catName(k));
        }
        const m: Matching = {
          iouThreshold: matching.iouThreshold,
          detections:
            sel === all && kIdx === null
              ? matching.detections
              : matching.detections.filter((d) => sel.ids.has(d.image_id) && catIds.has(d.category_id)),
          gtCount,
          categories,
        };
        const c = time('calibration', () => calibrationSummary(m, bins));
        if (c !== null) {
          cal = summaryOf({ uniform: c.uniform.overall, quantile: c.quantile.overall });
          perClassCal = c.uniform.per_class;
        }
        thr = time('thresholds', () => tuneThresholds(m, thresholdOptions));
      }
      const thrBy = new Map((thr?.classes ?? []).map((c) => [c.category_id, c] as const));
      const perClass: Record<string, ClassMetrics> = {};
      for (const k of classKeys) {
        const cs = classStats(res, k, sliceArea);
        const t = thrBy.get(Number(cols.categoryIds[k]));
        perClass[catName(k)] = {
          ap: cs.ap,
          ap50: cs.ap50,
          ap75: cs.ap75,
          num_gt: gtPerClass[k]!,
          ...(sliceArea ? {} : { num_dt: dtPerClass[k]! }),
          max_recall50: cs.recall50,
          ...(t !== undefined
            ? {
                threshold: t.threshold,
                precision: t.precision,
                recall: t.recall,
                f1: t.f1,
                ece: perClassCal[catName(k)]?.ece ?? null,
              }
            : {}),
        };
      }
      // confusion: image slices get their own matrix; category slices the rows of their classes
      let conf: SliceResult['confusion'] = null;
      if (!sliceArea) {
        if (sel.confusion === null) {
          sel.gtObjects = gtObjectsOf(gt, sel.ids);
          const dts = detectionObjects(gt, sel.sub.dt, sel.sub.gt.imageIds);
          const g = sel.gtObjects;
          sel.confusion = time('confusion', () =>
            confusionMatrix(g, dts, { iouThreshold: 0.5, scoreThreshold: confusionScore }),
          );
        }
        const cm = sel.confusion;
        if (kIdx === null) conf = { labels: cm.labels, rows: cm.labels, matrix: cm.matrix };
        else {
          const rowsIdx = classKeys.map((k) => cm.labels.indexOf(catName(k))).filter((i) => i >= 0);
          conf = {
            labels: cm.labels,
            rows: rowsIdx.map((i) => cm.labels[i]!),
            matrix: rowsIdx.map((i) => cm.matrix[i]!),
          };
        }
      }
      return {
        ...base,
        empty: false,
        metrics: { ...stats, per_class: perClass },
        calibration: cal,
        score_thresholds: thr === null ? null : thr.score_thresholds,
        confusion: conf,
        pr_curve50: slicePrCurve50(res, kIdx, sliceArea),
      };
    }),
  );

  // ---- weighted mAP over non-empty slices ----------------------------------------------------------
  let wsum = 0;
  let wtot = 0;
  let used = 0;
  const emptyExcluded: string[] = [];
  for (const s of sliceResults) {
    if (s.empty || s.metrics.map === null) {
      emptyExcluded.push(s.name);
      continue;
    }
    wsum += s.weight * s.metrics.map;
    wtot += s.weight;
    used++;
  }
  return {
    images: all.sub.images,
    detections: all.sub.dt.count,
    overall,
    slices: sliceResults,
    calibration: { uniform: calibration?.uniform ?? null, quantile: calibration?.quantile ?? null },
    confusion,
    thresholds,
    pr_curves: prCurves,
    weighted_map: {
      value: round(wtot > 0 ? wsum / wtot : null),
      weight_total: wtot,
      slices_used: used,
      empty_excluded: emptyExcluded,
    },
    timings_ms: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v * 10) / 10])),
  };
}
