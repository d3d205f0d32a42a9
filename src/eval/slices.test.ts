import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DrivegateError } from '../core/errors.js';
import { evaluateCoco, loadDetections, loadGroundTruth } from './metrics/coco/index.js';
import type { SliceDefinition } from './gates/slices.js';
import { classStats, evaluateSubset, markSliceObjects, sliceStats, subsetByImages } from './slice-coco.js';
import { compileSlices, imageMask, objectMask } from './slices.js';

const cats = [
  { id: 1, name: 'car' },
  { id: 3, name: 'pedestrian' },
];
const images = [
  { id: 10, width: 100, height: 100 },
  { id: 11, width: 100, height: 100 },
  { id: 12, width: 100, height: 100 },
];
const manifest = [
  { image_id: 10, weather: 'rain' },
  { image_id: 11, weather: 'clear' },
  { image_id: 12, weather: 'rain' },
];
type Ann = { image_id: number; category_id: number; bbox: number[]; occlusion?: number; iscrowd?: number };
const anns: Ann[] = [
  { image_id: 10, category_id: 1, bbox: [0, 0, 20, 20], occlusion: 0.5 },
  { image_id: 10, category_id: 1, bbox: [50, 50, 20, 20], occlusion: 0 },
  { image_id: 10, category_id: 3, bbox: [30, 0, 10, 30], occlusion: 0.4 },
  { image_id: 11, category_id: 1, bbox: [10, 10, 30, 30], occlusion: 0.1 },
  { image_id: 12, category_id: 3, bbox: [60, 10, 10, 30], occlusion: 0.7 },
];
const dts = [
  { image_id: 10, category_id: 1, bbox: [0, 0, 20, 20], score: 0.9 }, // occluded car: TP
  { image_id: 10, category_id: 1, bbox: [50, 50, 20, 20], score: 0.8 }, // visible car: TP
  { image_id: 10, category_id: 1, bbox: [80, 0, 10, 10], score: 0.95 }, // FP
  { image_id: 10, category_id: 3, bbox: [30, 0, 10, 30], score: 0.6 }, // pedestrian TP
  { image_id: 11, category_id: 1, bbox: [10, 10, 30, 30], score: 0.7 }, // TP
  { image_id: 11, category_id: 3, bbox: [0, 60, 10, 30], score: 0.5 }, // FP
  // image 12: the occluded pedestrian is missed
];

function coco(annotations: Ann[], imgs = images): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      images: imgs,
      categories: cats,
      annotations: annotations.map((a, i) => ({
        id: i + 1,
        area: a.bbox[2]! * a.bbox[3]!,
        iscrowd: 0,
        ...a,
      })),
    }),
  );
}
const gtCols = loadGroundTruth({ bytes: coco(anns), name: 'gt.json' }, { iouType: 'bbox' });
const dtCols = loadDetections({ bytes: Buffer.from(JSON.stringify(dts)), name: 'dt.json' }, gtCols);
const def = (name: string, filter: SliceDefinition['filter']): SliceDefinition => ({
  name,
  filter,
  weight: 1,
  critical: false,
});
const data = {
  images: manifest,
  annotations: anns.map((a) => ({ ...a, area: a.bbox[2]! * a.bbox[3]! })) as Array<Record<string, unknown>>,
  categories: new Map(cats.map((c) => [c.id, c.name] as const)),
  slicesFile: 'slices.yaml',
};

test('fields are classified as image or object fields and the scoring follows from them', () => {
  const s = compileSlices(
    [
      def('rain', { weather: 'rain' }),
      def('ped', { category: 'pedestrian' }),
      def('rain+ped', { weather: 'rain', category: ['pedestrian'] }),
      def('small', { area: { lt: 300 } }),
      def('occ+ped', { category: 'pedestrian', occlusion: { gte: 0.3 } }),
    ],
    data,
  );
  assert.deepEqual(
    s.map((x) => [x.scoring, x.imageConditions.length, x.objectConditions.length, x.categoryIds]),
    [
      ['image', 1, 0, null],
      ['category', 0, 0, [3]],
      ['category', 1, 0, [3]],
      ['area-range', 0, 1, null],
      ['recall-oriented', 0, 1, [3]],
    ],
  );
  assert.equal(s[0]!.imageKey, s[2]!.imageKey);
});

test('a filter on a field nobody carries, or on a category the ground truth lacks, is BAD_INPUT naming the slice', () => {
  assert.throws(
    () => compileSlices([def('typo', { wether: 'rain' })], data),
    (e: unknown) =>
      e instanceof DrivegateError &&
      e.code === 'BAD_INPUT' &&
      /slices\.yaml/.test(e.message) &&
      /typo/.test(e.message) &&
      /wether/.test(e.message),
  );
  assert.throws(
    () => compileSlices([def('trucks', { category: 'truck' })], data),
    (e: unknown) =>
      e instanceof DrivegateError && /truck/.test(e.message) && /car, pedestrian/.test(e.message),
  );
});

test('an image subset gives the same COCO numbers as evaluating the filtered files', () => {
  const rain = compileSlices([def('rain', { weather: 'rain' })], data)[0]!;
  const rec = imageMask(rain.imageConditions, manifest);
  const keep = new Uint8Array(gtCols.imageIds.length);
  manifest.forEach((m, i) => {
    if (rec[i] === 1) keep[gtCols.imageIndex.get(m.image_id)!] = 1;
  });
  const res = evaluateSubset(subsetByImages(gtCols, dtCols, keep));
  const ids = new Set([10, 12]);
  const gt2 = loadGroundTruth(
    {
      bytes: coco(
        anns.filter((a) => ids.has(a.image_id)),
        images.filter((i) => ids.has(i.id)),
      ),
      name: 'gt2.json',
    },
    { iouType: 'bbox' },
  );
  const dt2 = loadDetections(
    { bytes: Buffer.from(JSON.stringify(dts.filter((d) => ids.has(d.image_id)))), name: 'dt2.json' },
    gt2,
  );
  assert.deepEqual(res.stats, evaluateCoco(gt2, dt2).stats);
});

test('a category restriction equals evaluating that category alone', () => {
  const all = evaluateCoco(gtCols, dtCols);
  const k = gtCols.categoryIndex.get(1)!;
  const cars = sliceStats(all, [k], false);
  const gt2 = loadGroundTruth(
    {
      bytes: Buffer.from(
        JSON.stringify({
          images,
          categories: [cats[0]],
          annotations: anns
            .map((a, i) => ({ id: i + 1, area: a.bbox[2]! * a.bbox[3]!, iscrowd: 0, ...a }))
            .filter((a) => a.category_id === 1),
        }),
      ),
      name: 'cars.json',
    },
    { iouType: 'bbox' },
  );
  const dt2 = loadDetections(
    { bytes: Buffer.from(JSON.stringify(dts.filter((d) => d.category_id === 1))), name: 'cars-dt.json' },
    gt2,
  );
  const ref = evaluateCoco(gt2, dt2).stats;
  const mine = [
    cars.map,
    cars.map50,
    cars.map75,
    cars.map_small,
    cars.map_medium,
    cars.map_large,
    cars.mar1,
    cars.mar10,
    cars.mar100,
    cars.mar_small,
    cars.mar_medium,
    cars.mar_large,
  ].map((v) => v ?? -1);
  mine.forEach((v, i) => assert.ok(Math.abs(v - ref[i]!) < 1e-12, `stat ${i}: ${v} vs ${ref[i]}`));
});

test('a recall-oriented slice ignores ground truth outside it, detections matched to it and unmatched detections', () => {
  const [occ] = compileSlices([def('occluded', { occlusion: { gte: 0.3 } })], data);
  const keep = new Uint8Array(gtCols.imageIds.length).fill(1);
  const sub = subsetByImages(gtCols, dtCols, keep);
  const mask = objectMask(occ!.objectConditions, data.annotations);
  assert.deepEqual([...mask], [1, 0, 1, 0, 1]);
  const res = evaluateSubset(markSliceObjects(sub, mask, () => false));
  // In the slice: occluded car (found, score .9), occluded pedestrian in image 10 (found), occluded
  // pedestrian in image 12 (missed). The FPs (.95 car, .5 pedestrian) and the detections of visible
  // objects are ignored, so precision stays 1 up to the recall reached.
  const car = classStats(res, gtCols.categoryIndex.get(1)!, true);
  assert.ok(Math.abs(car.ap! - 1) < 1e-12, String(car.ap)); // COCO divides by tp + fp + eps
  const ped = classStats(res, gtCols.categoryIndex.get(3)!, true);
  // recall 0.5 with precision 1: 51 of the 101 recall points.
  assert.ok(Math.abs(ped.ap! - 51 / 101) < 1e-12, String(ped.ap));
  assert.equal(ped.recall50, 0.5);
  const st = sliceStats(res, null, true);
  assert.ok(Math.abs(st.map! - (1 + 51 / 101) / 2) < 1e-12);
  assert.equal(st.map_small, null);
});

test('an area-range slice counts unmatched detections inside the range as false positives, as COCO does', () => {
  const [small] = compileSlices([def('small', { area: { lt: 500 } })], data);
  const keep = new Uint8Array(gtCols.imageIds.length).fill(1);
  const sub = subsetByImages(gtCols, dtCols, keep);
  const mask = objectMask(small!.objectConditions, data.annotations);
  // small: the 20x20 cars (400) and the 10x30 pedestrians (300); the 30x30 car (900) is outside.
  assert.deepEqual([...mask], [1, 1, 1, 0, 1]);
  const inside = (d: number): boolean => sub.dt.box[d * 4 + 2]! * sub.dt.box[d * 4 + 3]! < 500;
  const res = evaluateSubset(markSliceObjects(sub, mask, inside));
  // cars: the 10x10 FP (score .95, inside the range) ranks first, then two TPs (.9, .8): precision
  // at recall 0.5 is 1/2, at 1.0 is 2/3, interpolated to 2/3 everywhere.
  const car = classStats(res, gtCols.categoryIndex.get(1)!, true);
  assert.ok(Math.abs(car.ap! - 2 / 3) < 1e-12, String(car.ap));
  const recallOriented = evaluateSubset(markSliceObjects(sub, mask, () => false));
  assert.ok(Math.abs(classStats(recallOriented, gtCols.categoryIndex.get(1)!, true).ap! - 1) < 1e-12);
});
