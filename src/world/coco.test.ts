import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DrivegateError } from '../core/errors.js';
import { findCrowds, validateCoco } from './coco.js';

function valid() {
  return {
    info: { description: 'x' },
    licenses: [],
    images: [{ id: 1, file_name: 'a.png', width: 100, height: 50 }],
    annotations: [
      { id: 1, image_id: 1, category_id: 1, bbox: [10, 10, 20, 20], area: 400, iscrowd: 0, segmentation: [] },
    ],
    categories: [{ id: 1, name: 'car', supercategory: 'vehicle' }],
  };
}

test('accepts a well-formed COCO file', () => {
  assert.equal(validateCoco(valid()).annotations.length, 1);
});

const broken: Array<[string, (d: ReturnType<typeof valid>) => void, string]> = [
  ['a missing section', (d) => delete (d as Partial<typeof d>).categories, 'categories'],
  ['a duplicate image id', (d) => d.images.push({ ...d.images[0]! }), 'duplicate image id'],
  [
    'a duplicate annotation id',
    (d) => d.annotations.push({ ...d.annotations[0]! }),
    'duplicate annotation id',
  ],
  ['an unknown image_id', (d) => (d.annotations[0]!.image_id = 9), 'missing image'],
  ['an unknown category_id', (d) => (d.annotations[0]!.category_id = 9), 'missing category'],
  ['a bbox outside the image', (d) => (d.annotations[0]!.bbox = [90, 10, 20, 20]), 'outside its image'],
  ['a bbox without extent', (d) => (d.annotations[0]!.bbox = [10, 10, 0, 20]), 'no extent'],
  ['a zero area', (d) => (d.annotations[0]!.area = 0), 'area not positive'],
  ['a bad iscrowd', (d) => (d.annotations[0]!.iscrowd = 2), 'iscrowd'],
];
for (const [what, mutate, needle] of broken) {
  test(`rejects a COCO file with ${what}`, () => {
    const d = valid();
    mutate(d);
    assert.throws(
      () => validateCoco(d, 'gt.json'),
      (e: unknown) =>
        e instanceof DrivegateError &&
        e.code === 'BAD_INPUT' &&
        e.message.includes('gt.json') &&
        e.message.includes(needle),
    );
  });
}

test('three far overlapping pedestrians become one crowd; near ones and pairs do not', () => {
  const far = [
    { id: 1, bbox: [10, 10, 4, 10] as [number, number, number, number], distance: 40 },
    { id: 2, bbox: [12, 10, 4, 10] as [number, number, number, number], distance: 41 },
    { id: 3, bbox: [14, 11, 4, 10] as [number, number, number, number], distance: 42 },
    { id: 4, bbox: [60, 10, 4, 10] as [number, number, number, number], distance: 40 },
  ];
  const crowds = findCrowds(far);
  assert.equal(crowds.length, 1);
  assert.deepEqual(crowds[0]!.members, [1, 2, 3]);
  assert.deepEqual(crowds[0]!.bbox, [10, 10, 8, 11]);
  assert.deepEqual(findCrowds(far.map((c) => ({ ...c, distance: 10 }))), []);
  assert.deepEqual(findCrowds(far.slice(0, 2)), []);
});
