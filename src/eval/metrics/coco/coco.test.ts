/**
 * The COCO evaluation against pycocotools' own numbers (shared fixtures) and against hand-derived
 * numbers on small adversarial fixtures (which also carry pycocotools' numbers).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { packageRoot, sharedFixtures } from '../../../core/paths.js';
import {
  IOU_THRESHOLDS,
  RECALL_THRESHOLDS,
  evaluateCoco,
  evaluateCocoFiles,
  formatSummary,
  loadDetections,
  loadGroundTruth,
  type CocoIouType,
} from './index.js';

const SHARED = join(sharedFixtures(), 'coco');
const OWN = join(packageRoot(), 'src', 'eval', 'metrics', 'coco', 'fixtures');
const TOL = 1e-9;

interface SharedExpected {
  iouType: CocoIouType;
  counts: { images: number; gt_annotations: number; detections: number; categories: number };
  stats: number[];
  per_category_AP: Record<string, number>;
}

interface OwnExpected {
  iouType: CocoIouType;
  covers: string;
  expected: { stats: number[]; per_class: Record<string, number> };
  pycocotools_2_0_11: { stats: number[]; per_class: Record<string, number> };
}

function close(actual: readonly number[], expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((v, i) => {
    assert.ok(Math.abs(v - expected[i]!) <= TOL, `${what}[${i}]: ${v} vs expected ${expected[i]}`);
  });
}

const shared = JSON.parse(readFileSync(join(SHARED, 'expected.json'), 'utf8')) as Record<
  string,
  SharedExpected
>;

for (const [name, exp] of Object.entries(shared)) {
  test(`matches pycocotools on shared fixture ${name}: all 12 stats and per-category AP to 1e-9`, () => {
    const r = evaluateCocoFiles({
      gt: join(SHARED, `${name}.gt.json.gz`),
      dt: join(SHARED, `${name}.dt.json.gz`),
      iouType: exp.iouType,
    });
    close(r.stats, exp.stats, `${name} stats`);
    assert.deepEqual(
      r.perClass.map((c) => String(c.categoryId)).sort(),
      Object.keys(exp.per_category_AP).sort(),
    );
    for (const c of r.perClass) {
      close([c.ap], [exp.per_category_AP[String(c.categoryId)]!], `${name} AP of category ${c.categoryId}`);
    }
    assert.equal(r.counts.images, exp.counts.images);
    assert.equal(r.counts.gt, exp.counts.gt_annotations);
    assert.equal(r.counts.dt, exp.counts.detections);
    assert.equal(r.counts.categories, exp.counts.categories);
  });
}

const own = JSON.parse(readFileSync(join(OWN, 'expected.json'), 'utf8')) as Record<string, OwnExpected>;

for (const [name, exp] of Object.entries(own)) {
  test(`adversarial fixture ${name}: hand-derived numbers and pycocotools' numbers (${exp.covers})`, () => {
    const r = evaluateCocoFiles({
      gt: join(OWN, name, 'gt.json'),
      dt: join(OWN, name, 'dt.json'),
      iouType: exp.iouType,
    });
    close(r.stats, exp.expected.stats, `${name} stats (hand)`);
    close(r.stats, exp.pycocotools_2_0_11.stats, `${name} stats (pycocotools)`);
    for (const c of r.perClass) {
      const id = String(c.categoryId);
      close([c.ap], [exp.expected.per_class[id]!], `${name} AP of ${id} (hand)`);
      close([c.ap], [exp.pycocotools_2_0_11.per_class[id]!], `${name} AP of ${id} (pycocotools)`);
    }
  });
}

test('IoU and recall thresholds are the exact values numpy.linspace gives', () => {
  // np.linspace(.5, 0.95, 10) and np.linspace(0, 1, 101), printed with repr() by numpy 2.4.
  assert.deepEqual(
    Array.from(IOU_THRESHOLDS),
    [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95],
  );
  assert.equal(RECALL_THRESHOLDS.length, 101);
  RECALL_THRESHOLDS.forEach((v, i) => assert.equal(v, i * 0.01));
  assert.equal(RECALL_THRESHOLDS[100], 1);
});

test('per-class precision-recall curves: IoU .5 and the mean over thresholds; null without ground truth', () => {
  const dir = join(OWN, 'category-without-gt');
  const r = evaluateCocoFiles({ gt: join(dir, 'gt.json'), dt: join(dir, 'dt.json'), iouType: 'bbox' });
  const [c1, c2] = r.perClass;
  assert.equal(c2!.prAt50, null);
  assert.equal(c2!.prMean, null);
  assert.equal(c2!.ap, -1);
  assert.equal(c1!.prAt50!.length, 101);
  for (const v of c1!.prAt50!) assert.ok(Math.abs(v - 1) < 1e-12);
  const ties = join(OWN, 'score-ties');
  const t = evaluateCocoFiles({ gt: join(ties, 'gt.json'), dt: join(ties, 'dt.json'), iouType: 'bbox' });
  for (const v of t.perClass[0]!.prMean!) assert.ok(Math.abs(v - 0.5) < 1e-12);
  assert.equal(t.perClass[0]!.gtCount, 1);
  assert.equal(t.perClass[0]!.dtCount, 2);
});

test('prints the summary exactly in pycocotools layout, rounding ties to even like Python', () => {
  const text = formatSummary([
    0.4367108753133627, 0.0625, 0.5625, -1, 0, 1, 0.1875, 0.5, 0.5, 0.25, 0.75, 0.3125,
  ]);
  const lines = text.split('\n');
  assert.equal(lines.length, 12);
  assert.equal(lines[0], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.437');
  assert.equal(lines[1], ' Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.062');
  assert.equal(lines[2], ' Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ] = 0.562');
  assert.equal(lines[3], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = -1.000');
  assert.equal(lines[6], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.188');
  assert.equal(lines[7], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ] = 0.500');
  assert.equal(lines[10], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = 0.750');
  assert.equal(lines[11], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = 0.312');
});

test('records that cross chunk boundaries read the same as whole files (7-byte chunks)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drivegate-coco-'));
  try {
    const gtPath = join(dir, 'gt.json');
    const dtPath = join(dir, 'dt.json');
    writeFileSync(gtPath, gunzipSync(readFileSync(join(SHARED, 'public_basic.gt.json.gz'))));
    writeFileSync(dtPath, gunzipSync(readFileSync(join(SHARED, 'public_basic.dt.json.gz'))));
    const whole = evaluateCocoFiles({ gt: gtPath, dt: dtPath, iouType: 'bbox' });
    const gt = loadGroundTruth(gtPath, { iouType: 'bbox', chunkBytes: 7 });
    const dt = loadDetections(dtPath, gt, { chunkBytes: 7 });
    const chunked = evaluateCoco(gt, dt);
    assert.deepEqual(chunked.stats, whole.stats);
    assert.deepEqual(Array.from(chunked.precision), Array.from(whole.precision));
    const seg = join(OWN, 'segm-poly-rle');
    const sg = loadGroundTruth(join(seg, 'gt.json'), { iouType: 'segm', chunkBytes: 5 });
    const sd = loadDetections(join(seg, 'dt.json'), sg, { chunkBytes: 5 });
    close(evaluateCoco(sg, sd).stats, own['segm-poly-rle']!.expected.stats, 'segm chunked');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an empty results list evaluates to zeros where there is ground truth (pycocotools would crash)', () => {
  const dir = join(OWN, 'score-ties');
  const gt = loadGroundTruth(join(dir, 'gt.json'), { iouType: 'bbox' });
  const dt = loadDetections({ bytes: Buffer.from('[]'), name: 'empty.json' }, gt);
  const r = evaluateCoco(gt, dt);
  assert.deepEqual(r.stats, [0, 0, 0, 0, -1, -1, 0, 0, 0, 0, -1, -1]);
});
