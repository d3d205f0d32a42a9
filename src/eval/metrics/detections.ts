/**
 * COCO-format detection inputs (ground truth and results) and the one-threshold matching that
 * calibration, threshold tuning and the confusion matrix share.
 *
 * Matching at IoU t, per image and category, follows COCO's evaluateImg at one threshold: detections
 * in descending score order (stable); each takes the unmatched non-crowd ground truth with the
 * highest IoU >= t (a later one wins an exact tie, as in COCO); when none is left it may fall on a
 * crowd region (IoU against a crowd box is intersection / detection area), which makes it
 * "ignored" (neither true nor false positive). IoU uses the boxes [x, y, w, h] as given.
 */
import { z } from 'zod';
import { badInput } from '../../core/errors.js';
import { readJsonFile } from '../read-json.js';

const bbox = z.tuple([z.number().finite(), z.number().finite(), z.number().finite(), z.number().finite()]);

/** COCO ground truth: the parts these metrics read. */
export const cocoGroundTruthSchema = z.looseObject({
  images: z.array(z.looseObject({ id: z.number().int() })),
  annotations: z.array(
    z.looseObject({
      id: z.number().int().optional(),
      image_id: z.number().int(),
      category_id: z.number().int(),
      bbox,
      iscrowd: z.union([z.literal(0), z.literal(1), z.boolean()]).optional(),
    }),
  ),
  categories: z.array(z.looseObject({ id: z.number().int(), name: z.string() })),
});

/** COCO results: a list of detections. */
export const cocoDetectionsSchema = z.array(
  z.looseObject({
    image_id: z.number().int(),
    category_id: z.number().int(),
    bbox,
    score: z.number().finite(),
  }),
);

/** COCO ground truth as read. */
export type CocoGroundTruth = z.infer<typeof cocoGroundTruthSchema>;
/** One COCO detection. */
export type CocoDetection = z.infer<typeof cocoDetectionsSchema>[number];
/** A box [x, y, w, h]. */
export type Box = readonly [number, number, number, number];

/** Validates parsed JSON with a schema, naming the file and the first bad field. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, file: string, expected: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw badInput(`not ${expected}`, {
    file,
    field: issue?.path.map(String).join('.') || '(document)',
    expected: issue?.message ?? expected,
  });
}

/** Reads COCO ground truth and results files (.json or .json.gz). */
export async function readCocoPair(
  gtFile: string,
  dtFile: string,
): Promise<{ gt: CocoGroundTruth; dt: CocoDetection[] }> {
  const gt = parseWith(cocoGroundTruthSchema, await readJsonFile(gtFile), gtFile, 'COCO ground truth');
  const dtRaw = await readJsonFile(dtFile);
  const dt = parseWith(cocoDetectionsSchema, dtRaw, dtFile, 'a COCO results list');
  return { gt, dt };
}

/** IoU of a detection box and a ground-truth box, COCO's way (crowd: intersection / detection area). */
export function iou(d: Box, g: Box, crowd = false): number {
  const w = Math.min(d[0] + d[2], g[0] + g[2]) - Math.max(d[0], g[0]);
  if (w <= 0) return 0;
  const h = Math.min(d[1] + d[3], g[1] + g[3]) - Math.max(d[1], g[1]);
  if (h <= 0) return 0;
  const inter = w * h;
  const union = crowd ? d[2] * d[3] : d[2] * d[3] + g[2] * g[3] - inter;
  return union <= 0 ? 0 : inter / union;
}

/** A detection after matching: true positive, false positive, or ignored (fell on a crowd region). */
export interface MatchedDetection {
  image_id: number;
  category_id: number;
  score: number;
  status: 'tp' | 'fp' | 'ignored';
  /** IoU with the matched ground truth (0 for false positives). */
  iou: number;
}

/** The matching of all detections against the ground truth at one IoU threshold. */
export interface Matching {
  iouThreshold: number;
  detections: MatchedDetection[];
  /** Non-crowd ground-truth boxes per category id. */
  gtCount: Map<number, number>;
  /** Category id to name. */
  categories: Map<number, string>;
}

const isCrowd = (v: 0 | 1 | boolean | undefined): boolean => v === 1 || v === true;

/** Options of matchDetections. */
export interface MatchOptions {
  /**
   * Keep only the top-scoring N detections per image and category (COCO's maxDets, 100 in its
   * summary); default: all.
   */
  maxDets?: number;
}

/**
 * Matches detections to ground truth at `iouThreshold` (default 0.5), per image and category, as
 * described in this module's comment. Detections on images absent from the ground truth are
 * BAD_INPUT (COCO's loadRes refuses them too). Within an image and category the output lists
 * detections in descending score order (stable).
 */
export function matchDetections(
  gt: CocoGroundTruth,
  dt: ReadonlyArray<CocoDetection>,
  iouThreshold = 0.5,
  options: MatchOptions = {},
): Matching {
  const images = new Set(gt.images.map((i) => i.id));
  const categories = new Map(gt.categories.map((c) => [c.id, c.name] as const));
  const gtBy = new Map<string, Array<{ box: Box; crowd: boolean }>>();
  const gtCount = new Map<number, number>();
  for (const c of gt.categories) gtCount.set(c.id, 0);
  for (const a of gt.annotations) {
    const key = `${a.image_id}/${a.category_id}`;
    const list = gtBy.get(key) ?? [];
    const crowd = isCrowd(a.iscrowd);
    list.push({ box: a.bbox, crowd });
    gtBy.set(key, list);
    if (!crowd) gtCount.set(a.category_id, (gtCount.get(a.category_id) ?? 0) + 1);
  }
  const dtBy = new Map<string, CocoDetection[]>();
  for (const d of dt) {
    if (!images.has(d.image_id)) {
      throw badInput('detection on an image that is not in the ground truth', {
        field: 'image_id',
        expected: 'an image id of the ground truth',
        found: String(d.image_id),
      });
    }
    const key = `${d.image_id}/${d.category_id}`;
    const list = dtBy.get(key) ?? [];
    list.push(d);
    dtBy.set(key, list);
  }
  const out: MatchedDetection[] = [];
  for (const [key, dets] of dtBy) {
    // Non-crowd ground truth first, as COCO orders by the ignore flag (stable sort).
    const gts = [...(gtBy.get(key) ?? [])].sort((a, b) => Number(a.crowd) - Number(b.crowd));
    const matched = new Array<boolean>(gts.length).fill(false);
    const sorted = [...dets].sort((a, b) => b.score - a.score);
    const order = options.maxDets !== undefined ? sorted.slice(0, options.maxDets) : sorted;
    for (const d of order) {
      let best = -1;
      let bestIou = Math.min(iouThreshold, 1 - 1e-10);
      for (let g = 0; g < gts.length; g++) {
        const gg = gts[g]!;
        if (matched[g] && !gg.crowd) continue;
        if (best > -1 && !gts[best]!.crowd && gg.crowd) break;
        const v = iou(d.bbox, gg.box, gg.crowd);
        if (v < bestIou) continue;
        bestIou = v;
        best = g;
      }
      if (best < 0) {
        out.push({ image_id: d.image_id, category_id: d.category_id, score: d.score, status: 'fp', iou: 0 });
      } else {
        const crowd = gts[best]!.crowd;
        if (!crowd) matched[best] = true;
        out.push({
          image_id: d.image_id,
          category_id: d.category_id,
          score: d.score,
          status: crowd ? 'ignored' : 'tp',
          iou: bestIou,
        });
      }
    }
  }
  return { iouThreshold, detections: out, gtCount, categories };
}
