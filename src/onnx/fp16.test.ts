import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalSession } from '../runtime/session.js';
import { emulateFp16, roundToFp16 } from './fp16.js';
import { readOnnxModel } from './proto.js';
import { referenceDetectorPath } from './testing.js';

test('roundToFp16 rounds to the nearest half value, ties to even, overflow to Inf, tiny to 0', () => {
  assert.equal(roundToFp16(1 / 3), 0.333251953125);
  assert.equal(roundToFp16(65504), 65504);
  assert.equal(roundToFp16(70000), Infinity);
  assert.equal(roundToFp16(-70000), -Infinity);
  assert.equal(roundToFp16(2049), 2048);
  assert.equal(roundToFp16(2051), 2052);
  assert.equal(roundToFp16(1e-8), 0);
  assert.equal(roundToFp16(2 ** -24), 2 ** -24);
  assert.equal(roundToFp16(0.1), 0.0999755859375);
});

test('the emulated detector keeps its I/O, runs in onnxruntime and differs from FP32 by fp16-sized amounts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-fp16-'));
  try {
    const { model, info } = emulateFp16(readFileSync(referenceDetectorPath()), 'detector.onnx');
    assert.equal(info.initializersRounded, 44);
    assert.equal(info.activationsCast, 50);
    assert.deepEqual(info.skippedOps, ['Constant']);
    const m = readOnnxModel(model, 'emulated.onnx');
    assert.equal(m.graph.nodes.filter((n) => n.opType === 'Cast').length, 100);
    const path = join(dir, 'emulated.onnx');
    writeFileSync(path, model);
    const a = await LocalSession.open(referenceDetectorPath(), { intraOpThreads: 1 });
    const b = await LocalSession.open(path, { intraOpThreads: 1 });
    try {
      assert.deepEqual(b.io, a.io);
      const dims = [1, 3, 96, 192];
      const data = new Float32Array(3 * 96 * 192).map((_, i) => Math.sin(i) * 2);
      const ra = await a.run({ images: { type: 'float32', data: new Float32Array(data), dims } });
      const rb = await b.run({ images: { type: 'float32', data, dims } });
      const wa = ra['wh']?.data as Float32Array;
      const wb = rb['wh']?.data as Float32Array;
      let max = 0;
      for (let i = 0; i < wa.length; i++) max = Math.max(max, Math.abs((wa[i] ?? 0) - (wb[i] ?? 0)));
      assert.ok(max > 0, 'emulation changes the outputs');
      assert.ok(max < 0.5, `fp16-sized deviation, found ${max}`);
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
