/**
 * COCO metrics of slices, computed with the shared fast COCO evaluator (metrics/coco) on subsets of
 * the columnar ground truth and detections, without re-reading or copying the annotations:
 *
 * - an image subset shares every annotation array and only remaps the image index (annotations of
 *   dropped images get -1, which the evaluator skips); detections of dropped images are left out;
 * - a category restriction needs no new run: COCO evaluates every category independently, so the
 *   slice's numbers are the means over the kept categories of the accumulated precision/recall
 *   arrays (what pycocotools gives with `params.catIds` set to those categories);
 * - an object-attribute slice runs once more with each annotation's `area` replaced by a marker that
 *   puts the slice's objects in COCO's "large" range and the others outside it, and each detection's
 *   area in or out of that range, then reads the "large" entries of the arrays: COCO's own
 *   area-range rule (ignored ground truth, detections matched to it ignored, unmatched detections
 *   ignored when outside the range) then does exactly the slice scoring of slices.ts.
 */
import type { CocoDetections, CocoEvalResult, CocoGroundTruth } from './metrics/coco/index.js';
import { AREA_RANGES, IOU_THRESHOLDS, evaluateCoco } from './metrics/coco/index.js';

/** Marker area inside COCO's "large" range (and "all"). */
const IN_RANGE = 1e9;
/** Marker area of ground truth outside the slice: in "all" and "medium", outside "large". */
const GT_OUT_OF_RANGE = 5000;
/** Marker area of detections outside the slice: outside "large". */
const DT_OUT_OF_RANGE = 0;
/** Index of the "large" range in the accumulated arrays. */
const SLICE_AREA = 3;

if (!(IN_RANGE >= AREA_RANGES[SLICE_AREA]![0] && IN_RANGE <= AREA_RANGES[SLICE_AREA]![1])) {
  throw new Error('slice area marker outside the large range');
}

/** Ground truth and detections of a subset of images. */
export interface CocoSubset {
  gt: CocoGroundTruth;
  dt: CocoDetections;
  /** Number of images in the subset. */
  images: number;
}

/** The subset of images whose mask entry (by ground-truth image index) is 1. */
export function subsetByImages(gt: CocoGroundTruth, dt: CocoDetections, keep: Uint8Array): CocoSubset {
  const nI = gt.imageIds.length;
  const remap = new Int32Array(nI).fill(-1);
  const imageIds: CocoGroundTruth['imageIds'] = [];
  const imageIndex = new Map<CocoGroundTruth['imageIds'][number], number>();
  const h: number[] = [];
  const w: number[] = [];
  for (let i = 0; i < nI; i++) {
    if (keep[i] !== 1) continue;
    remap[i] = imageIds.length;
    imageIndex.set(gt.imageIds[i]!, imageIds.length);
    imageIds.push(gt.imageIds[i]!);
    h.push(gt.imageHeight[i]!);
    w.push(gt.imageWidth[i]!);
  }
  const image = new Int32Array(gt.count);
  for (let a = 0; a < gt.count; a++) {
    const i = gt.image[a]!;
    image[a] = i < 0 ? -1 : remap[i]!;
  }
  const sub: CocoGroundTruth = {
    ...gt,
    imageIds,
    imageIndex,
    imageHeight: Float64Array.from(h),
    imageWidth: Float64Array.from(w),
    image,
  };
  let n = 0;
  for (let d = 0; d < dt.count; d++) if (remap[dt.image[d]!]! >= 0) n++;
  const dImage = new Int32Array(n);
  const dCat = new Int32Array(n);
  const dScore = new Float64Array(n);
  const dArea = new Float64Array(n);
  const dBox = new Float64Array(n * 4);
  let j = 0;
  for (let d = 0; d < dt.count; d++) {
    const r = remap[dt.image[d]!]!;
    if (r < 0) continue;
    dImage[j] = r;
    dCat[j] = dt.category[d]!;
    dScore[j] = dt.score[d]!;
    dArea[j] = dt.area[d]!;
    dBox.set(dt.box.subarray(d * 4, d * 4 + 4), j * 4);
    j++;
  }
  return {
    gt: sub,
    dt: { ...dt, count: n, image: dImage, category: dCat, score: dScore, area: dArea, box: dBox, rle: null },
    images: imageIds.length,
  };
}

/**
 * The subset re-labelled for an object-attribute slice: annotations with `inSlice[a] = 1` count,
 * the others are ignored; a detection counts as a false positive when unmatched only if
 * `dtCounts(d)` (its index in the subset) says so.
 */
export function markSliceObjects(
  sub: CocoSubset,
  inSlice: Uint8Array,
  dtCounts: (d: number) => boolean,
): CocoSubset {
  const gtArea = new Float64Array(sub.gt.count);
  for (let a = 0; a < sub.gt.count; a++) gtArea[a] = inSlice[a] === 1 ? IN_RANGE : GT_OUT_OF_RANGE;
  const dtArea = new Float64Array(sub.dt.count);
  for (let d = 0; d < sub.dt.count; d++) dtArea[d] = dtCounts(d) ? IN_RANGE : DT_OUT_OF_RANGE;
  return { gt: { ...sub.gt, area: gtArea }, dt: { ...sub.dt, area: dtArea }, images: sub.images };
}

/** Runs the COCO evaluation of a subset. */
export function evaluateSubset(sub: CocoSubset): CocoEvalResult {
  return evaluateCoco(sub.gt, sub.dt);
}

/** The COCO summary of a slice (null where COCO gives -1: nothing to evaluate). */
export interface SliceCocoStats {
  map: number | null;
  map50: number | null;
  map75: number | null;
  map_small: number | null;
  map_medium: number | null;
  map_large: number | null;
  mar1: number | null;
  mar10: number | null;
  mar100: number | null;
  mar_small: number | null;
  mar_medium: number | null;
  mar_large: number | null;
}

/** Per-class COCO numbers within a slice. */
export interface SliceClassStats {
  ap: number | null;
  ap50: number | null;
  ap75: number | null;
  /** Recall at IoU 0.5 with 100 detections per image (the end of the PR curve). */
  recall50: number | null;
}

const T = 10;
const R = 101;
const A = 4;
const M = 3;
const T75 = IOU_THRESHOLDS.findIndex((t) => Math.abs(t - 0.75) < 1e-9);

const nullable = (v: number): number | null => (v < 0 ? null : v);

function meanPrecision(res: CocoEvalResult, ks: readonly number[], a: number, m: number, t?: number): number {
  const K = res.categoryIds.length;
  let sum = 0;
  let n = 0;
  const t0 = t ?? 0;
  const t1 = t === undefined ? T : t + 1;
  for (let ti = t0; ti < t1; ti++) {
    for (let r = 0; r < R; r++) {
      for (const k of ks) {
        const v = res.precision[(((ti * R + r) * K + k) * A + a) * M + m]!;
        if (v > -1) {
          sum += v;
          n++;
        }
      }
    }
  }
  return n === 0 ? -1 : sum / n;
}

function meanRecall(res: CocoEvalResult, ks: readonly number[], a: number, m: number, t?: number): number {
  const K = res.categoryIds.length;
  let sum = 0;
  let n = 0;
  const t0 = t ?? 0;
  const t1 = t === undefined ? T : t + 1;
  for (let ti = t0; ti < t1; ti++) {
    for (const k of ks) {
      const v = res.recall[((ti * K + k) * A + a) * M + m]!;
      if (v > -1) {
        sum += v;
        n++;
      }
    }
  }
  return n === 0 ? -1 : sum / n;
}

/**
 * The slice's COCO summary from an evaluation. `categories`: category indexes to average over (null:
 * all, and then the evaluator's own 12 stats are used as they are). `sliceArea`: read the "large"
 * entries written by markSliceObjects (the area-split stats are then null: the area ranges carry the
 * slice).
 */
export function sliceStats(
  res: CocoEvalResult,
  categories: readonly number[] | null,
  sliceArea: boolean,
): SliceCocoStats {
  if (categories === null && !sliceArea) {
    const s = res.stats.map(nullable);
    return {
      map: s[0]!,
      map50: s[1]!,
      map75: s[2]!,
      map_small: s[3]!,
      map_medium: s[4]!,
      map_large: s[5]!,
      mar1: s[6]!,
      mar10: s[7]!,
      mar100: s[8]!,
      mar_small: s[9]!,
      mar_medium: s[10]!,
      mar_large: s[11]!,
    };
  }
  const ks = categories ?? res.categoryIds.map((_, k) => k);
  const a = sliceArea ? SLICE_AREA : 0;
  const ap = (area: number, t?: number): number | null => nullable(meanPrecision(res, ks, area, M - 1, t));
  const ar = (area: number, m: number): number | null => nullable(meanRecall(res, ks, area, m));
  return {
    map: ap(a),
    map50: ap(a, 0),
    map75: ap(a, T75),
    map_small: sliceArea ? null : ap(1),
    map_medium: sliceArea ? null : ap(2),
    map_large: sliceArea ? null : ap(3),
    mar1: ar(a, 0),
    mar10: ar(a, 1),
    mar100: ar(a, 2),
    mar_small: sliceArea ? null : ar(1, 2),
    mar_medium: sliceArea ? null : ar(2, 2),
    mar_large: sliceArea ? null : ar(3, 2),
  };
}

/** One category's numbers within a slice (category index k of the evaluation). */
export function classStats(res: CocoEvalResult, k: number, sliceArea: boolean): SliceClassStats {
  const a = sliceArea ? SLICE_AREA : 0;
  return {
    ap: nullable(meanPrecision(res, [k], a, M - 1)),
    ap50: nullable(meanPrecision(res, [k], a, M - 1, 0)),
    ap75: nullable(meanPrecision(res, [k], a, M - 1, T75)),
    recall50: nullable(meanRecall(res, [k], a, M - 1, 0)),
  };
}

/**
 * A slice's precision-recall curve at IoU 0.5 (100 detections per image): precision at COCO's 101
 * recall points, averaged over the given categories that have ground truth (the curve whose mean
 * is the slice's AP50). Null when no category has ground truth.
 */
export function slicePrCurve50(
  res: CocoEvalResult,
  categories: readonly number[] | null,
  sliceArea: boolean,
): number[] | null {
  const K = res.categoryIds.length;
  const ks = categories ?? res.categoryIds.map((_, k) => k);
  const a = sliceArea ? SLICE_AREA : 0;
  const out: number[] = [];
  for (let r = 0; r < R; r++) {
    let sum = 0;
    let n = 0;
    for (const k of ks) {
      const v = res.precision[((r * K + k) * A + a) * M + (M - 1)]!;
      if (v > -1) {
        sum += v;
        n++;
      }
    }
    if (n === 0) return null;
    out.push(sum / n);
  }
  return out;
}
