import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DrivegateError } from '../core/errors.js';
import { DT, encodeModel, intField, lenField, rawTensor, tensorValue } from '../onnx/graph.js';
import type { GraphNode } from '../onnx/graph.js';
import { readOnnxModel } from '../onnx/proto.js';
import { quantizeInt8 } from '../onnx/quantize.js';
import type { TensorMap } from '../runtime/tensor.js';
import { QAT_FIELD, qatReport, verifyQatModel } from './int8.js';
import { preparePackage } from './run.js';
import { referenceDetectorPath } from '../onnx/testing.js';

const work = mkdtempSync(join(tmpdir(), 'dg-qat-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** x[N,16] -> MatMul(w 16x8) -> Tanh -> `out` (a small FP32 model). */
function smallModel(out = 'y'): Buffer {
  const w = Buffer.alloc(16 * 8 * 4);
  for (let i = 0; i < 16 * 8; i++) w.writeFloatLE(Math.sin(i * 0.37) * 0.5, i * 4);
  const node = (name: string, opType: string, inputs: string[], outputs: string[]): GraphNode => ({
    name,
    opType,
    domain: '',
    inputs,
    outputs,
    attributes: [],
    extra: [],
  });
  return encodeModel({
    head: [intField(1, 8), lenField(8, intField(2, 17))],
    tail: [],
    opset: 17,
    graph: {
      name: 'small',
      nodes: [node('mm', 'MatMul', ['x', 'w'], ['h']), node('act', 'Tanh', ['h'], [out])],
      initializers: [rawTensor('w', DT.FLOAT, [16, 8], w)],
      inputs: [tensorValue('x', DT.FLOAT)],
      outputs: [tensorValue(out, DT.FLOAT)],
      valueInfo: [],
      extra: [],
    },
  });
}

const batch = (seed: number): TensorMap => ({
  x: {
    type: 'float32',
    data: new Float32Array(8 * 16).map((_, i) => Math.sin(i * seed + 0.3)),
    dims: [8, 16],
  },
});

/** quantizeInt8's QDQ output for `fp32` (standing in for a QAT export), written to `name`. */
async function qdqOf(fp32: Buffer, name: string): Promise<string> {
  const r = await quantizeInt8({
    model: fp32,
    file: name,
    calibration: [batch(1), batch(2)],
    calibrator: 'minmax',
    tolerance: { maxAbs: 1 },
  });
  const path = join(work, name);
  writeFileSync(path, r.model);
  return path;
}

function badQat(found: RegExp): (e: unknown) => boolean {
  return (e: unknown) =>
    e instanceof DrivegateError &&
    e.code === 'BAD_INPUT' &&
    e.location.field === QAT_FIELD &&
    e.location.file === 'recipe.yaml' &&
    found.test(`${e.message} ${e.found ?? ''}`);
}

test('accepts a QDQ model with the FP32 model inputs and outputs, and reports it as source qat without a cache', async () => {
  const fp32 = smallModel();
  const qat = await qdqOf(fp32, 'small.qdq.onnx');
  const check = await verifyQatModel(qat, readOnnxModel(fp32, 'small.onnx'), 'recipe.yaml');
  assert.ok(check.quantize_linear > 0 && check.dequantize_linear > 0, JSON.stringify(check));
  assert.match(check.sha256, /^sha256:[0-9a-f]{64}$/);
  const rep = qatReport(check);
  assert.equal(rep.source, 'qat');
  assert.equal(rep.file, 'model.int8.onnx');
  assert.equal(rep.calibration_cache, null);
  assert.match(rep.note, /no calibration\.cache/);
});

test('refuses a missing file, a non-ONNX file, an FP32 model and an IO mismatch, naming int8.qat_model', async () => {
  const fp32 = smallModel();
  const info = readOnnxModel(fp32, 'small.onnx');
  await assert.rejects(verifyQatModel(join(work, 'nope.onnx'), info, 'recipe.yaml'), badQat(/ENOENT/));
  const junk = join(work, 'junk.onnx');
  writeFileSync(junk, 'not onnx\n');
  await assert.rejects(verifyQatModel(junk, info, 'recipe.yaml'), badQat(/not a readable ONNX model/));
  const plain = join(work, 'plain.onnx');
  writeFileSync(plain, fp32);
  await assert.rejects(
    verifyQatModel(plain, info, 'recipe.yaml'),
    badQat(/not in QDQ format.*0 QuantizeLinear, 0 DequantizeLinear/),
  );
  const other = await qdqOf(smallModel('z'), 'other.qdq.onnx');
  await assert.rejects(verifyQatModel(other, info, 'recipe.yaml'), badQat(/graph outputs differ.* z:1/));
});

test('package refuses a recipe whose int8.qat_model is not a QDQ model of the model, before any step', async () => {
  const dir = mkdtempSync(join(work, 'prep-'));
  const recipe = join(dir, 'recipe.yaml');
  const plain = join(dir, 'plain.onnx');
  writeFileSync(plain, smallModel());
  for (const [qat, found] of [
    ['missing.qdq.onnx', /ENOENT/],
    ['plain.onnx', /not in QDQ format/],
  ] as const) {
    writeFileSync(
      recipe,
      `recipe_version: 1\ntask: detection\nmodel:\n  name: detector\ntargets:\n  - cpu-ort-int8\nint8:\n  qat_model: ${qat}\n`,
    );
    await assert.rejects(
      preparePackage({ model: referenceDetectorPath(), recipe, packsDir: join(dir, 'packs') }),
      (e: unknown) =>
        e instanceof DrivegateError &&
        e.code === 'BAD_INPUT' &&
        e.location.field === QAT_FIELD &&
        e.location.file === recipe &&
        found.test(`${e.message} ${e.found ?? ''}`),
    );
  }
});
