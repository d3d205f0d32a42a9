import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { DrivegateError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import { DT, decodeModel, encodeModel, floatData, intAttribute, varintBytes } from './graph.js';
import { analyzeGraph, exposeTensors, quantizeWeight, roundHalfEven } from './quantize-graph.js';

const root = packageRoot();
const models = [
  join(root, 'models', 'detector-v1.1.0.onnx'),
  ...['boxes', 'busy', 'fixed_centernet', 'toy_centernet'].map((n) =>
    join(root, 'src', 'runtime', 'testdata', `${n}.onnx`),
  ),
];

test('decoding and re-encoding a model gives back the same bytes (detector and the runtime test models)', () => {
  for (const file of models) {
    const bytes = readFileSync(file);
    assert.ok(encodeModel(decodeModel(bytes, file)).equals(bytes), file);
  }
});

test('reads nodes, attributes and float initializers of the detector', () => {
  const file = models[0] as string;
  const m = decodeModel(readFileSync(file), file);
  assert.equal(m.opset, 17);
  assert.equal(m.graph.nodes.length, 51);
  const conv = m.graph.nodes[0];
  assert.equal(conv?.opType, 'Conv');
  assert.deepEqual(conv?.inputs, ['images', 'onnx::Conv_167', 'onnx::Conv_168']);
  assert.deepEqual(conv?.attributes.find((a) => a.name === 'kernel_shape')?.ints, [3, 3]);
  assert.equal(conv?.attributes.find((a) => a.name === 'group')?.i, 1);
  const w = m.graph.initializers.find((t) => t.name === 'onnx::Conv_167');
  assert.deepEqual(w?.dims, [16, 3, 3, 3]);
  assert.equal(w?.dataType, DT.FLOAT);
  assert.equal(floatData(w!).length, 16 * 27);
  const a = analyzeGraph(m);
  assert.equal(a.quantizable.length, 24);
  assert.equal(a.activations[0], 'images');
  assert.ok(!a.activations.includes('/Constant_output_0'), 'constants are not activations');
});

test('a model with activations exposed as outputs runs in onnxruntime and returns them', async () => {
  const file = models[0] as string;
  const m = decodeModel(readFileSync(file), file);
  const a = analyzeGraph(m);
  const s = await ort.InferenceSession.create(exposeTensors(m, a.activations), { intraOpNumThreads: 1 });
  try {
    const r = await s.run({
      images: new ort.Tensor('float32', new Float32Array(3 * 96 * 192).fill(0.5), [1, 3, 96, 192]),
    });
    assert.equal(Object.keys(r).length, a.activations.length - 1);
    assert.deepEqual(r['/net/stem/stem.0/stem.0.0/Conv_output_0']?.dims, [1, 16, 48, 96]);
  } finally {
    await s.release();
  }
});

test('a truncated model is BAD_INPUT naming the file', () => {
  const bytes = readFileSync(models[0] as string);
  assert.throws(
    () => decodeModel(bytes.subarray(0, 5000), 'cut.onnx'),
    (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT' && e.message.includes('cut.onnx'),
  );
});

test('per-channel symmetric weight quantization: scale = channel amax / 127, values in [-127, 127], ties to even', () => {
  const w = new Float32Array([1, -0.5, 0.25, 0, 2, -4, 1, 3]);
  const { q, scales } = quantizeWeight(w, [2, 4], 0);
  assert.deepEqual([...scales], [Math.fround(1 / 127), Math.fround(4 / 127)]);
  assert.deepEqual([...q], [127, -64, 32, 0, 64, -127, 32, 95]);
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(-2.5), -2);
  assert.equal(roundHalfEven(3.5), 4);
  const zero = quantizeWeight(new Float32Array(4), [4], null);
  assert.deepEqual([...zero.scales], [1]);
  assert.deepEqual(varintBytes(-1).length, 10);
  assert.equal(intAttribute('axis', 1).i, 1);
});
