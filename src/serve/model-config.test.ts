import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DrivegateError } from '../core/errors.js';
import { parseModelConfig, writeModelConfig, type ModelConfig } from './model-config.js';
import { parsePbtxt, writePbtxt } from './pbtxt.js';

const TRITON_EXAMPLE = `
name: "detector"
platform: "onnxruntime_onnx"        # or: backend: "onnxruntime"
max_batch_size: 8
input [ { name: "images"  data_type: TYPE_FP32  dims: [ 3, 640, 640 ] } ]
output [ { name: "output0" data_type: TYPE_FP32 dims: [ 84, 8400 ] } ]
instance_group [ { count: 1 kind: KIND_GPU } ]
dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 100 }
version_policy: { latest: { num_versions: 1 } }
optimization { execution_accelerators {
  gpu_execution_accelerator : [ {
    name : "tensorrt"
    parameters { key: "precision_mode" value: "FP16" }
    parameters { key: "max_workspace_size_bytes" value: "1073741824" }
  } ]
} }
`;

test('reads the Triton example config with list syntax, enums and comments', () => {
  const { config, warnings } = parseModelConfig(TRITON_EXAMPLE, 'config.pbtxt', 'detector');
  assert.equal(config.name, 'detector');
  assert.equal(config.platform, 'onnxruntime_onnx');
  assert.equal(config.maxBatchSize, 8);
  assert.deepEqual(config.inputs, [{ name: 'images', dataType: 'TYPE_FP32', dims: [3, 640, 640] }]);
  assert.deepEqual(config.outputs, [{ name: 'output0', dataType: 'TYPE_FP32', dims: [84, 8400] }]);
  assert.deepEqual(config.instanceGroups, [{ count: 1, kind: 'KIND_GPU' }]);
  assert.deepEqual(config.dynamicBatching, { preferredBatchSize: [4, 8], maxQueueDelayMicroseconds: 100 });
  assert.deepEqual(config.versionPolicy, { latest: { numVersions: 1 } });
  // optimization is kept, not interpreted, and reported.
  assert.equal(config.extra.length, 1);
  assert.equal(config.extra[0]!.name, 'optimization');
  assert.ok(
    warnings.some((w) => w.includes("'optimization'") && w.includes('config.pbtxt:10')),
    warnings.join('\n'),
  );
});

test('reads version policies, reshape, parameters and repeated-block syntax', () => {
  const text = `name: "m"
backend: "onnxruntime"
max_batch_size: 0
version_policy { specific { versions: [1, 3] } }
input { name: "x" data_type: TYPE_INT64 format: FORMAT_NCHW dims: 3 dims: -1 reshape { shape: [3, 1, -1] } }
output { name: "y" data_type: TYPE_STRING dims: [ 1 ] }
instance_group { count: 2 kind: KIND_CPU }
instance_group { kind: KIND_CPU }
parameters { key: "a" value: { string_value: "1" } }
parameters: { key: "b" value: { string_value: "x\\"y" } };
default_model_filename: 'net.onnx'
`;
  const { config, warnings } = parseModelConfig(text, 'c.pbtxt');
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.versionPolicy, { specific: { versions: [1, 3] } });
  assert.deepEqual(config.inputs[0], {
    name: 'x',
    dataType: 'TYPE_INT64',
    dims: [3, -1],
    reshape: [3, 1, -1],
    format: 'FORMAT_NCHW',
  });
  assert.equal(config.outputs[0]!.dataType, 'TYPE_STRING');
  assert.deepEqual(config.instanceGroups, [{ count: 2, kind: 'KIND_CPU' }, { kind: 'KIND_CPU' }]);
  assert.deepEqual(config.parameters, { a: '1', b: 'x"y' });
  assert.equal(config.defaultModelFilename, 'net.onnx');
  assert.deepEqual(parseModelConfig('name: "m" version_policy: { all: {} }').config.versionPolicy, {
    all: {},
  });
});

test('writes a config that reads back equal (round trip), unknown fields included', () => {
  const config: ModelConfig = {
    name: 'detector',
    platform: 'onnxruntime_onnx',
    maxBatchSize: 8,
    inputs: [{ name: 'images', dataType: 'TYPE_FP32', dims: [3, 96, 192], format: 'FORMAT_NCHW' }],
    outputs: [
      { name: 'heatmap', dataType: 'TYPE_FP32', dims: [5, 24, 48] },
      { name: 'wh', dataType: 'TYPE_FP32', dims: [-1, 24, 48], reshape: [2, 24, 48] },
    ],
    dynamicBatching: {
      preferredBatchSize: [4, 8],
      maxQueueDelayMicroseconds: 500,
      defaultTimeoutMicroseconds: 1000000,
      maxQueueSize: 64,
    },
    instanceGroups: [{ count: 2, kind: 'KIND_CPU' }],
    versionPolicy: { specific: { versions: [1, 2] } },
    parameters: { 'model card': 'a "quoted"\nvalue' },
    defaultModelFilename: 'model.onnx',
    extra: parsePbtxt('model_warmup [ { name: "w" batch_size: 1 } ]\nresponse_cache { enable: true }'),
  };
  const text = writeModelConfig(config);
  const back = parseModelConfig(text, 'config.pbtxt', 'detector');
  const strip = (c: ModelConfig): unknown =>
    JSON.parse(JSON.stringify(c, (k, v: unknown) => (k === 'line' ? undefined : v)));
  assert.deepEqual(strip(back.config), strip(config));
  assert.equal(back.warnings.length, 2);
  // The generic writer is stable: writing the re-read tree gives the same text.
  assert.equal(writePbtxt(parsePbtxt(text)), text);
});

test('rejects syntax errors and bad values naming file, line and field', () => {
  const cases: Array<[string, RegExp]> = [
    [
      'name: "m"\nmax_batch_size: -1',
      /c\.pbtxt:2, field 'max_batch_size': bad max_batch_size; expected an integer >= 0, found -1/,
    ],
    ['name: "m"\ninput [ { name: "x" dims: [1] } ]', /c\.pbtxt:2.*input 'x' has no data_type/],
    [
      'name: "m"\ninput { name: "x" data_type: TYPE_FLOAT }',
      /c\.pbtxt:2, field 'data_type'.*one of TYPE_BOOL/,
    ],
    ['name: "m"\ninput { name: "x"', /c\.pbtxt:2: unterminated message/],
    ['name: "m\n"', /c\.pbtxt:1: unterminated string/],
    ['name: "m"\nversion_policy { latest {} all {} }', /expected exactly one of latest, all, specific/],
    ['name: "m"\nname: "n"', /field 'name' given twice/],
    ['name: "m" @', /c\.pbtxt:1: unexpected character/],
    ['max_batch_size: 1', /the config has no name/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseModelConfig(text, 'c.pbtxt'),
      (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT' && re.test(e.message),
      text,
    );
  }
  assert.throws(() => parseModelConfig('name: "a"', 'c.pbtxt', 'b'), /differs from its directory/);
});

test('keeps unknown fields anywhere with a warning instead of failing', () => {
  const { config, warnings } = parseModelConfig(
    'name: "m" future_field: 3 input { name: "x" data_type: TYPE_FP32 dims: 1 is_shape_tensor: false } dynamic_batching { priority_levels: 2 }',
  );
  assert.equal(config.extra[0]!.name, 'future_field');
  assert.equal(config.inputs[0]!.extra?.[0]?.name, 'is_shape_tensor');
  assert.equal(warnings.length, 3);
});
