import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DrivegateError } from '../core/errors.js';
import { ORT_CPU_OPSET17, TRT_86, checkCoverage } from './coverage.js';
import { readOnnxModel } from './proto.js';
import { detectorWithOpRenamed, referenceDetectorPath } from './testing.js';

test('reads the reference detector: IR 8, opset 17, 51 nodes, typed graph inputs and outputs', () => {
  const m = readOnnxModel(readFileSync(referenceDetectorPath()), 'detector.onnx');
  assert.equal(m.irVersion, 8);
  assert.deepEqual(m.opsetImports, [{ domain: '', version: 17 }]);
  assert.equal(m.graph.nodes.length, 51);
  assert.deepEqual(m.graph.inputs, [{ name: 'images', elemType: 1, dims: ['N', 3, 96, 192] }]);
  assert.deepEqual(
    m.graph.outputs.map((o) => [o.name, o.dims]),
    [
      ['heatmap', ['N', 4, 24, 48]],
      ['wh', ['N', 2, 24, 48]],
      ['offset', ['N', 2, 24, 48]],
    ],
  );
  assert.ok(m.graph.initializers.length > 0);
});

test('rejects a truncated ONNX file as BAD_INPUT naming the file', () => {
  const bytes = readFileSync(referenceDetectorPath());
  for (const n of [10, 1000, bytes.length - 7]) {
    assert.throws(
      () => readOnnxModel(bytes.subarray(0, n), 'cut.onnx'),
      (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT' && /cut\.onnx/.test(e.message),
    );
  }
});

test('rejects bytes that are not a ModelProto', () => {
  assert.throws(() => readOnnxModel(Buffer.from('this is not onnx at all\n'), 'text.onnx'), /text\.onnx/);
  assert.throws(() => readOnnxModel(Buffer.alloc(0), 'empty.onnx'), /not an ONNX model/);
});

test('coverage: the reference detector runs on onnxruntime CPU and TensorRT 8.6', () => {
  const m = readOnnxModel(readFileSync(referenceDetectorPath()), 'd.onnx');
  const ort = checkCoverage(m, ORT_CPU_OPSET17);
  assert.equal(ort.ok, true);
  assert.equal(ort.ops['ai.onnx:Conv'], 22);
  assert.equal(checkCoverage(m, TRT_86).ok, true);
});

test('coverage names the node whose op a table lacks (Hardmax: ORT CPU yes, TensorRT 8.6 no)', () => {
  const m = readOnnxModel(detectorWithOpRenamed('Sigmoid', 'Hardmax'), 'd.onnx');
  assert.equal(checkCoverage(m, ORT_CPU_OPSET17).ok, true);
  const trt = checkCoverage(m, TRT_86);
  assert.equal(trt.ok, false);
  assert.equal(trt.uncovered.length, 1);
  assert.equal(trt.uncovered[0]?.opType, 'Hardmax');
  assert.match(trt.uncovered[0]?.reason ?? '', /tensorrt-8\.6/);
});
