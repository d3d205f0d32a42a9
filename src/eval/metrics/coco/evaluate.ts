/**
 * The COCO detection evaluation (pycocotools' COCOeval evaluate + accumulate + summarize for iouType
 * bbox and segm), computed on columnar data:
 *
 * - ground truth and detections are grouped per (image, category) with counting sorts into index lists;
 * - per block, detections are ordered by score (stable, like mergesort) and cut to 100, the IoU matrix is
 *   computed once into a reused Float64Array, and the greedy matching runs per area range (a range whose
 *   ground-truth ignore flags equal an earlier range's reuses its matches: the matching depends on
 *   nothing else, and the three maxDets are prefixes of the same matching);
 * - per detection, the outcome at the 10 IoU thresholds is kept as bit masks per area range;
 * - accumulation sorts each category's detections once (score descending, ties in image then rank
 *   order, as a stable sort of the concatenation does) and walks them per (area, maxDets, threshold).
 *
 * Conventions that matter for exactness are those of pycocotools; see docs/metrics-coco.md.
 */
import type { CocoDetections, CocoGroundTruth, CocoId, CocoIouType } from './load.js';
import { boxIou, rleIouRuns } from './mask.js';

/** numpy.linspace(start, stop, num) as numpy computes it: i * step + start, the last value exactly stop. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** IoU thresholds .50:.05:.95, exactly as pycocotools' np.linspace(.5, 0.95, 10). */
export const IOU_THRESHOLDS: Float64Array = linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1);
/** Recall thresholds 0:.01:1 (101 values). */
export const RECALL_THRESHOLDS: Float64Array = linspace(0, 1, Math.round((1 - 0) / 0.01) + 1);
/** Area ranges all, small, medium, large (inclusive bounds, in pixels). */
export const AREA_RANGES: readonly (readonly [number, number])[] = [
  [0 ** 2, 1e5 ** 2],
  [0 ** 2, 32 ** 2],
  [32 ** 2, 96 ** 2],
  [96 ** 2, 1e5 ** 2],
];
/** Labels of AREA_RANGES. */
export const AREA_LABELS = ['all', 'small', 'medium', 'large'] as const;
/** Maximum detections per image and category considered. */
export const MAX_DETS: readonly number[] = [1, 10, 100];
/** Names of the 12 summary numbers, in order. */
export const STAT_NAMES: readonly string[] = [
  'AP',
  'AP50',
  'AP75',
  'APs',
  'APm',
  'APl',
  'AR1',
  'AR10',
  'AR100',
  'ARs',
  'ARm',
  'ARl',
];

const T = 10;
const R = 101;
const A = 4;
const M = 3;
const EPS = 2.220446049250313e-16; // np.spacing(1)

/** Per-class results for reports. */
export interface CocoClassResult {
  categoryId: CocoId;
  name: string;
  /** AP@[.5:.95] (area all, 100 detections); -1 when the class has no ground truth. */
  ap: number;
  /** AP at IoU .5 and .75 (-1 without ground truth). */
  ap50: number;
  ap75: number;
  /** Number of non-crowd ground-truth objects and of detections (before the 100 cut). */
  gtCount: number;
  dtCount: number;
  /** Precision at RECALL_THRESHOLDS at IoU .5 (area all, 100 detections); null without ground truth. */
  prAt50: number[] | null;
  /** The same averaged over the 10 IoU thresholds; null without ground truth. */
  prMean: number[] | null;
}

/** The outcome of a COCO evaluation. */
export interface CocoEvalResult {
  iouType: CocoIouType;
  /** AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl (-1 where undefined). */
  stats: number[];
  perClass: CocoClassResult[];
  /** Precision [T=10][R=101][K][A=4][M=3] in C order, -1 where undefined (as pycocotools' eval['precision']). */
  precision: Float64Array;
  /** Recall [T][K][A][M] (as eval['recall']). */
  recall: Float64Array;
  /** Category ids in the order of the K axis. */
  categoryIds: CocoId[];
  counts: { images: number; categories: number; gt: number; dt: number };
}

/** Pairwise summation as numpy's add.reduce does it for a contiguous float64 array (bit-identical). */
function pairwiseSum(a: Float64Array, s: number, n: number): number {
  if (n < 8) {
    let res = -0;
    for (let i = 0; i < n; i++) res += a[s + i]!;
    return res;
  }
  if (n <= 128) {
    let r0 = a[s]!;
    let r1 = a[s + 1]!;
    let r2 = a[s + 2]!;
    let r3 = a[s + 3]!;
    let r4 = a[s + 4]!;
    let r5 = a[s + 5]!;
    let r6 = a[s + 6]!;
    let r7 = a[s + 7]!;
    let i = 8;
    const lim = n - (n % 8);
    for (; i < lim; i += 8) {
      r0 += a[s + i]!;
      r1 += a[s + i + 1]!;
      r2 += a[s + i + 2]!;
      r3 += a[s + i + 3]!;
      r4 += a[s + i + 4]!;
      r5 += a[s + i + 5]!;
      r6 += a[s + i + 6]!;
      r7 += a[s + i + 7]!;
    }
    let res = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (; i < n; i++) res += a[s + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, s, n2) + pairwiseSum(a, s + n2, n - n2);
}

/** numpy's mean of the entries > -1 of `values` (in order), or -1 when there are none. */
function meanValid(values: Float64Array, n: number): number {
  const kept = new Float64Array(n);
  let c = 0;
  for (let i = 0; i < n; i++) if (values[i]! > -1) kept[c++] = values[i]!;
  if (c === 0) return -1;
  return (0 + pairwiseSum(kept, 0, c)) / c;
}

/** Stable counting sort of `order` by key[order[i]] in [0, buckets). */
function countingSort(order: Int32Array, key: Int32Array, buckets: number): Int32Array {
  const count = new Int32Array(buckets + 1);
  for (let i = 0; i < order.length; i++) count[key[order[i]!]! + 1]!++;
  for (let b = 0; b < buckets; b++) count[b + 1]! += count[b]!;
  const out = new Int32Array(order.length);
  for (let i = 0; i < order.length; i++) {
    const e = order[i]!;
    out[count[key[e]!]!++] = e;
  }
  return out;
}

/** Reusable scratch space, grown on demand. */
class Scratch {
  iou = new Float64Array(1024);
  order = new Int32Array(256);
  perm = new Int32Array(256);
  gIg = new Uint8Array(256 * A);
  gCrowd = new Uint8Array(256);
  gIdNZ = new Uint8Array(256);
  gtm = new Uint8Array(256);
  matchNZ = new Uint16Array(256 * A);
  matchIg = new Uint16Array(256 * A);
  rc = new Float64Array(1024);
  pr = new Float64Array(1024);
  fpAt = new Int32Array(1024);
  ensure(d: number, g: number): void {
    if (this.iou.length < d * g) this.iou = new Float64Array(d * g * 2);
    if (this.order.length < d) this.order = new Int32Array(d * 2);
    if (this.perm.length < g) {
      this.perm = new Int32Array(g * 2);
      this.gIg = new Uint8Array(g * 2 * A);
      this.gCrowd = new Uint8Array(g * 2);
      this.gIdNZ = new Uint8Array(g * 2);
      this.gtm = new Uint8Array(g * 2);
    }
    if (this.matchNZ.length < d * A) {
      this.matchNZ = new Uint16Array(d * 2 * A);
      this.matchIg = new Uint16Array(d * 2 * A);
    }
  }
  ensureCurve(n: number): void {
    if (this.rc.length < n) {
      this.rc = new Float64Array(n * 2);
      this.pr = new Float64Array(n * 2);
      this.fpAt = new Int32Array(n * 2);
    }
  }
}

/**
 * Runs the COCO evaluation of `dt` against `gt` (both loaded for the same iouType) and returns the 12
 * summary numbers, per-class AP and precision-recall curves, and the accumulated arrays.
 */
export function evaluateCoco(gt: CocoGroundTruth, dt: CocoDetections): CocoEvalResult {
  if (gt.iouType !== dt.iouType) throw new Error(`iouType mismatch: gt ${gt.iouType}, dt ${dt.iouType}`);
  const matched = matchAll(gt, dt);
  const { precision, recall } = accumulate(matched);
  return summarize(gt, dt, matched, precision, recall);
}

/** Per-detection outcomes, grouped per category in concatenation (image, rank) order. */
interface Matched {
  K: number;
  /** Category k's detections occupy slots catOff[k] .. catFill[k]. */
  catOff: Int32Array;
  catFill: Int32Array;
  outScore: Float64Array;
  outRank: Uint16Array;
  /** Bit t set: a true (false) positive at IoU threshold t, per slot and area range ([slot * A + a]). */
  outTp: Uint16Array;
  outFp: Uint16Array;
  /** Non-ignored ground truth per category and area range ([k * A + a]). */
  npig: Float64Array;
  gtCountByCat: Int32Array;
  dtCountByCat: Int32Array;
}

/** evaluate(): per (image, category) block, IoU and greedy matching for every area range. */
function matchAll(gt: CocoGroundTruth, dt: CocoDetections): Matched {
  const nI = gt.imageIds.length;
  const K = gt.categoryIds.length;
  const maxDet = MAX_DETS[M - 1]!;
  const segm = gt.iouType === 'segm';

  // ---- ground truth in evaluation order ------------------------------------------------------------
  // pycocotools loads annotations by id (the last one with an id wins), in image order then file order.
  let resolved: Int32Array | null = null;
  {
    const last = new Map<number, number>();
    for (let a = 0; a < gt.count; a++) last.set(gt.id[a]!, a);
    if (last.size !== gt.count) {
      resolved = new Int32Array(gt.count);
      for (let a = 0; a < gt.count; a++) resolved[a] = last.get(gt.id[a]!)!;
    }
  }
  let gtEntries: Int32Array; // entry e -> source annotation a (entries sorted later)
  {
    const list: number[] = [];
    for (let a = 0; a < gt.count; a++) {
      if (gt.image[a]! < 0 || gt.category[a]! < 0) continue;
      const r = resolved ? resolved[a]! : a;
      if (gt.image[r]! < 0 || gt.category[r]! < 0) continue;
      list.push(a);
    }
    gtEntries = Int32Array.from(list);
  }
  // LSD radix: (image of a, then category of r, then image of r), stable on file order.
  const gtRes = new Int32Array(gt.count);
  for (let a = 0; a < gt.count; a++) gtRes[a] = resolved ? resolved[a]! : a;
  const keyImgA = gt.image;
  const keyCatR = new Int32Array(gt.count);
  const keyImgR = new Int32Array(gt.count);
  for (let a = 0; a < gt.count; a++) {
    keyCatR[a] = gt.category[gtRes[a]!]!;
    keyImgR[a] = gt.image[gtRes[a]!]!;
  }
  if (resolved) gtEntries = countingSort(gtEntries, keyImgA, nI);
  gtEntries = countingSort(gtEntries, keyCatR, K);
  gtEntries = countingSort(gtEntries, keyImgR, nI);
  const gtOrder = new Int32Array(gtEntries.length); // resolved annotation per entry
  const gtEntryCat = new Int32Array(gtEntries.length);
  const gtImgStart = new Int32Array(nI + 1);
  for (let e = 0; e < gtEntries.length; e++) {
    const a = gtEntries[e]!;
    gtOrder[e] = gtRes[a]!;
    gtEntryCat[e] = keyCatR[a]!;
    gtImgStart[keyImgR[a]! + 1]!++;
  }
  for (let i = 0; i < nI; i++) gtImgStart[i + 1]! += gtImgStart[i]!;

  // ---- detections grouped by (image, category), file order within ------------------------------------
  const nDt = dt.count;
  let dtOrder: Int32Array = new Int32Array(nDt);
  for (let d = 0; d < nDt; d++) dtOrder[d] = d;
  dtOrder = countingSort(dtOrder, dt.category, K);
  dtOrder = countingSort(dtOrder, dt.image, nI);
  const dtImgStart = new Int32Array(nI + 1);
  for (let d = 0; d < nDt; d++) dtImgStart[dt.image[d]! + 1]!++;
  for (let i = 0; i < nI; i++) dtImgStart[i + 1]! += dtImgStart[i]!;

  // ---- per-category outputs (upper bound: every detection of the category) ------------------------
  const catOff = new Int32Array(K + 1);
  for (let d = 0; d < nDt; d++) catOff[dt.category[d]! + 1]!++;
  const dtCountByCat = new Int32Array(K);
  for (let k = 0; k < K; k++) dtCountByCat[k] = catOff[k + 1]!;
  for (let k = 0; k < K; k++) catOff[k + 1]! += catOff[k]!;
  const catFill = catOff.slice(0, K);
  const outScore = new Float64Array(nDt);
  const outRank = new Uint16Array(nDt);
  const outTp = new Uint16Array(nDt * A);
  const outFp = new Uint16Array(nDt * A);
  const npig = new Float64Array(K * A);
  const gtCountByCat = new Int32Array(K);

  const sc = new Scratch();
  const thr = new Float64Array(T);
  for (let t = 0; t < T; t++) thr[t] = Math.min(IOU_THRESHOLDS[t]!, 1 - 1e-10);
  const areaLo = new Float64Array(A);
  const areaHi = new Float64Array(A);
  for (let a = 0; a < A; a++) {
    areaLo[a] = AREA_RANGES[a]![0];
    areaHi[a] = AREA_RANGES[a]![1];
  }
  const gtBox = gt.box;
  const dtBox = dt.box;
  const gtRle = gt.rle;
  const dtRle = dt.rle;
  const gtCrowd = gt.crowd;
  const gtArea = gt.area;
  const gtId = gt.id;
  const dtCat = dt.category;
  const dtScore = dt.score;
  const dtArea = dt.area;

  for (let i = 0; i < nI; i++) {
    let ge = gtImgStart[i]!;
    const gEnd = gtImgStart[i + 1]!;
    let de = dtImgStart[i]!;
    const dEnd = dtImgStart[i + 1]!;
    while (ge < gEnd || de < dEnd) {
      const kg = ge < gEnd ? gtEntryCat[ge]! : K;
      const kd = de < dEnd ? dtCat[dtOrder[de]!]! : K;
      const k = kg < kd ? kg : kd;
      const g0 = ge;
      while (ge < gEnd && gtEntryCat[ge] === k) ge++;
      const d0 = de;
      while (de < dEnd && dtCat[dtOrder[de]!] === k) de++;
      const G = ge - g0;
      const Dall = de - d0;
      sc.ensure(Dall, G);
      // detections by score, descending, stable
      const ord = sc.order;
      for (let j = 0; j < Dall; j++) ord[j] = dtOrder[d0 + j]!;
      sortByScoreStable(ord, Dall, dtScore);
      const D = Dall < maxDet ? Dall : maxDet;

      // ground-truth ignore flags per area range; block-local copies of crowd and id
      const gIg = sc.gIg;
      const gCrowd = sc.gCrowd;
      const gIdNZ = sc.gIdNZ;
      for (let gi = 0; gi < G; gi++) {
        const g = gtOrder[g0 + gi]!;
        gCrowd[gi] = gtCrowd[g]!;
        gIdNZ[gi] = gtId[g] !== 0 ? 1 : 0;
      }
      for (let a = 0; a < A; a++) {
        const lo = areaLo[a]!;
        const hi = areaHi[a]!;
        let nonIg = 0;
        for (let gi = 0; gi < G; gi++) {
          const ar = gtArea[gtOrder[g0 + gi]!]!;
          const ig = gCrowd[gi] === 1 || ar < lo || ar > hi ? 1 : 0;
          gIg[a * G + gi] = ig;
          nonIg += 1 - ig;
        }
        npig[k * A + a]! += nonIg;
        if (a === 0) gtCountByCat[k]! += nonIg;
      }

      const matchNZ = sc.matchNZ;
      const matchIg = sc.matchIg;
      if (D > 0 && G > 0) {
        // IoU matrix D x G (gt in loading order)
        const iou = sc.iou;
        for (let di = 0; di < D; di++) {
          const d = ord[di]!;
          for (let gi = 0; gi < G; gi++) {
            const g = gtOrder[g0 + gi]!;
            const crowd = gCrowd[gi] === 1;
            iou[di * G + gi] = segm
              ? maskIou(dtRle!, d, gtRle!, g, crowd)
              : boxIou(
                  dtBox[d * 4]!,
                  dtBox[d * 4 + 1]!,
                  dtBox[d * 4 + 2]!,
                  dtBox[d * 4 + 3]!,
                  gtBox[g * 4]!,
                  gtBox[g * 4 + 1]!,
                  gtBox[g * 4 + 2]!,
                  gtBox[g * 4 + 3]!,
                  crowd,
                );
          }
        }
        // greedy matching per area range, reusing an earlier range's when the ignore flags agree
        for (let a = 0; a < A; a++) {
          let same = -1;
          for (let b = 0; b < a && same < 0; b++) {
            let eq = true;
            for (let gi = 0; gi < G; gi++) {
              if (gIg[a * G + gi] !== gIg[b * G + gi]) {
                eq = false;
                break;
              }
            }
            if (eq) same = b;
          }
          if (same >= 0) {
            for (let di = 0; di < D; di++) {
              matchNZ[a * D + di] = matchNZ[same * D + di]!;
              matchIg[a * D + di] = matchIg[same * D + di]!;
            }
            continue;
          }
          matchBlock(iou, D, G, gIg, a * G, gCrowd, gIdNZ, thr, sc.perm, sc.gtm, matchNZ, matchIg, a * D);
        }
      } else {
        matchNZ.fill(0, 0, D * A);
        matchIg.fill(0, 0, D * A);
      }

      // outcomes per detection
      for (let di = 0; di < D; di++) {
        const d = ord[di]!;
        const slot = catFill[k]!++;
        outScore[slot] = dtScore[d]!;
        outRank[slot] = di;
        const ar = dtArea[d]!;
        for (let a = 0; a < A; a++) {
          const nz = matchNZ[a * D + di]!;
          let ig = matchIg[a * D + di]!;
          if (ar < areaLo[a]! || ar > areaHi[a]!) ig |= ~nz & 0x3ff;
          outTp[slot * A + a] = nz & ~ig & 0x3ff;
          outFp[slot * A + a] = ~nz & ~ig & 0x3ff;
        }
      }
    }
  }

  return { K, catOff, catFill, outScore, outRank, outTp, outFp, npig, gtCountByCat, dtCountByCat };
}

/** accumulate(): precision [T][R][K][A][M] and recall [T][K][A][M], -1 where a class has no ground truth. */
function accumulate(mt: Matched): { precision: Float64Array; recall: Float64Array } {
  const { K, catOff, catFill, outScore, outRank, outTp, outFp, npig } = mt;
  const sc = new Scratch();
  const radix = new RadixScratch();
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  let sTp = new Uint16Array(0);
  let sFp = new Uint16Array(0);
  for (let k = 0; k < K; k++) {
    const off = catOff[k]!;
    const n = catFill[k]! - off;
    // One stable sort per category: score descending, ties in concatenation (image, rank) order.
    const idx = sortSlotsByScore(outScore, off, n, radix);
    // Gather into contiguous arrays in sorted order, one list per maxDets (the detections of rank <
    // maxDets; each list is a subsequence of the next, in the same order).
    if (sTp.length < n * A) {
      sTp = new Uint16Array(n * 2 * A);
      sFp = new Uint16Array(n * 2 * A);
    }
    const mStart = [0, 0, 0];
    const mLen = [0, 0, 0];
    {
      let total = 0;
      const cnt = [0, 0, 0];
      for (let j = 0; j < n; j++) {
        const rank = outRank[idx[j]!]!;
        for (let m = 0; m < M; m++) if (rank < MAX_DETS[m]!) cnt[m]!++;
      }
      for (let m = 0; m < M; m++) {
        mStart[m] = total;
        mLen[m] = cnt[m]!;
        total += cnt[m]!;
      }
      if (sTp.length < total * A) {
        sTp = new Uint16Array(total * 2 * A);
        sFp = new Uint16Array(total * 2 * A);
      }
      const fill = [0, 0, 0];
      for (let j = 0; j < n; j++) {
        const e = idx[j]!;
        const rank = outRank[e]!;
        for (let m = 0; m < M; m++) {
          if (rank >= MAX_DETS[m]!) continue;
          const pos = (mStart[m]! + fill[m]!++) * A;
          for (let a = 0; a < A; a++) {
            sTp[pos + a] = outTp[e * A + a]!;
            sFp[pos + a] = outFp[e * A + a]!;
          }
        }
      }
    }
    // Per (area, maxDets, threshold): one counting pass. Precision at a recall threshold is the
    // running maximum of precision from the right, and that maximum is always reached at a true
    // positive (a false positive only lowers precision); the first detection reaching a recall
    // threshold is a true positive too (recall only grows there). So precision and recall are
    // computed at true positives only, with the same float operations pycocotools applies there.
    sc.ensureCurve(n + 1);
    const fpAt = sc.fpAt;
    const rc = sc.rc;
    const pr = sc.pr;
    const stride = K * A * M;
    for (let a = 0; a < A; a++) {
      const np = npig[k * A + a]!;
      if (np === 0) continue;
      for (let m = 0; m < M; m++) {
        const lo = mStart[m]! * A + a;
        const hi = (mStart[m]! + mLen[m]!) * A;
        const pbase = (k * A + a) * M + m;
        for (let t = 0; t < T; t++) {
          const bit = 1 << t;
          let tp = 0;
          let fp = 0;
          for (let p = lo; p < hi; p += A) {
            if (sTp[p]! & bit) fpAt[tp++] = fp;
            else if (sFp[p]! & bit) fp++;
          }
          const nd = tp + fp;
          for (let c = 0; c < tp; c++) {
            const tpc = c + 1;
            rc[c] = tpc / np;
            pr[c] = tpc / (fpAt[c]! + tpc + EPS);
          }
          recall[((t * K + k) * A + a) * M + m] = nd > 0 ? tp / np : 0;
          for (let c = tp - 1; c > 0; c--) if (pr[c]! > pr[c - 1]!) pr[c - 1] = pr[c]!;
          let ptr = 0;
          for (let r = 0; r < R; r++) {
            const rt = RECALL_THRESHOLDS[r]!;
            while (ptr < tp && rc[ptr]! < rt) ptr++;
            precision[(t * R + r) * stride + pbase] = ptr < tp ? pr[ptr]! : 0;
          }
        }
      }
    }
  }

  return { precision, recall };
}

/** summarize(): the 12 stats, per-class AP and curves. */
function summarize(
  gt: CocoGroundTruth,
  dt: CocoDetections,
  mt: Matched,
  precision: Float64Array,
  recall: Float64Array,
): CocoEvalResult {
  const { K, npig, gtCountByCat, dtCountByCat } = mt;
  const nI = gt.imageIds.length;
  const nDt = dt.count;
  const tIndex = (v: number): number[] => {
    const out: number[] = [];
    for (let t = 0; t < T; t++) if (IOU_THRESHOLDS[t] === v) out.push(t);
    return out;
  };
  const allT = [...Array(T).keys()];
  const apOf = (ts: number[], a: number, m: number, ks: number[]): number => {
    const vals = new Float64Array(ts.length * R * ks.length);
    let c = 0;
    for (const t of ts)
      for (let r = 0; r < R; r++)
        for (const k of ks) vals[c++] = precision[(((t * R + r) * K + k) * A + a) * M + m]!;
    return meanValid(vals, c);
  };
  const arOf = (a: number, m: number): number => {
    const vals = new Float64Array(T * K);
    let c = 0;
    for (let t = 0; t < T; t++)
      for (let k = 0; k < K; k++) vals[c++] = recall[((t * K + k) * A + a) * M + m]!;
    return meanValid(vals, c);
  };
  const allK = [...Array(K).keys()];
  const m100 = MAX_DETS.indexOf(100);
  const stats = [
    apOf(allT, 0, m100, allK),
    apOf(tIndex(0.5), 0, m100, allK),
    apOf(tIndex(0.75), 0, m100, allK),
    apOf(allT, 1, m100, allK),
    apOf(allT, 2, m100, allK),
    apOf(allT, 3, m100, allK),
    arOf(0, MAX_DETS.indexOf(1)),
    arOf(0, MAX_DETS.indexOf(10)),
    arOf(0, m100),
    arOf(1, m100),
    arOf(2, m100),
    arOf(3, m100),
  ];

  const perClass: CocoClassResult[] = [];
  for (let k = 0; k < K; k++) {
    const valid = npig[k * A]! > 0;
    const curve = (ts: number[]): number[] | null => {
      if (!valid) return null;
      const out: number[] = [];
      for (let r = 0; r < R; r++) {
        let s = 0;
        for (const t of ts) s += precision[(((t * R + r) * K + k) * A + 0) * M + m100]!;
        out.push(s / ts.length);
      }
      return out;
    };
    perClass.push({
      categoryId: gt.categoryIds[k]!,
      name: gt.categoryNames[k] ?? '',
      ap: apOf(allT, 0, m100, [k]),
      ap50: apOf(tIndex(0.5), 0, m100, [k]),
      ap75: apOf(tIndex(0.75), 0, m100, [k]),
      gtCount: gtCountByCat[k]!,
      dtCount: dtCountByCat[k]!,
      prAt50: curve(tIndex(0.5)),
      prMean: curve(allT),
    });
  }

  return {
    iouType: gt.iouType,
    stats,
    perClass,
    precision,
    recall,
    categoryIds: gt.categoryIds,
    counts: { images: nI, categories: K, gt: gt.count, dt: nDt },
  };
}

/**
 * pycocotools' greedy matching of one block at the 10 IoU thresholds: detections in score order take
 * the best still-free ground truth with IoU >= threshold (crowd regions stay free), preferring
 * non-ignored ground truth (ignored ones are sorted last and only reached when no regular match was
 * found). Writes bit t of matchNZ (matched, and the ground truth's id is not 0: pycocotools records the
 * id, and id 0 reads as unmatched) and of matchIg (matched to an ignored ground truth).
 */
function matchBlock(
  iou: Float64Array,
  D: number,
  G: number,
  gIg: Uint8Array,
  igOff: number,
  gCrowd: Uint8Array,
  gIdNZ: Uint8Array,
  thr: Float64Array,
  perm: Int32Array,
  gtm: Uint8Array,
  matchNZ: Uint16Array,
  matchIg: Uint16Array,
  outOff: number,
): void {
  let p = 0;
  for (let gi = 0; gi < G; gi++) if (!gIg[igOff + gi]) perm[p++] = gi;
  for (let gi = 0; gi < G; gi++) if (gIg[igOff + gi]) perm[p++] = gi;
  for (let di = 0; di < D; di++) {
    matchNZ[outOff + di] = 0;
    matchIg[outOff + di] = 0;
  }
  for (let t = 0; t < T; t++) {
    for (let q = 0; q < G; q++) gtm[q] = 0;
    const bit = 1 << t;
    for (let di = 0; di < D; di++) {
      let best = thr[t]!;
      let m = -1;
      let mIg = 0;
      const row = di * G;
      for (let q = 0; q < G; q++) {
        const gi = perm[q]!;
        if (gtm[q] === 1 && gCrowd[gi] !== 1) continue;
        const ig = gIg[igOff + gi]!;
        if (m > -1 && mIg === 0 && ig === 1) break;
        const v = iou[row + gi]!;
        if (v < best) continue;
        best = v;
        m = q;
        mIg = ig;
      }
      if (m === -1) continue;
      gtm[m] = 1;
      if (mIg === 1) matchIg[outOff + di]! |= bit;
      if (gIdNZ[perm[m]!] === 1) matchNZ[outOff + di]! |= bit;
    }
  }
}

/** Reusable buffers of sortSlotsByScore. */
class RadixScratch {
  hi = new Uint32Array(0);
  lo = new Uint32Array(0);
  ix = new Int32Array(0);
  hi2 = new Uint32Array(0);
  lo2 = new Uint32Array(0);
  ix2 = new Int32Array(0);
  f = new Float64Array(1);
  u = new Uint32Array(this.f.buffer);
  count = new Int32Array(256);
  ensure(n: number): void {
    if (this.hi.length >= n) return;
    const m = n * 2;
    this.hi = new Uint32Array(m);
    this.lo = new Uint32Array(m);
    this.ix = new Int32Array(m);
    this.hi2 = new Uint32Array(m);
    this.lo2 = new Uint32Array(m);
    this.ix2 = new Int32Array(m);
  }
}

/**
 * The slots off .. off+n ordered by score descending, ties in slot order: what a stable sort (numpy's
 * mergesort) of the concatenation gives. Scores are finite and >= 0 (and never -0), so their IEEE bit
 * patterns order like the values; an LSD radix sort (8-bit digits) on the complemented bits is stable.
 */
function sortSlotsByScore(score: Float64Array, off: number, n: number, rs: RadixScratch): Int32Array {
  if (n < 64) {
    const idx = Array.from({ length: n }, (_, j) => off + j);
    idx.sort((x, y) => score[y]! - score[x]! || x - y);
    return Int32Array.from(idx);
  }
  rs.ensure(n);
  let hi: Uint32Array = rs.hi;
  let lo: Uint32Array = rs.lo;
  let ix: Int32Array = rs.ix;
  let hi2: Uint32Array = rs.hi2;
  let lo2: Uint32Array = rs.lo2;
  let ix2: Int32Array = rs.ix2;
  const f = rs.f;
  const u = rs.u;
  const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const LO = little ? 0 : 1;
  for (let j = 0; j < n; j++) {
    f[0] = score[off + j]!;
    lo[j] = ~u[LO]! >>> 0;
    hi[j] = ~u[1 - LO]! >>> 0;
    ix[j] = off + j;
  }
  const count = rs.count;
  for (let pass = 0; pass < 8; pass++) {
    const useHi = pass >= 4;
    const shift = (pass % 4) * 8;
    const key = useHi ? hi : lo;
    count.fill(0);
    for (let j = 0; j < n; j++) count[(key[j]! >>> shift) & 255]!++;
    let skip = false;
    for (let b = 0; b < 256; b++) {
      if (count[b] === n) skip = true;
      if (count[b] !== 0) break;
    }
    if (skip) continue;
    let sum = 0;
    for (let b = 0; b < 256; b++) {
      const c = count[b]!;
      count[b] = sum;
      sum += c;
    }
    for (let j = 0; j < n; j++) {
      const dst = count[(key[j]! >>> shift) & 255]!++;
      hi2[dst] = hi[j]!;
      lo2[dst] = lo[j]!;
      ix2[dst] = ix[j]!;
    }
    let t: Uint32Array = hi;
    hi = hi2;
    hi2 = t;
    t = lo;
    lo = lo2;
    lo2 = t;
    const ti = ix;
    ix = ix2;
    ix2 = ti;
  }
  return ix.slice(0, n);
}

/** Orders ord[0..n) by score descending, keeping the given order among equal scores. */
function sortByScoreStable(ord: Int32Array, n: number, score: Float64Array): void {
  if (n < 2) return;
  if (n <= 64) {
    for (let i = 1; i < n; i++) {
      const x = ord[i]!;
      const sx = score[x]!;
      let j = i - 1;
      while (j >= 0 && score[ord[j]!]! < sx) {
        ord[j + 1] = ord[j]!;
        j--;
      }
      ord[j + 1] = x;
    }
    return;
  }
  const pos = new Map<number, number>();
  const sub = Array.from(ord.subarray(0, n));
  sub.forEach((x, i) => pos.set(x, i));
  sub.sort((x, y) => score[y]! - score[x]! || pos.get(x)! - pos.get(y)!);
  for (let i = 0; i < n; i++) ord[i] = sub[i]!;
}

/** Mask IoU with the COCO mask API's rules: a box pre-check, -1 for masks of different sizes. */
function maskIou(
  dr: NonNullable<CocoDetections['rle']>,
  d: number,
  gr: NonNullable<CocoGroundTruth['rle']>,
  g: number,
  crowd: boolean,
): number {
  const db = dr.box;
  const gb = gr.box;
  const pre = boxIou(
    db[d * 4]!,
    db[d * 4 + 1]!,
    db[d * 4 + 2]!,
    db[d * 4 + 3]!,
    gb[g * 4]!,
    gb[g * 4 + 1]!,
    gb[g * 4 + 2]!,
    gb[g * 4 + 3]!,
    crowd,
  );
  if (!(pre > 0)) return pre;
  if (dr.h[d] !== gr.h[g] || dr.w[d] !== gr.w[g]) return -1;
  return rleIouRuns(dr.counts, dr.start[d]!, dr.end[d]!, gr.counts, gr.start[g]!, gr.end[g]!, crowd);
}
