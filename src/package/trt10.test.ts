import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DrivegateError } from '../core/errors.js';
import { SUPPORT_TABLES, TRT_10, TRT_10_ADDED_IN, TRT_86, checkCoverage } from '../onnx/coverage.js';
import { DT, encodeModel, intField, lenField, tensorValue } from '../onnx/graph.js';
import { readOnnxModel } from '../onnx/proto.js';
import type { OnnxModelInfo } from '../onnx/proto.js';
import { KNOWN_TARGETS, parseRecipe } from './recipe.js';
import { graphChecks } from './workflow.js';

/** A one-node model x -> op -> y importing the default ONNX domain at `opset`. */
function oneNode(opType: string, opset: number): OnnxModelInfo {
  const bytes = encodeModel({
    head: [intField(1, 8), lenField(8, intField(2, opset))],
    tail: [],
    opset,
    graph: {
      name: 'one',
      nodes: [{ name: 'n0', opType, domain: '', inputs: ['x'], outputs: ['y'], attributes: [], extra: [] }],
      initializers: [],
      inputs: [tensorValue('x', DT.FLOAT)],
      outputs: [tensorValue('y', DT.FLOAT)],
      valueInfo: [],
      extra: [],
    },
  });
  return readOnnxModel(bytes, `${opType}-opset${opset}.onnx`);
}

const recipe = (targets: string[]): ReturnType<typeof parseRecipe> =>
  parseRecipe(
    `recipe_version: 1\ntask: detection\nmodel:\n  name: m\ntargets:\n${targets.map((t) => `  - ${t}\n`).join('')}`,
    'r.yaml',
  );

function refusedFor(target: string, model: OnnxModelInfo, reason: RegExp): void {
  assert.throws(
    () => graphChecks(model, recipe([target]), 'm.onnx', 'r.yaml'),
    (e: unknown) =>
      e instanceof DrivegateError &&
      e.code === 'BAD_INPUT' &&
      e.message.includes(`target ${target}`) &&
      reason.test(e.found ?? ''),
  );
}

test('gpu-trt-* targets use the TensorRT 8.6 table, gpu-trt10-* the TensorRT 10.x table', () => {
  for (const p of ['fp32', 'fp16', 'int8']) {
    assert.equal(KNOWN_TARGETS[`gpu-trt-${p}`]?.table, 'trt-8.6');
    assert.equal(KNOWN_TARGETS[`gpu-trt10-${p}`]?.table, 'trt-10');
    assert.equal(KNOWN_TARGETS[`gpu-trt10-${p}`]?.runtime, 'tensorrt');
  }
  assert.equal(SUPPORT_TABLES['trt-8.6'], TRT_86);
  assert.equal(SUPPORT_TABLES['trt-10'], TRT_10);
});

test('Gelu at opset 20 passes a gpu-trt10 target and is refused for gpu-trt, naming node and target', () => {
  const m = oneNode('Gelu', 20);
  assert.equal(checkCoverage(m, TRT_10).ok, true);
  const r = graphChecks(m, recipe(['gpu-trt10-fp16']), 'm.onnx', 'r.yaml');
  assert.equal(r.coverage['gpu-trt10-fp16']?.ok, true);
  // Both TensorRT tables are reported: 8.6 lacks Gelu (and opset 20).
  assert.equal(r.tensorrt_coverage?.['tensorrt-10']?.ok, true);
  assert.equal(r.tensorrt_coverage?.['tensorrt-8.6']?.ok, false);
  assert.match(r.tensorrt_coverage?.['tensorrt-8.6']?.uncovered[0]?.reason ?? '', /Gelu/);
  refusedFor('gpu-trt-fp16', m, /op Gelu is not in tensorrt-8\.6/);
});

test('an opset-8 model passes gpu-trt (8.6: opsets 7..17) and is refused for gpu-trt10 (opsets 9..20)', () => {
  const m = oneNode('Relu', 8);
  const r = graphChecks(m, recipe(['gpu-trt-fp32']), 'm.onnx', 'r.yaml');
  assert.equal(r.coverage['gpu-trt-fp32']?.ok, true);
  assert.equal(r.tensorrt_coverage?.['tensorrt-10']?.ok, false);
  refusedFor('gpu-trt10-fp32', m, /opset 8 is outside 9\.\.20 of tensorrt-10/);
});

test('a recipe with no TensorRT target reports no TensorRT coverage', () => {
  const r = graphChecks(oneNode('Relu', 17), recipe(['cpu-ort-fp32']), 'm.onnx', 'r.yaml');
  assert.equal(r.tensorrt_coverage, undefined);
  assert.equal(r.coverage['cpu-ort-fp32']?.ok, true);
});

test('ops the 10.x table lists beyond 8.6 (Hardmax from 9.2, Mish) pass gpu-trt10 and are refused for gpu-trt', () => {
  for (const op of ['Hardmax', 'Mish']) {
    const m = oneNode(op, 18);
    assert.equal(checkCoverage(m, TRT_10).ok, true, op);
    refusedFor('gpu-trt-fp16', m, new RegExp(`op ${op} is not in tensorrt-8\\.6|opset 18 is outside`));
  }
});

test('an op a later 10.x minor added (DeformConv, 10.1) is refused for gpu-trt10, naming the minor', () => {
  const m = oneNode('DeformConv', 19);
  assert.equal(TRT_10_ADDED_IN['DeformConv'], '10.1');
  refusedFor(
    'gpu-trt10-fp32',
    m,
    /op DeformConv is not in tensorrt-10 \(onnx-tensorrt added it in TensorRT 10\.1\)/,
  );
  // Ops 10.x no longer lists stay refused (QLinearConv: N in 8.6 and 10.15).
  refusedFor('gpu-trt10-int8', oneNode('QLinearConv', 17), /op QLinearConv is not in tensorrt-10/);
});
