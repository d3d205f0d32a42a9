import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DrivegateError } from '../../core/errors.js';
import { sharedFixtures } from '../../core/paths.js';
import { iou, matchDetections, readCocoPair } from './detections.js';
import type { CocoGroundTruth, Matching } from './detections.js';

type B = [number, number, number, number];

test('IoU of boxes, and of a detection against a crowd region (intersection / detection area)', () => {
  assert.equal(iou([0, 0, 10, 10], [5, 0, 10, 10]), 50 / 150);
  assert.equal(iou([0, 0, 10, 10], [10, 0, 10, 10]), 0);
  assert.equal(iou([0, 0, 10, 10], [0, 0, 100, 100], true), 1);
});

test('greedy matching by score: the duplicate is a false positive, a weaker-IoU ground truth is still found', () => {
  const gt: CocoGroundTruth = {
    images: [{ id: 1 }],
    categories: [{ id: 1, name: 'car' }],
    annotations: [
      { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10] },
      { image_id: 1, category_id: 1, bbox: [4, 0, 10, 10] },
    ],
  };
  const dt = [
    { image_id: 1, category_id: 1, bbox: [4, 0, 10, 10] as B, score: 0.5 },
    { image_id: 1, category_id: 1, bbox: [1, 0, 10, 10] as B, score: 0.9 },
    { image_id: 1, category_id: 1, bbox: [50, 50, 10, 10] as B, score: 0.95 },
  ];
  const m = matchDetections(gt, dt);
  // 0.9 takes gt 0 (IoU 0.818 > 0.538); 0.5 then takes gt 1 (IoU 1).
  assert.deepEqual(
    m.detections.map((d) => [d.score, d.status]),
    [
      [0.95, 'fp'],
      [0.9, 'tp'],
      [0.5, 'tp'],
    ],
  );
  assert.equal(m.gtCount.get(1), 2);
});

test('a detection on an image not in the ground truth is BAD_INPUT', () => {
  const gt: CocoGroundTruth = { images: [{ id: 1 }], categories: [{ id: 1, name: 'car' }], annotations: [] };
  assert.throws(
    () => matchDetections(gt, [{ image_id: 2, category_id: 1, bbox: [0, 0, 1, 1], score: 1 }]),
    (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT' && e.found === '2',
  );
});

/** COCO's AP at one IoU threshold (area all) from a matching, as pycocotools accumulates it. */
function cocoAp(m: Matching, imageOrder: number[]): number {
  const rank = new Map(imageOrder.map((id, i) => [id, i] as const));
  const aps: number[] = [];
  const recThrs = Array.from({ length: 101 }, (_, i) => i * 0.01);
  for (const [cat] of [...m.categories].sort((a, b) => a[0] - b[0])) {
    const npig = m.gtCount.get(cat) ?? 0;
    if (npig === 0) continue;
    const dets = m.detections
      .map((d, i) => ({ d, i }))
      .filter((x) => x.d.category_id === cat)
      .sort((a, b) => rank.get(a.d.image_id)! - rank.get(b.d.image_id)! || a.i - b.i)
      .sort((a, b) => b.d.score - a.d.score)
      .map((x) => x.d)
      .filter((d) => d.status !== 'ignored');
    const eps = 2.220446049250313e-16;
    let tp = 0;
    let fp = 0;
    const pr: number[] = [];
    const rc: number[] = [];
    for (const d of dets) {
      if (d.status === 'tp') tp++;
      else fp++;
      pr.push(tp / (tp + fp + eps));
      rc.push(tp / npig);
    }
    for (let i = pr.length - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!;
    let sum = 0;
    for (const t of recThrs) {
      let lo = 0;
      let hi = rc.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (rc[mid]! < t) lo = mid + 1;
        else hi = mid;
      }
      sum += lo < pr.length ? pr[lo]! : 0;
    }
    aps.push(sum / recThrs.length);
  }
  return aps.reduce((a, b) => a + b, 0) / aps.length;
}

test('matching at IoU 0.5 reproduces pycocotools AP50 on the shared COCO fixtures', async (t) => {
  const dir = join(sharedFixtures(), 'coco');
  let expected: Record<string, { stats: number[] }>;
  try {
    expected = JSON.parse(await readFile(join(dir, 'expected.json'), 'utf8')) as Record<
      string,
      { stats: number[] }
    >;
  } catch {
    t.skip(`shared COCO fixtures not found at ${dir}`);
    return;
  }
  for (const name of ['public_basic', 'public_crowded', 'public_no_large']) {
    const { gt, dt } = await readCocoPair(join(dir, `${name}.gt.json.gz`), join(dir, `${name}.dt.json.gz`));
    const m = matchDetections(gt, dt, 0.5, { maxDets: 100 });
    const order = [...new Set(gt.images.map((i) => i.id))].sort((a, b) => a - b);
    const ap50 = cocoAp(m, order);
    assert.ok(
      Math.abs(ap50 - expected[name]!.stats[1]!) < 1e-9,
      `${name}: AP50 ${ap50} vs pycocotools ${expected[name]!.stats[1]}`,
    );
  }
});
