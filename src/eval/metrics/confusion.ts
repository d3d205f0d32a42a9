/**
 * The detection confusion matrix: which class each ground-truth object was detected as, across
 * classes, with "background" for misses and false positives.
 *
 * The rule, per image:
 * 1. Detections with score >= scoreThreshold take part; the others are dropped.
 * 2. Every pair (non-crowd ground truth g, detection d) of any classes with IoU(d, g) >=
 *    iouThreshold is a candidate. Candidates are taken greedily by descending IoU (ties: higher
 *    detection score, then lower ground-truth index, then lower detection index, in input order);
 *    a pair is taken when neither g nor d is taken yet. So each ground truth gets the best-IoU
 *    detection still free, of whatever class, and each detection explains one ground truth at most.
 * 3. A taken pair counts in row class(g), column class(d) (the diagonal: correct class).
 *    A ground truth left alone counts in row class(g), column background (missed).
 *    A detection left alone counts in row background, column class(d) (false positive), unless
 *    it covers a crowd region (intersection / detection area >= iouThreshold): then it is ignored.
 * Rows are ground-truth classes then background; columns predicted classes then background.
 * The background/background cell is always 0.
 */
import { badInput } from '../../core/errors.js';
import { iou } from './detections.js';
import type { Box, CocoDetection, CocoGroundTruth } from './detections.js';

/** A detection confusion matrix. */
export interface ConfusionMatrix {
  iou_threshold: number;
  score_threshold: number;
  /** Class names in category-id order, then 'background'. Row and column labels alike. */
  labels: string[];
  /** matrix[row = ground truth][column = prediction]. */
  matrix: number[][];
  /** Detections left out because they covered crowd regions. */
  ignored_detections: number;
}

/** Options of confusionMatrix. */
export interface ConfusionOptions {
  /** Default 0.5. */
  iouThreshold?: number;
  /** Default 0.5. */
  scoreThreshold?: number;
}

/** Computes the detection confusion matrix (rule in this module's comment). */
export function confusionMatrix(
  gt: CocoGroundTruth,
  dt: ReadonlyArray<CocoDetection>,
  options: ConfusionOptions = {},
): ConfusionMatrix {
  const iouT = options.iouThreshold ?? 0.5;
  const scoreT = options.scoreThreshold ?? 0.5;
  const cats = [...gt.categories].sort((a, b) => a.id - b.id);
  const index = new Map(cats.map((c, i) => [c.id, i] as const));
  const bg = cats.length;
  const matrix = Array.from({ length: bg + 1 }, () => new Array<number>(bg + 1).fill(0));
  const images = new Set(gt.images.map((i) => i.id));
  const gtBy = new Map<number, Array<{ box: Box; cls: number; crowd: boolean }>>();
  for (const a of gt.annotations) {
    const cls = index.get(a.category_id);
    if (cls === undefined) {
      throw badInput('annotation of a category that is not declared', {
        field: 'annotations.category_id',
        expected: `one of ${cats.map((c) => c.id).join(', ')}`,
        found: String(a.category_id),
      });
    }
    const list = gtBy.get(a.image_id) ?? [];
    list.push({ box: a.bbox, cls, crowd: a.iscrowd === 1 || a.iscrowd === true });
    gtBy.set(a.image_id, list);
  }
  const dtBy = new Map<number, Array<{ box: Box; cls: number; score: number }>>();
  for (const d of dt) {
    if (d.score < scoreT) continue;
    const cls = index.get(d.category_id);
    if (cls === undefined) {
      throw badInput('detection of a category the ground truth does not declare', {
        field: 'category_id',
        expected: `one of ${cats.map((c) => c.id).join(', ')}`,
        found: String(d.category_id),
      });
    }
    if (!images.has(d.image_id)) {
      throw badInput('detection on an image that is not in the ground truth', {
        field: 'image_id',
        expected: 'an image id of the ground truth',
        found: String(d.image_id),
      });
    }
    const list = dtBy.get(d.image_id) ?? [];
    list.push({ box: d.bbox, cls, score: d.score });
    dtBy.set(d.image_id, list);
  }
  let ignored = 0;
  for (const img of images) {
    const all = gtBy.get(img) ?? [];
    const gts = all.filter((g) => !g.crowd);
    const crowds = all.filter((g) => g.crowd);
    const dets = dtBy.get(img) ?? [];
    const pairs: Array<{ g: number; d: number; v: number }> = [];
    for (let g = 0; g < gts.length; g++) {
      for (let d = 0; d < dets.length; d++) {
        const v = iou(dets[d]!.box, gts[g]!.box);
        if (v >= iouT && v > 0) pairs.push({ g, d, v });
      }
    }
    pairs.sort((a, b) => b.v - a.v || dets[b.d]!.score - dets[a.d]!.score || a.g - b.g || a.d - b.d);
    const gTaken = new Array<boolean>(gts.length).fill(false);
    const dTaken = new Array<boolean>(dets.length).fill(false);
    for (const p of pairs) {
      if (gTaken[p.g] || dTaken[p.d]) continue;
      gTaken[p.g] = true;
      dTaken[p.d] = true;
      matrix[gts[p.g]!.cls]![dets[p.d]!.cls]! += 1;
    }
    gts.forEach((g, i) => {
      if (!gTaken[i]) matrix[g.cls]![bg]! += 1;
    });
    dets.forEach((d, i) => {
      if (dTaken[i]) return;
      if (crowds.some((c) => iou(d.box, c.box, true) >= iouT)) ignored++;
      else matrix[bg]![d.cls]! += 1;
    });
  }
  return {
    iou_threshold: iouT,
    score_threshold: scoreT,
    labels: [...cats.map((c) => c.name), 'background'],
    matrix,
    ignored_detections: ignored,
  };
}

/** The matrix as an aligned text table (rows: ground truth, columns: predicted). */
export function formatConfusion(cm: ConfusionMatrix): string {
  const head = ['gt \\ pred', ...cm.labels];
  const rows = cm.matrix.map((r, i) => [cm.labels[i] ?? '', ...r.map(String)]);
  const width = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((s, c) => (c === 0 ? s.padEnd(width[c]!) : s.padStart(width[c]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}
