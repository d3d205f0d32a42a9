import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DrivegateError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import { Detector } from './detector.js';
import type { RgbImage } from './preprocess.js';
import { resolveModel } from './resolve.js';

const testdata = (name: string): string => join(packageRoot(), 'src', 'runtime', 'testdata', name);

function blank(width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3) };
}

/** An image with a filled square of colour channel `c` at pixels [x, x+size) x [y, y+size). */
function square(width: number, height: number, c: number, x: number, y: number, size: number): RgbImage {
  const img = blank(width, height);
  for (let yy = y; yy < y + size; yy++)
    for (let xx = x; xx < x + size; xx++) img.data[(yy * width + xx) * 3 + c] = 255;
  return img;
}

const round = (dets: Array<{ bbox: number[]; score: number; label: string }>) =>
  dets.map((d) => ({
    bbox: d.bbox.map((v) => Math.round(v * 1000) / 1000),
    score: Math.round(d.score * 1e4) / 1e4,
    label: d.label,
  }));

for (const workers of [0, 2]) {
  const mode = workers === 0 ? 'in-process' : 'worker pool';

  test(`decodes a fixed heatmap end to end through onnxruntime (${mode})`, async () => {
    const det = await Detector.open(resolveModel(testdata('fixed_centernet.onnx')), { workers });
    try {
      // The original image is twice the 64x32 input, so every box doubles.
      const [dets] = await det.detect([blank(128, 64)]);
      assert.deepEqual(round(dets!), [
        { bbox: [18, 14, 16, 12], score: 0.8808, label: 'car' },
        { bbox: [70, 38, 24, 12], score: 0.5, label: 'pedestrian' },
      ]);
      assert.equal(dets![1]!.categoryId, 3);
    } finally {
      await det.close();
    }
  });

  test(`keeps every image of a batch apart and resizes each its own way (${mode})`, async () => {
    const det = await Detector.open(resolveModel(testdata('toy_centernet.onnx')), { workers });
    try {
      const images = [
        square(128, 64, 0, 20, 12, 4), // red square in cell (5, 3): a car centred at (22, 14)
        square(128, 64, 1, 40, 32, 4), // green in cell (10, 8): a truck at (42, 34)
        square(256, 128, 2, 80, 40, 8), // blue, twice the input size: a pedestrian at (84, 44)
      ];
      const expected = [
        [{ bbox: [16, 10, 12, 8], score: 0.982, label: 'car' }],
        [{ bbox: [36, 30, 12, 8], score: 0.982, label: 'truck' }],
        [{ bbox: [72, 36, 24, 16], score: 0.982, label: 'pedestrian' }],
      ];
      const batched = await det.detect(images);
      assert.deepEqual(batched.map(round), expected);
      // Concurrent single-image calls (queued on the pool) answer each its own image.
      const single = await Promise.all(images.map((img) => det.detect([img])));
      assert.deepEqual(
        single.map((r) => round(r[0]!)),
        expected,
      );
    } finally {
      await det.close();
    }
  });
}

test('decodes direct box outputs with per-class NMS', async () => {
  const det = await Detector.open(resolveModel(testdata('boxes.onnx')));
  try {
    const [dets] = await det.detect([blank(32, 32)]);
    assert.deepEqual(round(dets!), [
      { bbox: [2, 2, 10, 8], score: 0.9, label: 'car' },
      { bbox: [16, 16, 14, 12], score: 0.4, label: 'truck' },
    ]);
  } finally {
    await det.close();
  }
});

test('rejects a model whose input size differs from its config, naming the model file', async () => {
  const model = resolveModel(
    testdata('toy_centernet.onnx'),
    testdata('fixed_centernet.inference_config.json'),
  );
  for (const workers of [0, 1]) {
    await assert.rejects(
      Detector.open(model, { workers }),
      (e: unknown) =>
        e instanceof DrivegateError &&
        e.code === 'BAD_INPUT' &&
        e.location.file === model.modelPath &&
        /float32 \[N,3,32,64\]/.test(e.message) &&
        /\[N,3,64,128\]/.test(e.message),
    );
  }
});

test('rejects a corrupt ONNX file as bad input naming it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-corrupt-'));
  try {
    const bad = join(dir, 'broken.onnx');
    writeFileSync(bad, 'this is not a protobuf');
    const model = resolveModel(bad, testdata('fixed_centernet.inference_config.json'));
    for (const workers of [0, 2]) {
      await assert.rejects(
        Detector.open(model, { workers }),
        (e: unknown) =>
          e instanceof DrivegateError &&
          e.code === 'BAD_INPUT' &&
          e.message.includes(bad) &&
          /ONNX/.test(e.message),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
