import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { DrivegateError } from '../core/errors.js';
import { parseInferenceConfig, type InferenceConfigInput } from './config.js';
import { decodePng, planTransform, preprocessBatch, type RgbImage } from './preprocess.js';

function config(extra: Partial<InferenceConfigInput> = {}, width = 4, height = 2) {
  return parseInferenceConfig({
    schema_version: 1,
    input: { name: 'images', width, height },
    classes: { '0': { id: 1, name: 'car' } },
    output: { decoder: 'centernet', heatmap: 'h', wh: 'w', offset: 'o' },
    ...extra,
  });
}

function image(width: number, height: number, f: (x: number, y: number, c: number) => number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = f(x, y, c);
  return { width, height, data };
}

test('lays an image out as normalised NCHW planes when no resize is needed', () => {
  const cfg = config({ preprocess: { normalize: { scale: 1, mean: [10, 20, 30], std: [2, 4, 5] } } });
  const img = image(4, 2, (x, y, c) => x + 10 * y + 100 * c);
  const { tensor, transforms } = preprocessBatch([img], cfg);
  assert.deepEqual(tensor.dims, [1, 3, 2, 4]);
  const d = tensor.data as Float32Array;
  // channel 1, y 1, x 2: pixel 2 + 10 + 100 = 112 -> (112 - 20) / 4 = 23
  assert.equal(d[1 * 8 + 1 * 4 + 2], 23);
  assert.equal(d[0], (0 - 10) / 2);
  assert.deepEqual(transforms[0], {
    width: 4,
    height: 2,
    scaleX: 1,
    scaleY: 1,
    padX: 0,
    padY: 0,
    resizedWidth: 4,
    resizedHeight: 2,
  });
});

test('averages pixel pairs when halving an image (half-pixel-centre bilinear)', () => {
  const cfg = config({ preprocess: { normalize: { scale: 1 } } });
  const img = image(8, 4, (x, y) => (x % 2 === 0 ? 0 : 100) + (y % 2 === 0 ? 0 : 20));
  const { tensor } = preprocessBatch([img], cfg);
  for (const v of tensor.data as Float32Array) assert.equal(v, 60);
});

test('letterboxes a tall image into the middle and pads with the pad value', () => {
  const cfg = config(
    { preprocess: { resize: { mode: 'letterbox', pad_value: 7 }, normalize: { scale: 1 } } },
    8,
    4,
  );
  const t = planTransform(2, 4, cfg);
  assert.deepEqual(t, {
    width: 2,
    height: 4,
    scaleX: 1,
    scaleY: 1,
    padX: 3,
    padY: 0,
    resizedWidth: 2,
    resizedHeight: 4,
  });
  const { tensor } = preprocessBatch([image(2, 4, () => 200)], cfg);
  const row = Array.from((tensor.data as Float32Array).slice(0, 8));
  assert.deepEqual(row, [7, 7, 7, 200, 200, 7, 7, 7]);
});

test('batches several images back to back', () => {
  const cfg = config({ preprocess: { normalize: { scale: 1 } } });
  const { tensor } = preprocessBatch([image(4, 2, () => 1), image(4, 2, () => 2)], cfg);
  assert.deepEqual(tensor.dims, [2, 3, 2, 4]);
  assert.equal((tensor.data as Float32Array)[23], 1);
  assert.equal((tensor.data as Float32Array)[24], 2);
});

test('decodes RGBA PNGs to RGB and names the file of a corrupt one', () => {
  const png = new PNG({ width: 2, height: 1 });
  png.data = Buffer.from([1, 2, 3, 255, 4, 5, 6, 128]);
  const img = decodePng(PNG.sync.write(png));
  assert.deepEqual([...img.data], [1, 2, 3, 4, 5, 6]);
  assert.throws(
    () => decodePng(Buffer.from('not a png'), 'frames/a.png'),
    (e: unknown) =>
      e instanceof DrivegateError && e.code === 'BAD_INPUT' && e.location.file === 'frames/a.png',
  );
});
