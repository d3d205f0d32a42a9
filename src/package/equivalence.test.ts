import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Box, Detection } from '../runtime/decode.js';
import { DriftStats, HeadStats, checkVariant } from './equivalence.js';
import type { Bounds } from './equivalence.js';

const det = (bbox: Box, score: number, classIndex = 0): Detection => ({
  bbox,
  score,
  classIndex,
  categoryId: classIndex + 1,
  label: 'car',
});

test('head statistics: max/mean absolute error, relative error only where the reference is not ~0', () => {
  const s = new HeadStats();
  s.add('wh', [10, 20, 0, 1e-5], [10.5, 19, 0.25, 0]);
  const r = s.result()['wh'];
  assert.equal(r?.elements, 4);
  assert.equal(r?.max_abs, 1);
  assert.equal(r?.mean_abs, (0.5 + 1 + 0.25 + 1e-5) / 4);
  assert.equal(r?.max_rel, 0.05);
  assert.equal(r?.mean_rel, (0.05 + 0.05) / 2);
  const n = new HeadStats();
  n.add('h', [1], [Number.NaN]);
  assert.equal(n.result()['h']?.max_abs, Infinity, 'NaN counts as an infinite error');
});

test('detection drift matches same-class boxes greedily by IoU and reports IoU drift, score drift and recall', () => {
  const d = new DriftStats(0.3, 0.5);
  d.add(
    [
      det([0, 0, 10, 10], 0.9),
      det([20, 0, 10, 10], 0.8),
      det([40, 0, 10, 10], 0.2),
      det([60, 0, 10, 10], 0.7, 1),
    ],
    [det([0, 0, 10, 10], 0.85), det([21, 0, 10, 10], 0.8), det([60, 0, 10, 10], 0.7, 2)],
  );
  const r = d.result();
  // The 0.2 box is under the drift threshold; the class-1 box has only a class-2 partner: unmatched.
  assert.equal(r.reference_detections, 3);
  assert.equal(r.matched, 2);
  assert.equal(r.recall, 2 / 3);
  const iou = 90 / 110; // [20,0,10,10] vs [21,0,10,10]
  assert.ok(Math.abs(r.iou_drift_mean - (1 - iou) / 2) < 1e-12);
  assert.ok(Math.abs(r.iou_drift_max - (1 - iou)) < 1e-12);
  assert.ok(Math.abs(r.score_drift_mean - 0.025) < 1e-12);
  assert.equal(new DriftStats(0.3, 0.5).result().recall, 1, 'nothing to find: recall 1');
});

test('bounds: per-head max_abs on images and on random inputs (with a default), drift and recall; a failed bound says which', () => {
  const heads = {
    wh: { elements: 1, max_abs: 0.4, mean_abs: 0, max_rel: 0, mean_rel: 0 },
    heatmap: { elements: 1, max_abs: 0.03, mean_abs: 0, max_rel: 0, mean_rel: 0 },
  };
  const b: Bounds = {
    max_abs: { '*': 0.02, wh: 0.5 },
    random_max_abs: { '*': 0.05, wh: 0.3 },
    iou_drift: 0.005,
    score_drift: 0.01,
    min_recall: 0.9,
  };
  const detection = {
    images: 1,
    reference_detections: 10,
    variant_detections: 10,
    matched: 9,
    recall: 0.9,
    iou_drift_mean: 0.006,
    iou_drift_max: 0.01,
    score_drift_mean: 0.001,
    score_drift_max: 0.002,
  };
  const checks = checkVariant(heads, { heads, detection }, b);
  assert.deepEqual(
    checks.map((c) => [c.name, c.ok]),
    [
      ['random.max_abs.heatmap', true],
      ['random.max_abs.wh', false],
      ['images.max_abs.heatmap', false],
      ['images.max_abs.wh', true],
      ['iou_drift', false],
      ['score_drift', true],
      ['recall', true],
    ],
  );
  assert.deepEqual(
    checkVariant(heads, null, b).map((c) => c.name),
    ['random.max_abs.heatmap', 'random.max_abs.wh'],
    'no images: no image or detection bounds',
  );
});
