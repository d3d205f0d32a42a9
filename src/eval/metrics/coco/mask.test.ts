/** Run-length masks: string codec, polygon scan conversion, merge, area, box, IoU (hand-derived cases). */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../../core/paths.js';
import {
  boxIou,
  rleArea,
  rleBbox,
  rleCountsFromString,
  rleCountsToString,
  rleFromBox,
  rleFromPolygon,
  rleIouRuns,
  rleMerge,
} from './mask.js';

const OWN = join(packageRoot(), 'src', 'eval', 'metrics', 'coco', 'fixtures');

/** Column-major runs of a 10x10 mask with rows [r0, r1) x cols [c0, c1) set. */
function block(r0: number, r1: number, c0: number, c1: number, h = 10, w = 10): number[] {
  const runs: number[] = [];
  let cur = 0;
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = y >= r0 && y < r1 && x >= c0 && x < c1 ? 1 : 0;
      if (v !== cur) {
        runs.push(run);
        run = 0;
        cur = v;
      }
      run++;
    }
  }
  runs.push(run);
  return runs;
}

test('decodes and re-encodes the compressed RLE string of a known mask', () => {
  const gt = JSON.parse(readFileSync(join(OWN, 'segm-poly-rle', 'gt.json'), 'utf8')) as {
    annotations: { segmentation: { counts: string } }[];
  };
  const s = gt.annotations[1]!.segmentation.counts; // rows 6-7, cols 6-9 of a 10x10 image
  assert.deepEqual(Array.from(rleCountsFromString(s)), [66, 2, 8, 2, 8, 2, 8, 2, 2]);
  assert.deepEqual(Array.from(rleCountsFromString(s)), block(6, 8, 6, 10));
  assert.equal(rleCountsToString([66, 2, 8, 2, 8, 2, 8, 2, 2]), s);
});

test('the string codec round-trips zeros, small and large counts and negative differences', () => {
  const counts = [0, 5, 3, 1 << 20, 7, 0, 2 ** 31 - 1, 1, 2, 100000, 3, 64, 31, 32, 33];
  const s = rleCountsToString(counts);
  assert.deepEqual(Array.from(rleCountsFromString(s)), counts);
  assert.throws(() => rleCountsFromString('\x7f'), /character/);
  assert.throws(() => rleCountsFromString('P'), /ends in the middle/); // 'P' - 48 = 32: "more" bit set
});

test('rasterizes an axis-aligned 4x4 polygon with integer corners to exactly its 16 pixels', () => {
  const counts = rleFromPolygon([1, 1, 1, 5, 5, 5, 5, 1], 0, 4, 10, 10);
  assert.deepEqual(Array.from(counts), [11, 4, 6, 4, 6, 4, 6, 4, 55]);
  assert.deepEqual(Array.from(counts), block(1, 5, 1, 5));
  assert.equal(rleArea(counts), 16);
  const box = new Float64Array(4);
  rleBbox(counts, 0, counts.length, 10, 10, box, 0);
  assert.deepEqual(Array.from(box), [1, 1, 4, 4]);
  // the same square as a box, and with a repeated vertex (a zero-length edge)
  assert.deepEqual(Array.from(rleFromBox(1, 1, 4, 4, 10, 10)), Array.from(counts));
  assert.deepEqual(
    Array.from(rleFromPolygon([1, 1, 1, 1, 1, 5, 5, 5, 5, 1], 0, 5, 10, 10)),
    Array.from(counts),
  );
  // clipped at the image border: a square reaching past the right edge keeps the in-image part
  assert.equal(rleArea(rleFromPolygon([8, 0, 8, 2, 12, 2, 12, 0], 0, 4, 10, 10)), 4);
});

test('merges masks as a union and measures area', () => {
  const a = { h: 10, w: 10, counts: Uint32Array.from(block(0, 2, 0, 2)) };
  const b = { h: 10, w: 10, counts: Uint32Array.from(block(1, 3, 1, 3)) };
  const u = rleMerge([a, b]);
  assert.equal(rleArea(u.counts), 4 + 4 - 1);
  assert.deepEqual(rleMerge([a]), a);
  assert.equal(rleMerge([a, { h: 5, w: 5, counts: Uint32Array.of(25) }]).h, 0); // sizes differ: empty
});

test('mask IoU: intersection over union, or over the detection area for a crowd', () => {
  const g = Uint32Array.from(block(6, 8, 6, 10)); // 8 pixels
  const d = Uint32Array.from(block(6, 8, 6, 8)); // 4 pixels inside
  assert.equal(rleIouRuns(d, 0, d.length, g, 0, g.length, false), 0.5);
  assert.equal(rleIouRuns(d, 0, d.length, g, 0, g.length, true), 1);
  const far = Uint32Array.from(block(0, 2, 0, 2));
  assert.equal(rleIouRuns(far, 0, far.length, g, 0, g.length, false), 0);
});

test('box IoU uses w*h areas (no +1) and area(dt) for crowd regions', () => {
  assert.equal(boxIou(5, 0, 10, 10, 0, 0, 10, 10, false), 50 / 150);
  assert.equal(boxIou(5, 0, 10, 10, 0, 0, 10, 10, true), 0.5);
  assert.equal(boxIou(10, 0, 10, 10, 0, 0, 10, 10, false), 0); // touching edges
  assert.equal(boxIou(2, 2, 2, 2, 0, 0, 100, 100, true), 1); // inside a crowd region
});
