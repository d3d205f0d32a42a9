import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DrivegateError } from '../../core/errors.js';
import type { Matching, MatchedDetection } from './detections.js';
import { applyScoreThresholds, inferenceConfigFragment, tuneThresholds } from './thresholds.js';

function matching(
  dets: Array<[number, number, 'tp' | 'fp' | 'ignored']>,
  gt: Record<number, number>,
): Matching {
  const detections: MatchedDetection[] = dets.map(([category_id, score, status]) => ({
    image_id: 1,
    category_id,
    score,
    status,
    iou: 0.7,
  }));
  return {
    iouThreshold: 0.5,
    detections,
    gtCount: new Map(Object.entries(gt).map(([k, v]) => [Number(k), v])),
    categories: new Map([
      [1, 'car'],
      [2, 'pedestrian'],
      [3, 'truck'],
      [4, 'cyclist'],
    ]),
  };
}

// car: scores 0.9 tp, 0.8 tp, 0.7 fp, 0.6 tp, 0.5 fp, 0.4 fp; 4 GT.
const cars: Array<[number, number, 'tp' | 'fp' | 'ignored']> = [
  [1, 0.9, 'tp'],
  [1, 0.8, 'tp'],
  [1, 0.7, 'fp'],
  [1, 0.6, 'tp'],
  [1, 0.5, 'fp'],
  [1, 0.4, 'fp'],
  [1, 0.95, 'ignored'],
];

test('F1 mode picks the threshold with the best F1 (hand-computed)', () => {
  // t=0.9: P1 R.25 F.4; t=0.8: P1 R.5 F.667; t=0.7: P.667 R.5 F.571; t=0.6: P.75 R.75 F.75; t=0.5: P.6 R.75 F.667
  const r = tuneThresholds(matching(cars, { 1: 4 }));
  const car = r.classes.find((c) => c.class === 'car')!;
  assert.equal(car.threshold, 0.6);
  assert.equal(car.tp, 3);
  assert.equal(car.fp, 1);
  assert.ok(Math.abs(car.f1! - 0.75) < 1e-15);
  assert.deepEqual(inferenceConfigFragment(r), { postprocess: { score_thresholds: { car: 0.6 } } });
  assert.deepEqual(
    applyScoreThresholds(
      { schema_version: 1, postprocess: { score_threshold: 0.3, score_thresholds: { old: 1 } } },
      r,
    ),
    {
      schema_version: 1,
      postprocess: { score_threshold: 0.3, score_thresholds: { car: 0.6 } },
    },
  );
});

test('precision mode picks the lowest threshold whose precision meets the target', () => {
  const r = tuneThresholds(matching(cars, { 1: 4 }), { mode: 'precision', target: 0.74 });
  assert.equal(r.score_thresholds['car'], 0.6); // P 0.75 at 0.6; 0.6 at 0.5
  const strict = tuneThresholds(matching(cars, { 1: 4 }), { mode: 'precision', target: 1 });
  assert.equal(strict.score_thresholds['car'], 0.8);
});

test('equal scores are kept or dropped together', () => {
  const r = tuneThresholds(
    matching(
      [
        [1, 0.9, 'tp'],
        [1, 0.5, 'fp'],
        [1, 0.5, 'tp'],
      ],
      { 1: 2 },
    ),
    { mode: 'precision', target: 0.6 },
  );
  const car = r.classes[0]!;
  assert.equal(car.threshold, 0.5);
  assert.equal(car.tp, 2);
  assert.equal(car.fp, 1);
});

test('classes without ground truth, detections or a qualifying threshold are unmet and left out', () => {
  const r = tuneThresholds(
    matching(
      [
        [1, 0.9, 'fp'],
        [3, 0.8, 'fp'],
        [4, 0.7, 'tp'],
      ],
      { 1: 3, 2: 2, 4: 1 },
    ),
  );
  assert.deepEqual(r.score_thresholds, { cyclist: 0.7 });
  assert.deepEqual(r.unmet, ['car', 'pedestrian', 'truck']);
  assert.match(r.classes.find((c) => c.class === 'truck')!.reason!, /no ground truth/);
  assert.match(r.classes.find((c) => c.class === 'pedestrian')!.reason!, /no detections/);
});

test('precision mode without a target is BAD_INPUT', () => {
  assert.throws(
    () => tuneThresholds(matching(cars, { 1: 4 }), { mode: 'precision' }),
    (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT',
  );
});
