import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { packageRoot } from '../core/paths.js';
import { runCliIn } from './cli-testing.js';
import type { CliResult } from './cli-testing.js';

const root = packageRoot();
const testdata = join(root, 'src', 'runtime', 'testdata');

/** Runs the drivegate CLI (from src under tsx, or from dist) with `dir` as the workspace. */
const drivegate = (dir: string, args: string[]): CliResult => runCliIn(import.meta.url, dir, args);

function setup(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dg-cli-detect-'));
  // Black with a red 4x4 square at (20, 12): the toy model sees one car centred at (22, 14).
  const png = new PNG({ width: 128, height: 64 });
  for (let i = 0; i < 128 * 64; i++) png.data.set([0, 0, 0, 255], i * 4);
  for (let y = 12; y < 16; y++) for (let x = 20; x < 24; x++) png.data[(y * 128 + x) * 4] = 255;
  writeFileSync(join(dir, 'a.png'), PNG.sync.write(png));
  writeFileSync(
    join(dir, 'gt.json'),
    JSON.stringify({ images: [{ id: 42, file_name: 'a.png' }], annotations: [] }),
  );
  copyFileSync(join(testdata, 'toy_centernet.onnx'), join(dir, 'toy.onnx'));
  copyFileSync(join(testdata, 'toy_centernet.inference_config.json'), join(dir, 'toy.inference_config.json'));
  return dir;
}

test('drivegate detect writes COCO results with ids from the GT file', () => {
  const dir = setup();
  try {
    const out = join(dir, 'dets.json');
    const r = drivegate(dir, [
      'detect',
      '--model',
      join(dir, 'toy.onnx'),
      '--images',
      dir,
      '--gt',
      join(dir, 'gt.json'),
      '--out',
      out,
      '--workers',
      '1',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).images, 1);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), [
      { image_id: 42, category_id: 1, bbox: [16, 10, 12, 8], score: 0.982014 },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('drivegate detect exits 2 naming the file for a missing image, a corrupt model or a wrong input size', () => {
  const dir = setup();
  try {
    const out = join(dir, 'dets.json');
    writeFileSync(join(dir, 'm.manifest'), JSON.stringify({ image: 'missing.png' }) + '\n');
    const missing = drivegate(dir, [
      'detect',
      '--model',
      join(dir, 'toy.onnx'),
      '--images',
      join(dir, 'm.manifest'),
      '--out',
      out,
    ]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /missing\.png/);

    writeFileSync(join(dir, 'toy.onnx'), 'garbage');
    const corrupt = drivegate(dir, [
      'detect',
      '--model',
      join(dir, 'toy.onnx'),
      '--images',
      dir,
      '--out',
      out,
      '--json',
    ]);
    assert.equal(corrupt.code, 2, corrupt.stderr);
    assert.equal(JSON.parse(corrupt.stdout).error.file, join(dir, 'toy.onnx'));

    const wrong = drivegate(dir, [
      'detect',
      '--model',
      join(testdata, 'toy_centernet.onnx'),
      '--config',
      join(testdata, 'fixed_centernet.inference_config.json'),
      '--images',
      dir,
      '--out',
      out,
    ]);
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(
      wrong.stderr,
      /toy_centernet\.onnx.*expected float32 \[N,3,32,64\], found float32 \[N,3,64,128\]/,
    );
    assert.equal(existsSync(out), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
