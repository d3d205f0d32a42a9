import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DrivegateError } from '../../core/errors.js';
import { confusionMatrix, formatConfusion } from './confusion.js';
import type { CocoGroundTruth } from './detections.js';

type B = [number, number, number, number];
const gt: CocoGroundTruth = {
  images: [{ id: 1 }, { id: 2 }],
  categories: [
    { id: 2, name: 'truck' },
    { id: 1, name: 'car' },
    { id: 3, name: 'pedestrian' },
  ],
  annotations: [
    { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10] }, // car, detected as truck
    { image_id: 1, category_id: 2, bbox: [20, 0, 10, 10] }, // truck, detected as truck
    { image_id: 1, category_id: 3, bbox: [40, 0, 5, 10] }, // pedestrian, missed
    { image_id: 2, category_id: 1, bbox: [0, 0, 10, 10] }, // car, detected as car
    { image_id: 2, category_id: 3, bbox: [100, 100, 50, 50], iscrowd: 1 },
  ],
};
const dt = [
  { image_id: 1, category_id: 2, bbox: [1, 0, 10, 10] as B, score: 0.9 },
  { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10] as B, score: 0.6 }, // better IoU with the car than the truck det
  { image_id: 1, category_id: 2, bbox: [20, 0, 10, 10] as B, score: 0.8 },
  { image_id: 1, category_id: 3, bbox: [200, 200, 5, 10] as B, score: 0.7 }, // false positive
  { image_id: 1, category_id: 3, bbox: [40, 0, 5, 10] as B, score: 0.2 }, // below the score threshold
  { image_id: 2, category_id: 1, bbox: [0, 1, 10, 10] as B, score: 0.99 },
  { image_id: 2, category_id: 3, bbox: [110, 110, 10, 10] as B, score: 0.9 }, // on a crowd region: ignored
];

test('rows are ground-truth classes + background, columns predictions + background, by the documented rule', () => {
  const cm = confusionMatrix(gt, dt, { scoreThreshold: 0.5 });
  assert.deepEqual(cm.labels, ['car', 'truck', 'pedestrian', 'background']);
  assert.deepEqual(cm.matrix, [
    // car: image 1 takes the exact car detection (IoU 1 beats the truck det's 0.82), image 2 car
    [2, 0, 0, 0],
    // truck: exact truck det
    [0, 1, 0, 0],
    // pedestrian: missed (its detection is below 0.5)
    [0, 0, 0, 1],
    // background: the displaced truck detection and the far pedestrian detection
    [0, 1, 1, 0],
  ]);
  assert.equal(cm.ignored_detections, 1);
  assert.match(formatConfusion(cm), /^gt \\ pred\s+car\s+truck\s+pedestrian\s+background/);
});

test('a ground truth takes the best-IoU detection of any class', () => {
  const cm = confusionMatrix(gt, dt.slice(0, 1).concat(dt.slice(2)), { scoreThreshold: 0.5 });
  // Without the exact car detection, the car in image 1 is matched to the truck detection.
  assert.deepEqual(cm.matrix[0], [1, 1, 0, 0]);
  assert.deepEqual(cm.matrix[3], [0, 0, 1, 0]);
});

test('lowering the score threshold lets the low-score detection match', () => {
  const cm = confusionMatrix(gt, dt, { scoreThreshold: 0.1 });
  assert.deepEqual(cm.matrix[2], [0, 0, 1, 0]);
});

test('a detection of an undeclared category is BAD_INPUT', () => {
  assert.throws(
    () => confusionMatrix(gt, [{ image_id: 1, category_id: 9, bbox: [0, 0, 1, 1], score: 1 }]),
    (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT' && e.found === '9',
  );
});
