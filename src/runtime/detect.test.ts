import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { sha256 } from '../core/digest.js';
import { DrivegateError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import { idsFromCoco, listImages, runDetect, type CocoResult } from './detect.js';
import { resolveModel } from './resolve.js';

const toy = join(packageRoot(), 'src', 'runtime', 'testdata', 'toy_centernet.onnx');

/** A 128x64 PNG with a 4x4 square of colour channel c at (x, y). */
function squarePng(c: number, x: number, y: number): Buffer {
  const png = new PNG({ width: 128, height: 64 });
  png.data.fill(0);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  for (let yy = y; yy < y + 4; yy++)
    for (let xx = x; xx < x + 4; xx++) png.data[(yy * 128 + xx) * 4 + c] = 255;
  return PNG.sync.write(png);
}

function dataset(): { dir: string; manifest: string; gt: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dg-detect-'));
  mkdirSync(join(dir, 'images', 's1'), { recursive: true });
  const files = [
    ['images/s1/0000.png', squarePng(0, 20, 12)],
    ['images/s1/0001.png', squarePng(1, 40, 32)],
    ['images/s1/0002.png', squarePng(2, 80, 40)],
  ] as const;
  for (const [f, b] of files) writeFileSync(join(dir, f), b);
  const manifest = join(dir, 'val.manifest');
  writeFileSync(
    manifest,
    files
      .map(([f, b], i) => JSON.stringify({ image: f, image_id: 100 + i, sha256: sha256(b) }) + '\n')
      .join(''),
  );
  const gt = join(dir, 'val.json');
  writeFileSync(
    gt,
    JSON.stringify({
      images: files.map(([f], i) => ({ id: 7 + i, file_name: f, width: 128, height: 64 })),
      annotations: [],
      categories: [],
    }),
  );
  return { dir, manifest, gt };
}

const expected = (ids: number[]): CocoResult[] => [
  { image_id: ids[0]!, category_id: 1, bbox: [16, 10, 12, 8], score: 0.982014 },
  { image_id: ids[1]!, category_id: 2, bbox: [36, 30, 12, 8], score: 0.982014 },
  { image_id: ids[2]!, category_id: 3, bbox: [76, 38, 12, 8], score: 0.982014 },
];

test('writes COCO results with image ids from the manifest, the GT file, or in listing order', async () => {
  const { dir, manifest, gt } = dataset();
  try {
    const model = resolveModel(toy);
    const out = join(dir, 'out', 'dets.json');
    const s = await runDetect({ model, images: manifest, out, batch: 2 });
    assert.equal(s.images, 3);
    assert.equal(s.batches, 2);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), expected([100, 101, 102]));
    await runDetect({ model, images: join(dir, 'images'), gt, out, batch: 8, workers: 2 });
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), expected([7, 8, 9]));
    await runDetect({ model, images: join(dir, 'images'), out, batch: 1, workers: 2 });
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), expected([1, 2, 3]));
    assert.deepEqual(readdirSync(join(dir, 'out')), ['dets.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('matches GT file names by relative path and refuses an image the GT lacks', () => {
  const { dir, gt } = dataset();
  try {
    const items = listImages(join(dir, 'images'));
    assert.deepEqual(
      items.map((i) => i.relPath),
      ['s1/0000.png', 's1/0001.png', 's1/0002.png'],
    );
    assert.deepEqual(idsFromCoco(items, gt), [7, 8, 9]);
    writeFileSync(gt, JSON.stringify({ images: [{ id: 1, file_name: 'images/s2/0000.png' }] }));
    assert.throws(
      () => idsFromCoco(items, gt),
      (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT' && e.location.file === gt,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fails on a missing or tampered image and writes no output', async () => {
  const { dir, manifest } = dataset();
  try {
    const model = resolveModel(toy);
    const out = join(dir, 'dets.json');
    writeFileSync(join(dir, 'images', 's1', '0001.png'), squarePng(1, 0, 0));
    await assert.rejects(
      runDetect({ model, images: manifest, out }),
      (e: unknown) =>
        e instanceof DrivegateError && e.code === 'INTEGRITY' && e.location.file!.endsWith('0001.png'),
    );
    rmSync(join(dir, 'images', 's1', '0001.png'));
    await assert.rejects(
      runDetect({ model, images: manifest, out, workers: 1 }),
      (e: unknown) =>
        e instanceof DrivegateError && e.code === 'BAD_INPUT' && e.location.file!.endsWith('0001.png'),
    );
    assert.equal(
      readdirSync(dir).some((f) => f.includes('dets')),
      false,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
