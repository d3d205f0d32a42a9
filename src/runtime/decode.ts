/**
 * Output decoding: model output tensors to detections. Decoders ('centernet' heatmap/size/offset,
 * 'boxes' direct boxes/scores/classes) produce candidate boxes in input-tensor pixels; `postprocess`
 * maps them back to the original image, applies per-class score thresholds and NMS. Pure functions.
 */
import { badInput } from '../core/errors.js';
import {
  classList,
  classThresholds,
  type BoxesOutput,
  type CenternetOutput,
  type InferenceConfig,
} from './config.js';
import type { ImageTransform } from './preprocess.js';
import { numberAt, type TensorData, type TensorMap } from './tensor.js';

/** A box [x, y, w, h] in pixels (COCO convention: top-left corner, width, height). */
export type Box = [number, number, number, number];

/** A candidate box before mapping and NMS. */
export interface Candidate {
  box: Box;
  score: number;
  classIndex: number;
}

/** A final detection in original image pixels. */
export interface Detection {
  bbox: Box;
  score: number;
  /** Index into the model's class map. */
  classIndex: number;
  /** The dataset category id of the class (COCO category_id). */
  categoryId: number;
  /** The class name. */
  label: string;
}

function getOutput(outputs: TensorMap, name: string, model: string): TensorData {
  const t = outputs[name];
  if (t === undefined) {
    throw badInput(`the model has no output '${name}' that the inference config names`, {
      file: model,
      field: name,
      expected: `an output named '${name}'`,
      found: Object.keys(outputs).join(', ') || 'no outputs',
    });
  }
  return t;
}

function expectDims(t: TensorData, name: string, expected: (number | null)[], model: string): void {
  const ok = t.dims.length === expected.length && expected.every((d, i) => d === null || t.dims[i] === d);
  if (!ok) {
    throw badInput(`output '${name}' has the wrong shape`, {
      file: model,
      field: name,
      expected: `[${expected.map((d) => (d === null ? '?' : String(d))).join(',')}]`,
      found: `[${t.dims.join(',')}]`,
    });
  }
}

/**
 * Decodes CenterNet-style outputs for image `n` of the batch: peaks of the heatmap (a cell equal to
 * the max of its k x k window, at or above `minScore`), top-K by score, each giving the box centred at
 * ((x + offset_x) * stride, (y + offset_y) * stride) with size wh, in input pixels.
 */
export function decodeCenternet(
  outputs: TensorMap,
  n: number,
  spec: CenternetOutput,
  numClasses: number,
  minScore: number,
  model = '<model>',
): Candidate[] {
  const heat = getOutput(outputs, spec.heatmap, model);
  const wh = getOutput(outputs, spec.wh, model);
  const off = getOutput(outputs, spec.offset, model);
  expectDims(heat, spec.heatmap, [null, numClasses, null, null], model);
  const [N, C, h, w] = heat.dims as [number, number, number, number];
  expectDims(wh, spec.wh, [N, 2, h, w], model);
  expectDims(off, spec.offset, [N, 2, h, w], model);
  const plane = h * w;
  const hBase = n * C * plane;
  const sBase = n * 2 * plane;
  const sigmoid = spec.heatmap_activation === 'sigmoid';
  const score = (i: number): number => {
    const v = numberAt(heat, hBase + i);
    return sigmoid ? 1 / (1 + Math.exp(-v)) : v;
  };
  const r = (spec.peak_kernel - 1) / 2;
  const peaks: Candidate[] = [];
  for (let c = 0; c < C; c++) {
    const cBase = c * plane;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const s = score(cBase + y * w + x);
        if (!(s >= minScore)) continue;
        let isPeak = true;
        for (let dy = -r; dy <= r && isPeak; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= h) continue;
          for (let dx = -r; dx <= r; dx++) {
            const xx = x + dx;
            if (xx < 0 || xx >= w) continue;
            if (score(cBase + yy * w + xx) > s) {
              isPeak = false;
              break;
            }
          }
        }
        if (!isPeak) continue;
        const p = y * w + x;
        const bw = numberAt(wh, sBase + p);
        const bh = numberAt(wh, sBase + plane + p);
        const cx = (x + numberAt(off, sBase + p)) * spec.stride;
        const cy = (y + numberAt(off, sBase + plane + p)) * spec.stride;
        peaks.push({ box: [cx - bw / 2, cy - bh / 2, bw, bh], score: s, classIndex: c });
      }
    }
  }
  peaks.sort((a, b) => b.score - a.score);
  return peaks.slice(0, spec.top_k);
}

/**
 * Decodes direct box outputs for image `n`: boxes [N,K,4], scores [N,K] with classes [N,K], or scores
 * [N,K,C] (class = arg-max). Boxes are converted to [x,y,w,h] input pixels.
 */
export function decodeBoxes(
  outputs: TensorMap,
  n: number,
  spec: BoxesOutput,
  numClasses: number,
  inputSize: { width: number; height: number },
  minScore: number,
  model = '<model>',
): Candidate[] {
  const boxes = getOutput(outputs, spec.boxes, model);
  const scores = getOutput(outputs, spec.scores, model);
  expectDims(boxes, spec.boxes, [null, null, 4], model);
  const [N, K] = boxes.dims as [number, number, number];
  let classes: TensorData | undefined;
  if (spec.classes !== undefined) {
    classes = getOutput(outputs, spec.classes, model);
    expectDims(scores, spec.scores, [N, K], model);
    expectDims(classes, spec.classes, [N, K], model);
  } else {
    expectDims(scores, spec.scores, [N, K, numClasses], model);
  }
  const sx = spec.normalized ? inputSize.width : 1;
  const sy = spec.normalized ? inputSize.height : 1;
  const out: Candidate[] = [];
  for (let k = 0; k < K; k++) {
    let score: number;
    let cls: number;
    if (classes !== undefined) {
      score = numberAt(scores, n * K + k);
      cls = Math.round(numberAt(classes, n * K + k));
    } else {
      cls = 0;
      score = -Infinity;
      for (let c = 0; c < numClasses; c++) {
        const s = numberAt(scores, (n * K + k) * numClasses + c);
        if (s > score) {
          score = s;
          cls = c;
        }
      }
    }
    if (!(score >= minScore) || cls < 0 || cls >= numClasses) continue;
    const b = (n * K + k) * 4;
    const v0 = numberAt(boxes, b) * sx;
    const v1 = numberAt(boxes, b + 1) * sy;
    const v2 = numberAt(boxes, b + 2) * sx;
    const v3 = numberAt(boxes, b + 3) * sy;
    let box: Box;
    if (spec.box_format === 'xyxy') box = [v0, v1, v2 - v0, v3 - v1];
    else if (spec.box_format === 'xywh') box = [v0, v1, v2, v3];
    else box = [v0 - v2 / 2, v1 - v3 / 2, v2, v3];
    out.push({ box, score, classIndex: cls });
  }
  return out;
}

/** Intersection over union of two [x,y,w,h] boxes. */
export function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy non-maximum suppression: highest score first, a box is dropped when its IoU with a kept box
 * (of the same class when `perClass`) exceeds `iouThreshold`; at most `maxDetections` are kept.
 * Ties in score keep the input order (stable).
 */
export function nms<T extends { box: Box; score: number; classIndex: number }>(
  items: readonly T[],
  iouThreshold: number,
  perClass: boolean,
  maxDetections: number,
): T[] {
  const order = items.map((_, i) => i).sort((a, b) => items[b]!.score - items[a]!.score || a - b);
  const kept: T[] = [];
  for (const i of order) {
    if (kept.length >= maxDetections) break;
    const cand = items[i]!;
    const suppressed = kept.some(
      (k) => (!perClass || k.classIndex === cand.classIndex) && iou(k.box, cand.box) > iouThreshold,
    );
    if (!suppressed) kept.push(cand);
  }
  return kept;
}

/** Maps a box from input-tensor pixels to the original image and clips it to the image. */
export function toSourceBox(box: Box, t: ImageTransform): Box {
  const x1 = clamp((box[0] - t.padX) / t.scaleX, 0, t.width);
  const y1 = clamp((box[1] - t.padY) / t.scaleY, 0, t.height);
  const x2 = clamp((box[0] + box[2] - t.padX) / t.scaleX, 0, t.width);
  const y2 = clamp((box[1] + box[3] - t.padY) / t.scaleY, 0, t.height);
  return [x1, y1, x2 - x1, y2 - y1];
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/**
 * Turns the raw outputs of a batch into detections per image: decode, map to original pixels, drop
 * empty boxes and those under their class's score threshold, then NMS. `model` names errors.
 */
export function decodeDetections(
  outputs: TensorMap,
  transforms: readonly ImageTransform[],
  cfg: InferenceConfig,
  model = '<model>',
): Detection[][] {
  const classes = classList(cfg);
  const thresholds = classThresholds(cfg);
  const minScore = Math.min(...thresholds);
  const { iou_threshold, per_class, max_detections } = cfg.postprocess.nms;
  return transforms.map((t, n) => {
    const raw =
      cfg.output.decoder === 'centernet'
        ? decodeCenternet(outputs, n, cfg.output, classes.length, minScore, model)
        : decodeBoxes(outputs, n, cfg.output, classes.length, cfg.input, minScore, model);
    const mapped: Candidate[] = [];
    for (const c of raw) {
      if (c.score < thresholds[c.classIndex]!) continue;
      const box = toSourceBox(c.box, t);
      if (!(box[2] > 0 && box[3] > 0)) continue;
      mapped.push({ ...c, box });
    }
    return nms(mapped, iou_threshold, per_class, max_detections).map((c) => {
      const cls = classes[c.classIndex]!;
      return { bbox: c.box, score: c.score, classIndex: c.classIndex, categoryId: cls.id, label: cls.name };
    });
  });
}
