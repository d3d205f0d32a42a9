import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { createLogger } from '../core/log.js';
import { LocalSession } from '../runtime/session.js';
import { metricValue } from './metrics.js';
import { startServer, type RunningServer } from './server.js';
import { runtimeTestModel, writeTestRepository } from './testing.js';

// busy.onnx: x [N, n, n] -> y [N, n, n]; its run time grows with n (n = 1400 takes ~0.5 s on one core).
const busyConfig = (name: string, extra: string): string => `name: "${name}"
max_batch_size: 8
input [ { name: "x" data_type: TYPE_FP32 dims: [ -1, -1 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ -1, -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
${extra}
`;

let server: RunningServer;
let repo: string;

before(async () => {
  repo = writeTestRepository([
    {
      name: 'batched',
      onnx: runtimeTestModel('busy'),
      config: busyConfig(
        'batched',
        'dynamic_batching { preferred_batch_size: [ 8 ] max_queue_delay_microseconds: 200000 }',
      ),
    },
    { name: 'single', onnx: runtimeTestModel('busy'), config: busyConfig('single', '') },
    {
      name: 'strict',
      onnx: runtimeTestModel('busy'),
      config: busyConfig(
        'strict',
        'dynamic_batching { max_queue_delay_microseconds: 0 default_queue_policy { default_timeout_microseconds: 100000 } }',
      ),
    },
  ]);
  server = await startServer({
    repository: repo,
    port: 0,
    intraOpThreads: 1,
    log: createLogger({ write: () => undefined }),
  });
});

after(async () => {
  await server.close();
  rmSync(repo, { recursive: true, force: true });
});

function matrix(n: number, seed: number): Float32Array {
  const d = new Float32Array(n * n);
  for (let i = 0; i < d.length; i++) d[i] = (((i * 7919 + seed * 104729) % 1000) / 1000 - 0.5) / n;
  return d;
}

function inferBinary(model: string, n: number, seed: number): Promise<Response> {
  const data = matrix(n, seed);
  const head = Buffer.from(
    JSON.stringify({
      inputs: [
        { name: 'x', shape: [1, n, n], datatype: 'FP32', parameters: { binary_data_size: data.byteLength } },
      ],
    }),
  );
  return fetch(`${server.url}/v2/models/${model}/infer`, {
    method: 'POST',
    body: Buffer.concat([head, new Uint8Array(data.buffer)]),
    headers: { 'Inference-Header-Content-Length': String(head.length) },
  });
}

test('keeps answering /v2/health/live while a long inference runs', async () => {
  let inferDone = 0;
  const started = performance.now();
  const infer = inferBinary('single', 1400, 1).then(async (r) => {
    inferDone = performance.now();
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  });
  await new Promise((r) => setTimeout(r, 50));
  const lat: number[] = [];
  let answeredDuring = 0;
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    const res = await fetch(`${server.url}/v2/health/live`);
    assert.equal(res.status, 200);
    lat.push(performance.now() - t);
    if (inferDone === 0) answeredDuring++;
    await new Promise((r) => setTimeout(r, 5));
  }
  await infer;
  const inferMs = inferDone - started;
  const worst = Math.max(...lat);
  // The liveness probes were answered while the inference was still running, each far quicker than it.
  assert.ok(
    answeredDuring >= 5,
    `only ${answeredDuring} probes answered during a ${inferMs.toFixed(0)} ms inference`,
  );
  assert.ok(
    worst < Math.max(50, inferMs / 4),
    `slowest probe ${worst.toFixed(1)} ms during a ${inferMs.toFixed(0)} ms inference`,
  );
});

test('dynamic batching merges concurrent requests into fewer executions with correct results', async () => {
  // A long request occupies the one instance first, so the 8 arrive while it runs and queue behind it
  // (batching holds requests only while more are outstanding than instances).
  const n = 40;
  const long = inferBinary('batched', 1000, 99);
  await new Promise((r) => setTimeout(r, 50));
  const local = await LocalSession.open(runtimeTestModel('busy'));
  try {
    const [rb, rs] = await Promise.all([
      Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          inferBinary('batched', n, i).then(async (r) => ({
            status: r.status,
            body: Buffer.from(await r.arrayBuffer()),
            hl: Number(r.headers.get('inference-header-content-length')),
          })),
        ),
      ),
      Promise.all(
        Array.from({ length: 8 }, (_, i) => inferBinary('single', n, i).then((r) => r.arrayBuffer())),
      ),
    ]);
    void rs;
    for (let i = 0; i < 8; i++) {
      const r = rb[i]!;
      assert.equal(r.status, 200);
      const head = JSON.parse(r.body.subarray(0, r.hl > 0 ? r.hl : r.body.length).toString()) as {
        outputs: Array<{ shape: number[]; data: number[] }>;
      };
      assert.deepEqual(head.outputs[0]!.shape, [1, n, n]);
      const want = await local.run({ x: { type: 'float32', data: matrix(n, i), dims: [1, n, n] } });
      const got = head.outputs[0]!.data;
      const w = want['y']!.data as Float32Array;
      for (let k = 0; k < w.length; k += 97)
        assert.ok(
          Math.abs(got[k]! - w[k]!) <= 1e-5 * Math.max(1, Math.abs(w[k]!)),
          `request ${i} element ${k}`,
        );
    }
    const lr = await long;
    assert.equal(lr.status, 200);
    await lr.arrayBuffer();
  } finally {
    await local.close();
  }
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = (name: string, model: string): number =>
    metricValue(text, name, { model, version: '1' }) ?? Number.NaN;
  assert.equal(m('nv_inference_request_success', 'batched'), 9);
  assert.equal(m('nv_inference_count', 'batched'), 9);
  // The long request alone, then the 8 queued behind it as one execution (two if one arrived late).
  assert.ok(m('nv_inference_exec_count', 'batched') <= 3, text);
  // Without dynamic batching every request is its own execution.
  assert.equal(m('nv_inference_exec_count', 'single'), m('nv_inference_request_success', 'single'));
  assert.equal(m('nv_inference_request_success', 'single'), 9);
  assert.ok(m('nv_inference_queue_duration_us', 'batched') > 0);
});

test('fails a request that waits past its queue timeout with 503, then serves again', async () => {
  // The long request must be executing (body received, queued, dispatched) before the short one
  // arrives: give it 200 ms of a run that takes ~1 s.
  const long = inferBinary('strict', 1700, 1);
  await new Promise((r) => setTimeout(r, 200));
  const late = await inferBinary('strict', 8, 2);
  assert.equal(late.status, 503);
  assert.match(
    ((await late.json()) as { error: string }).error,
    /request timeout expired: waited 100 ms in the queue/,
  );
  assert.equal((await long).status, 200);
  assert.equal((await inferBinary('strict', 8, 3)).status, 200);
});

test('exposes Prometheus text format 0.0.4 with Triton names and a latency histogram', async () => {
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await res.text();
  for (const name of [
    'nv_inference_request_success',
    'nv_inference_request_failure',
    'nv_inference_count',
    'nv_inference_exec_count',
    'nv_inference_request_duration_us',
    'nv_inference_queue_duration_us',
    'nv_inference_compute_infer_duration_us',
  ]) {
    assert.match(text, new RegExp(`^# TYPE ${name} counter$`, 'm'));
  }
  assert.match(text, /^# TYPE drivegate_inference_request_duration_seconds histogram$/m);
  assert.match(text, /^# TYPE nv_inference_pending_request_count gauge$/m);
  assert.equal(
    metricValue(text, 'nv_inference_pending_request_count', { model: 'batched', version: '1' }),
    0,
  );
  const lbl = { model: 'strict', version: '1' };
  assert.equal(metricValue(text, 'nv_inference_request_failure', lbl), 1);
  const count = metricValue(text, 'drivegate_inference_request_duration_seconds_count', lbl);
  assert.equal(count, metricValue(text, 'nv_inference_request_success', lbl));
  assert.equal(
    metricValue(text, 'drivegate_inference_request_duration_seconds_bucket', { ...lbl, le: '+Inf' }),
    count,
  );
  // Every sample line is `name{labels} value`.
  for (const line of text.split('\n').filter((l) => l !== '' && !l.startsWith('#')))
    assert.match(line, /^[a-z_]+\{[^}]*\} [0-9.e+-]+$/);
});
