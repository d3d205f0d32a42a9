import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DrivegateError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { GraphBuilder } from '../onnx/build.js';
import { DT } from '../onnx/graph.js';
import { ensembleOrder } from './ensemble.js';
import { parseModelConfig, writeModelConfig } from './model-config.js';
import { startServer, type RunningServer } from './server.js';
import { writeTestRepository } from './testing.js';

/** y = 2x over [N, 4]. */
function doubleModel(): Buffer {
  const g = new GraphBuilder('double');
  const x = g.input('x', DT.FLOAT, ['N', 4]);
  g.output(g.op('Mul', [x, g.f32([2])]), 'y', DT.FLOAT, ['N', 4]);
  return g.encode();
}

/** sum = a + b over [N, 4]. */
function addModel(): Buffer {
  const g = new GraphBuilder('add');
  const a = g.input('a', DT.FLOAT, ['N', 4]);
  const b = g.input('b', DT.FLOAT, ['N', 4]);
  g.output(g.op('Add', [a, b]), 'sum', DT.FLOAT, ['N', 4]);
  return g.encode();
}

const onnxConfig = (name: string, inputs: string[], outputs: string[]): string =>
  `name: "${name}"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ ${inputs.map((i) => `{ name: "${i}" data_type: TYPE_FP32 dims: [ 4 ] }`).join(', ')} ]
output [ ${outputs.map((o) => `{ name: "${o}" data_type: TYPE_FP32 dims: [ 4 ] }`).join(', ')} ]
instance_group [ { count: 1 kind: KIND_CPU } ]
parameters { key: "session.intra_op.allow_spinning" value: { string_value: "0" } }
`;

/** An ensemble of `steps` (pbtxt step bodies) with input X [dims] and output OUT [4]. */
const ensembleConfig = (name: string, steps: string[], dims = '4'): string =>
  `name: "${name}"
platform: "ensemble"
max_batch_size: 8
input [ { name: "X" data_type: TYPE_FP32 dims: [ ${dims} ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]
ensemble_scheduling {
  step [
${steps.map((s) => `    { ${s} }`).join(',\n')}
  ]
}
`;

// OUT = add(double(X), X) = 3X; listed with the consumer first, so the server must order by data flow.
const ADD_STEP =
  'model_name: "add" model_version: -1 input_map { key: "a" value: "D" } input_map { key: "b" value: "X" } output_map { key: "sum" value: "OUT" }';
const DOUBLE_STEP =
  'model_name: "double" model_version: -1 input_map { key: "x" value: "X" } output_map { key: "y" value: "D" }';

let server: RunningServer;
let repo: string;
const quiet = createLogger({ write: () => undefined });

before(async () => {
  repo = writeTestRepository([]);
  const put = (name: string, config: string, model?: Buffer): void => {
    mkdirSync(join(repo, name, '1'), { recursive: true });
    writeFileSync(join(repo, name, 'config.pbtxt'), config);
    if (model !== undefined) writeFileSync(join(repo, name, '1', 'model.onnx'), model);
  };
  put('double', onnxConfig('double', ['x'], ['y']), doubleModel());
  put('add', onnxConfig('add', ['a', 'b'], ['sum']), addModel());
  put('triple', ensembleConfig('triple', [ADD_STEP, DOUBLE_STEP]));
  // Variable dims on the ensemble input, so a wrong-sized request reaches the first step and fails there.
  put('loose', ensembleConfig('loose', [ADD_STEP, DOUBLE_STEP], '-1'));
  put('bad_unknown', ensembleConfig('bad_unknown', [ADD_STEP, DOUBLE_STEP.replace('"double"', '"nope"')]));
  put(
    'bad_unmapped',
    ensembleConfig('bad_unmapped', [ADD_STEP.replace('value: "X"', 'value: "Y"'), DOUBLE_STEP]),
  );
  put(
    'bad_cycle',
    ensembleConfig('bad_cycle', [
      'model_name: "double" input_map { key: "x" value: "E" } output_map { key: "y" value: "D" }',
      'model_name: "add" input_map { key: "a" value: "D" } input_map { key: "b" value: "X" } output_map { key: "sum" value: "E" }',
      'model_name: "double" input_map { key: "x" value: "X" } output_map { key: "y" value: "OUT" }',
    ]),
  );
  put(
    'bad_input_key',
    ensembleConfig('bad_input_key', [
      'model_name: "add" input_map { key: "a" value: "X" } output_map { key: "sum" value: "OUT" }',
    ]),
  );
  server = await startServer({ repository: repo, port: 0, log: quiet, intraOpThreads: 1 });
});

after(async () => {
  await server.close();
  rmSync(repo, { recursive: true, force: true });
});

const state = (name: string): { ready: boolean; reason?: string } | undefined =>
  server.models.find((m) => m.name === name);

interface InferReply {
  model_name?: string;
  error?: string;
  outputs: Array<{ shape: number[]; data: number[] }>;
}

async function infer(
  model: string,
  shape: number[],
  data: number[],
): Promise<{ status: number; body: InferReply }> {
  const r = await fetch(`${server.url}/v2/models/${model}/infer`, {
    method: 'POST',
    body: JSON.stringify({ inputs: [{ name: 'X', datatype: 'FP32', shape, data }] }),
  });
  return { status: r.status, body: (await r.json()) as InferReply };
}

test('an ensemble serves v2 metadata, ready and infer, running its steps in data-flow order', async () => {
  assert.equal(state('triple')?.ready, true, state('triple')?.reason);
  const meta = (await (await fetch(`${server.url}/v2/models/triple`)).json()) as Record<string, unknown>;
  assert.deepEqual(meta, {
    name: 'triple',
    versions: ['1'],
    platform: 'ensemble',
    inputs: [{ name: 'X', datatype: 'FP32', shape: [-1, 4] }],
    outputs: [{ name: 'OUT', datatype: 'FP32', shape: [-1, 4] }],
  });
  assert.equal((await fetch(`${server.url}/v2/models/triple/ready`)).status, 200);
  const r = await infer('triple', [2, 4], [1, 2, 3, 4, -1, 0, 0.5, 10]);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.model_name, 'triple');
  assert.deepEqual(r.body.outputs[0]?.shape, [2, 4]);
  // X is read by two steps: the first gets a copy, so the second still sees the request's values.
  assert.deepEqual(r.body.outputs[0]?.data, [3, 6, 9, 12, -3, 0, 1.5, 30]);
  const cfg = (await (await fetch(`${server.url}/v2/models/triple/config`)).json()) as {
    ensemble_scheduling: { step: Array<{ model_name: string }> };
  };
  assert.deepEqual(
    cfg.ensemble_scheduling.step.map((s) => s.model_name),
    ['add', 'double'],
  );
  // The composing models ran and counted their executions; the ensemble counted its own.
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /nv_inference_request_success\{model="triple",version="1"\} 1/);
  assert.match(metrics, /nv_inference_exec_count\{model="double",version="1"\} 1/);
});

test('an error inside a step names the ensemble and the step', async () => {
  assert.equal(state('loose')?.ready, true, state('loose')?.reason);
  const r = await infer('loose', [1, 3], [1, 2, 3]);
  assert.ok(r.status >= 400, `status ${r.status}`);
  assert.match(String(r.body.error), /ensemble 'loose' step\[1\] 'double'/);
});

test('refuses an ensemble step naming an unknown model, and keeps serving the others', async () => {
  const s = state('bad_unknown');
  assert.equal(s?.ready, false);
  assert.match(s?.reason ?? '', /bad_unknown[/\\]config\.pbtxt/);
  assert.match(
    s?.reason ?? '',
    /field 'ensemble_scheduling\.step\[1\]\.model_name'.*unknown step model.*found "nope"/,
  );
  const r = await fetch(`${server.url}/v2/models/bad_unknown`);
  assert.equal(r.status, 503);
  assert.equal(state('double')?.ready, true);
  assert.equal(state('add')?.ready, true);
  assert.equal((await infer('triple', [1, 4], [1, 1, 1, 1])).status, 200);
});

test('refuses an ensemble whose step reads a tensor nothing produces', () => {
  const s = state('bad_unmapped');
  assert.equal(s?.ready, false);
  assert.match(
    s?.reason ?? '',
    /bad_unmapped[/\\]config\.pbtxt:\d+, field 'ensemble_scheduling\.step\[0\]\.input_map'/,
  );
  assert.match(s?.reason ?? '', /ensemble tensor 'Y' is not mapped/);
});

test('refuses an ensemble whose steps form a cycle', () => {
  const s = state('bad_cycle');
  assert.equal(s?.ready, false);
  assert.match(s?.reason ?? '', /bad_cycle[/\\]config\.pbtxt.*field 'ensemble_scheduling\.step'.*cycle/);
  assert.match(s?.reason ?? '', /step\[0\] 'double', step\[1\] 'add' wait on each other/);
});

test("refuses an ensemble that leaves a composing model's input unmapped", () => {
  const s = state('bad_input_key');
  assert.equal(s?.ready, false);
  assert.match(
    s?.reason ?? '',
    /field 'ensemble_scheduling\.step\[0\]\.input_map'.*model input 'b' is not mapped/,
  );
});

test('ensemble_scheduling round-trips through config.pbtxt text, maps and versions included', () => {
  const text = ensembleConfig('triple', [
    ADD_STEP,
    DOUBLE_STEP.replace('model_version: -1', 'model_version: 3'),
  ]);
  const { config, warnings } = parseModelConfig(text, 'triple/config.pbtxt', 'triple');
  assert.deepEqual(warnings, []);
  const steps = config.ensembleScheduling?.steps ?? [];
  assert.deepEqual(
    steps.map((s) => [s.modelName, s.modelVersion, s.inputMap, s.outputMap]),
    [
      ['add', -1, { a: 'D', b: 'X' }, { sum: 'OUT' }],
      ['double', 3, { x: 'X' }, { y: 'D' }],
    ],
  );
  const again = parseModelConfig(writeModelConfig(config), 'x', 'triple').config;
  assert.deepEqual(
    again.ensembleScheduling?.steps.map((s) => ({ ...s, line: 0 })),
    steps.map((s) => ({ ...s, line: 0 })),
  );
  assert.deepEqual(ensembleOrder(config, 'x'), [1, 0]);
});

test('a map entry given twice or a step without model_name is BAD_INPUT naming the line', () => {
  const twice = ensembleConfig('e', [
    DOUBLE_STEP.replace('output_map', 'input_map { key: "x" value: "Z" } output_map'),
  ]);
  assert.throws(
    () => parseModelConfig(twice, 'e/config.pbtxt'),
    (e: unknown) =>
      e instanceof DrivegateError &&
      /input_map maps tensor 'x' twice/.test(e.message) &&
      e.location.line === 8,
  );
  const unnamed = ensembleConfig('e', [
    'input_map { key: "x" value: "X" } output_map { key: "y" value: "OUT" }',
  ]);
  assert.throws(
    () => parseModelConfig(unnamed, 'e/config.pbtxt'),
    (e: unknown) =>
      e instanceof DrivegateError && e.location.field === 'ensemble_scheduling.step[0].model_name',
  );
});
