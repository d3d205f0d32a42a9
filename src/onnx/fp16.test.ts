import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalSession } from '../runtime/session.js';
import { execFileSync } from 'node:child_process';
import { DrivegateError } from '../core/errors.js';
import { mulberry32 } from '../core/random.js';
import { convertToFp16, emulateFp16, fp16Bits, graphComposition, roundToFp16 } from './fp16.js';
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

const python = '/usr/bin/python3';
const pythonHasOnnx = ((): boolean => {
  try {
    execFileSync(python, ['-c', 'import onnx, numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test(
  'fp16Bits gives the binary16 bits numpy gives for the same float32 values',
  { skip: !pythonHasOnnx },
  () => {
    const rand = mulberry32(5);
    const values: number[] = [
      0,
      -0,
      1,
      -2.5,
      65504,
      65519,
      65520,
      1e-8,
      2 ** -24,
      3 * 2 ** -25,
      6.1e-5,
      1 / 3,
    ];
    for (let i = 0; i < 500; i++)
      values.push(Math.fround((rand() - 0.5) * 10 ** Math.floor(rand() * 12 - 7)));
    const f32 = Float32Array.from(values);
    const out = execFileSync(
      python,
      [
        '-c',
        'import sys, warnings, numpy as np; warnings.simplefilter("ignore"); a = np.frombuffer(sys.stdin.buffer.read(), dtype="<f4"); ' +
          'print(",".join(str(int(x)) for x in a.astype(np.float16).view(np.uint16)))',
      ],
      { input: Buffer.from(f32.buffer) },
    )
      .toString()
      .trim()
      .split(',')
      .map(Number);
    assert.deepEqual(
      Array.from(f32, (v) => fp16Bits(v)),
      out,
    );
  },
);

test('the FP16 detector stores FP16 weights, keeps FP32 I/O and Sigmoid, passes onnx.checker and runs close to FP32', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-fp16c-'));
  try {
    const src = readFileSync(referenceDetectorPath());
    const { model, info } = convertToFp16(src, 'detector.onnx');
    assert.deepEqual(convertToFp16(src, 'detector.onnx').model, model, 'deterministic bytes');
    assert.equal(info.initializersConverted, 44);
    assert.equal(info.weightsClamped, 0);
    assert.deepEqual(info.nodesKeptFp32, { Sigmoid: 1 });
    // Casts: images in, Sigmoid in and out of FP32 (its output is the heatmap, so no cast back), wh and offset out.
    assert.equal(info.castsAdded, 4);
    const comp = graphComposition(model, 'fp16.onnx');
    assert.deepEqual(comp.initializers, { float16: 44 });
    assert.equal(comp.nodes['ai.onnx:Cast'], 4);
    const path = join(dir, 'model.fp16.onnx');
    writeFileSync(path, model);
    if (pythonHasOnnx) {
      execFileSync(
        python,
        ['-c', 'import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', path],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
    }
    const a = await LocalSession.open(referenceDetectorPath(), { intraOpThreads: 1 });
    const b = await LocalSession.open(path, { intraOpThreads: 1 });
    try {
      assert.deepEqual(b.io, a.io, 'same FP32 inputs and outputs');
      const dims = [2, 3, 96, 192];
      const data = new Float32Array(2 * 3 * 96 * 192).map((_, i) => Math.sin(i * 0.37) * 2);
      const ra = await a.run({ images: { type: 'float32', data: new Float32Array(data), dims } });
      const rb = await b.run({ images: { type: 'float32', data, dims } });
      for (const [head, bound] of [
        ['heatmap', 0.02],
        ['wh', 0.5],
        ['offset', 0.02],
      ] as const) {
        const x = ra[head]?.data as Float32Array;
        const y = rb[head]?.data as Float32Array;
        let max = 0;
        for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs((x[i] ?? 0) - (y[i] ?? 0)));
        assert.ok(max > 0 && max < bound, `${head}: ${max}`);
      }
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with no op kept in FP32 every node computes in FP16 and only the I/O is cast', () => {
  const { info } = convertToFp16(readFileSync(referenceDetectorPath()), 'detector.onnx', { keepFp32Ops: [] });
  assert.deepEqual(info.nodesKeptFp32, {});
  assert.equal(info.nodesFp16, 51);
  assert.equal(info.castsAdded, 4);
});

test('a truncated model is BAD_INPUT naming the file', () => {
  const src = readFileSync(referenceDetectorPath());
  assert.throws(
    () => convertToFp16(src.subarray(0, 1000), 'cut.onnx'),
    (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT' && e.location.file === 'cut.onnx',
  );
});
