import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DrivegateError } from '../core/errors.js';
import { parseInferenceConfig, type InferenceConfigInput } from './config.js';
import { decodeCenternet, decodeDetections, iou, nms, toSourceBox, type Box } from './decode.js';
import { planTransform } from './preprocess.js';
import type { TensorMap } from './tensor.js';

const classes = { '0': { id: 1, name: 'car' }, '1': { id: 3, name: 'pedestrian' } };

function centernetConfig(post: InferenceConfigInput['postprocess'] = {}) {
  return parseInferenceConfig({
    schema_version: 1,
    input: { name: 'images', width: 32, height: 16 },
    classes,
    output: { decoder: 'centernet', heatmap: 'hm', wh: 'wh', offset: 'off', stride: 4 },
    postprocess: post,
  });
}

/** Heatmap [1,2,4,8] with given cell scores, wh/offset constant. */
function centernetOutputs(
  cells: Array<[number, number, number, number]>,
  wh = [8, 4],
  off = [0.5, 0.25],
): TensorMap {
  const h = 4;
  const w = 8;
  const hm = new Float32Array(2 * h * w);
  for (const [c, y, x, s] of cells) hm[c * h * w + y * w + x] = s;
  const whT = new Float32Array(2 * h * w);
  whT.fill(wh[0]!, 0, h * w);
  whT.fill(wh[1]!, h * w);
  const offT = new Float32Array(2 * h * w);
  offT.fill(off[0]!, 0, h * w);
  offT.fill(off[1]!, h * w);
  return {
    hm: { type: 'float32', data: hm, dims: [1, 2, h, w] },
    wh: { type: 'float32', data: whT, dims: [1, 2, h, w] },
    off: { type: 'float32', data: offT, dims: [1, 2, h, w] },
  };
}

test('decodes a heatmap peak to a box centred at (cell + offset) * stride', () => {
  const cfg = centernetConfig();
  assert.ok(cfg.output.decoder === 'centernet');
  const out = decodeCenternet(centernetOutputs([[0, 1, 2, 0.9]]), 0, cfg.output, 2, 0.1);
  assert.deepEqual(out, [{ box: [2.5 * 4 - 4, 1.25 * 4 - 2, 8, 4], score: out[0]!.score, classIndex: 0 }]);
  assert.ok(Math.abs(out[0]!.score - 0.9) < 1e-6);
});

test('keeps only local maxima of the 3x3 window and the top-K by score', () => {
  const cfg = centernetConfig();
  assert.ok(cfg.output.decoder === 'centernet');
  const outputs = centernetOutputs([
    [0, 1, 1, 0.9],
    [0, 1, 2, 0.8], // neighbour of a higher cell: not a peak
    [0, 3, 6, 0.7],
    [1, 1, 2, 0.6], // same cell, other class: a peak of its own
  ]);
  const all = decodeCenternet(outputs, 0, cfg.output, 2, 0.1);
  assert.deepEqual(
    all.map((c) => [c.classIndex, Math.round(c.score * 10)]),
    [
      [0, 9],
      [0, 7],
      [1, 6],
    ],
  );
  const top2 = decodeCenternet(outputs, 0, { ...cfg.output, top_k: 2 }, 2, 0.1);
  assert.equal(top2.length, 2);
});

test('applies per-class thresholds, maps boxes back to the original image and clips them', () => {
  const cfg = centernetConfig({ score_threshold: 0.5, score_thresholds: { pedestrian: 0.65 } });
  const outputs = centernetOutputs([
    [0, 0, 0, 0.55], // box [-2,-1.. ] clipped at the image's top-left
    [1, 2, 4, 0.6], // under the pedestrian threshold
  ]);
  const t = planTransform(64, 32, cfg); // the original is twice the input size
  const [dets] = decodeDetections(outputs, [t], cfg);
  assert.equal(dets!.length, 1);
  assert.deepEqual(dets![0]!.bbox, [0, 0, (2 + 4) * 2, (1 + 2) * 2]);
  assert.equal(dets![0]!.categoryId, 1);
  assert.equal(dets![0]!.label, 'car');
});

test('undoes a letterbox when mapping boxes back', () => {
  const cfg = parseInferenceConfig({
    schema_version: 1,
    input: { name: 'images', width: 32, height: 16 },
    classes,
    preprocess: { resize: { mode: 'letterbox' } },
    output: { decoder: 'centernet', heatmap: 'hm', wh: 'wh', offset: 'off' },
  });
  const t = planTransform(16, 16, cfg); // 16x16 -> 16x16 placed at x 8..24
  assert.equal(t.padX, 8);
  assert.deepEqual(toSourceBox([10, 2, 4, 4], t), [2, 2, 4, 4]);
});

test('suppresses overlapping boxes of one class, keeps other classes unless class-agnostic', () => {
  const a = { box: [0, 0, 10, 10] as Box, score: 0.9, classIndex: 0 };
  const b = { box: [1, 1, 10, 10] as Box, score: 0.8, classIndex: 0 };
  const c = { box: [1, 0, 10, 10] as Box, score: 0.7, classIndex: 1 };
  const d = { box: [30, 30, 5, 5] as Box, score: 0.6, classIndex: 0 };
  assert.ok(iou(a.box, b.box) > 0.5);
  assert.deepEqual(nms([d, c, b, a], 0.5, true, 10), [a, c, d]);
  assert.deepEqual(nms([d, c, b, a], 0.5, false, 10), [a, d]);
  assert.deepEqual(nms([d, c, b, a], 0.5, true, 2), [a, c]);
  assert.equal(iou([0, 0, 2, 2], [1, 0, 2, 2]), 1 / 3);
});

test('decodes direct boxes in xyxy, cxcywh and normalised form', () => {
  const make = (fmt: 'xyxy' | 'cxcywh', normalized: boolean, box: number[]) => {
    const cfg = parseInferenceConfig({
      schema_version: 1,
      input: { name: 'images', width: 100, height: 50 },
      classes,
      output: { decoder: 'boxes', boxes: 'b', scores: 's', box_format: fmt, normalized },
    });
    const outputs: TensorMap = {
      b: { type: 'float32', data: new Float32Array(box), dims: [1, 1, 4] },
      s: { type: 'float32', data: new Float32Array([0.2, 0.7]), dims: [1, 1, 2] },
    };
    return decodeDetections(outputs, [planTransform(100, 50, cfg)], cfg)[0]!;
  };
  assert.deepEqual(make('xyxy', false, [10, 10, 30, 20])[0]!.bbox, [10, 10, 20, 10]);
  const norm = make('cxcywh', true, [0.5, 0.5, 0.2, 0.2])[0]!.bbox;
  [40, 20, 20, 10].forEach((v, i) => assert.ok(Math.abs(norm[i]! - v) < 1e-4, `${norm[i]} vs ${v}`));
  assert.equal(make('xyxy', false, [10, 10, 30, 20])[0]!.label, 'pedestrian');
});

test('names the model file when an output has the wrong shape', () => {
  const cfg = centernetConfig();
  const outputs = centernetOutputs([]);
  outputs['wh'] = { type: 'float32', data: new Float32Array(3), dims: [1, 3, 1, 1] };
  assert.throws(
    () => decodeDetections(outputs, [planTransform(32, 16, cfg)], cfg, 'm.onnx'),
    (e: unknown) =>
      e instanceof DrivegateError &&
      e.code === 'BAD_INPUT' &&
      e.location.file === 'm.onnx' &&
      e.location.field === 'wh',
  );
});
