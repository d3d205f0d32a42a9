import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { createLogger } from '../core/log.js';
import { LocalSession } from '../runtime/session.js';
import { binaryInferBody, decodeInferResponse, HttpConnection, rawRequest } from './client.js';
import { parseModelConfig } from './model-config.js';
import { sessionSettings } from './models.js';
import { startServer, type InferTrace, type RunningServer } from './server.js';
import { decodeBinaryData, viewBinaryData } from './tensors.js';
import { runtimeTestModel, writeTestRepository } from './testing.js';

const CONFIG = `name: "toy"
max_batch_size: 4
input [ { name: "images" data_type: TYPE_FP32 dims: [ 3, 64, 128 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
parameters { key: "intra_op_thread_count" value: { string_value: "1" } }
`;

let server: RunningServer;
let repo: string;

before(async () => {
  repo = writeTestRepository([{ name: 'toy', onnx: runtimeTestModel('toy_centernet'), config: CONFIG }]);
  server = await startServer({
    repository: repo,
    port: 0,
    maxBodyBytes: 1024 * 1024,
    log: createLogger({ write: () => undefined }),
  });
});

after(async () => {
  await server.close();
  rmSync(repo, { recursive: true, force: true });
});

const N = 3 * 64 * 128;
function image(seed: number): Float32Array {
  const d = new Float32Array(N);
  for (let i = 0; i < N; i++) d[i] = ((i * 13 + seed * 7) % 251) / 251;
  return d;
}

async function inProcess(data: Float32Array): Promise<Record<string, Float32Array>> {
  const s = await LocalSession.open(runtimeTestModel('toy_centernet'), { intraOpThreads: 1 });
  try {
    const out = await s.run({ images: { type: 'float32', data: data.slice(), dims: [1, 3, 64, 128] } });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await s.close();
  }
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-5, `element ${i}`);
}

/** Sends raw bytes in the given pieces (each its own write, with a pause) and returns the raw response. */
function sendInPieces(pieces: Buffer[]): Promise<Buffer> {
  const u = new URL(server.url);
  return new Promise((resolve, reject) => {
    const s = connect({ host: u.hostname, port: Number(u.port), noDelay: true });
    const got: Buffer[] = [];
    s.on('data', (c: Buffer) => got.push(c));
    s.on('end', () => resolve(Buffer.concat(got)));
    s.on('error', reject);
    s.on('connect', () => {
      void (async () => {
        for (const p of pieces) {
          s.write(p);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
    });
  });
}

test('reads a binary body that arrives in pieces split inside the JSON header and the tensor', async () => {
  const data = image(3);
  const bin = binaryInferBody([{ name: 'images', datatype: 'FP32', shape: [1, 3, 64, 128], data }]);
  const req = rawRequest('127.0.0.1', 'POST', '/v2/models/toy/infer', bin.body, {
    ...bin.headers,
    Connection: 'close',
  }).bytes;
  const headerEnd = req.indexOf('\r\n\r\n') + 4;
  const jsonLength = Number(bin.headers['Inference-Header-Content-Length']);
  const cuts = [headerEnd + 10, headerEnd + jsonLength + 6, headerEnd + jsonLength + 4001];
  const pieces = [0, ...cuts].map((c, i) => req.subarray(c, cuts[i] ?? req.length));
  const raw = await sendInPieces(pieces);
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, split).toString('latin1');
  assert.match(head, /^HTTP\/1\.1 200/);
  const hl = /inference-header-content-length: (\d+)/i.exec(head)![1]!;
  const { outputs } = decodeInferResponse({
    status: 200,
    headers: { 'inference-header-content-length': hl },
    body: raw.subarray(split + 4),
  });
  const want = await inProcess(data);
  for (const k of ['heatmap', 'wh', 'offset']) assertClose(outputs[k]!.data as Float32Array, want[k]!);
});

test('HttpConnection sends serialised requests on one keep-alive connection and reconnects after close', async () => {
  const u = new URL(server.url);
  const conn = new HttpConnection(u.hostname, Number(u.port));
  try {
    const data = image(5);
    const bin = binaryInferBody([{ name: 'images', datatype: 'FP32', shape: [1, 3, 64, 128], data }]);
    const req = rawRequest(u.host, 'POST', '/v2/models/toy/infer', bin.body, bin.headers);
    const want = await inProcess(data);
    for (let i = 0; i < 3; i++) {
      const r = await conn.send(req);
      assert.equal(r.status, 200);
      assertClose(decodeInferResponse(r).outputs['heatmap']!.data as Float32Array, want['heatmap']!);
    }
    // A 413 answer closes the connection; the next request opens a new one.
    const big = rawRequest(u.host, 'POST', '/v2/models/toy/infer', Buffer.alloc(2 * 1024 * 1024), {
      'Content-Type': 'application/json',
    });
    assert.equal((await conn.send(big)).status, 413);
    assert.equal((await conn.send(req)).status, 200);
    const missing = rawRequest(u.host, 'POST', '/v2/models/nope/infer', Buffer.from('{}'));
    const r404 = await conn.send(missing);
    assert.equal(r404.status, 404);
    assert.match(r404.body.toString(), /unknown model: 'nope'/);
  } finally {
    conn.close();
  }
});

test('binary tensor data is viewed without a copy when it owns its buffer, copied otherwise', () => {
  const f = new Float32Array([1.5, -2, 3]);
  const whole = new Uint8Array(f.buffer);
  const v = viewBinaryData(whole, 'FP32', 3, 'x');
  assert.equal(v.buffer, f.buffer);
  assert.deepEqual(Array.from(v as Float32Array), [1.5, -2, 3]);
  const odd = new Uint8Array(16);
  odd.set(whole, 1);
  const c = viewBinaryData(odd.subarray(1, 13), 'FP32', 3, 'x');
  assert.notEqual(c.buffer, odd.buffer);
  assert.deepEqual(Array.from(c as Float32Array), [1.5, -2, 3]);
  assert.throws(() => viewBinaryData(whole, 'FP32', 4, "input 'x'"), /binary data size does not match/);
  assert.deepEqual(Array.from(decodeBinaryData(whole, 'FP32', 3, 'x') as Float32Array), [1.5, -2, 3]);
});

test('session settings: config parameters win over server options, which win over the defaults', () => {
  const cfg = (params: string, count = 2): ReturnType<typeof parseModelConfig>['config'] =>
    parseModelConfig(
      `name: "m"\ninstance_group [ { count: ${count} kind: KIND_CPU } ]\n${params}`,
      'config.pbtxt',
    ).config;
  assert.deepEqual(sessionSettings(cfg(''), {}, 8), { intraOpThreads: 4, allowSpinning: true });
  assert.deepEqual(sessionSettings(cfg('', 16), {}, 8), { intraOpThreads: 1, allowSpinning: true });
  assert.deepEqual(sessionSettings(cfg(''), { intraOpThreads: 3, allowSpinning: false }, 8), {
    intraOpThreads: 3,
    allowSpinning: false,
  });
  const both =
    'parameters { key: "intra_op_thread_count" value: { string_value: "2" } }\n' +
    'parameters { key: "session.intra_op.allow_spinning" value: { string_value: "0" } }';
  assert.deepEqual(sessionSettings(cfg(both), { intraOpThreads: 3, allowSpinning: true }, 8), {
    intraOpThreads: 2,
    allowSpinning: false,
  });
  assert.throws(
    () =>
      sessionSettings(
        cfg('parameters { key: "intra_op_thread_count" value: { string_value: "two" } }'),
        {},
        8,
      ),
    /field 'parameters\.intra_op_thread_count': bad intra_op_thread_count parameter.*found "two"/,
  );
  assert.throws(
    () =>
      sessionSettings(
        cfg('parameters { key: "session.intra_op.allow_spinning" value: { string_value: "yes" } }'),
        {},
        8,
      ),
    /allow_spinning/,
  );
  const stop =
    'parameters { key: "session.force_spinning_stop" value: { string_value: "1" } }\n' +
    'parameters { key: "session.intra_op.spin_duration_us" value: { string_value: "500" } }\n' +
    'parameters { key: "session.unknown_key" value: { string_value: "x" } }';
  assert.deepEqual(sessionSettings(cfg(stop), {}, 8), {
    intraOpThreads: 4,
    allowSpinning: true,
    sessionConfig: { 'session.force_spinning_stop': '1', 'session.intra_op.spin_duration_us': '500' },
  });
  assert.throws(
    () =>
      sessionSettings(
        cfg('parameters { key: "session.force_spinning_stop" value: { string_value: "yes" } }'),
        {},
        8,
      ),
    /field 'parameters\.session\.force_spinning_stop': bad session\.force_spinning_stop parameter.*found "yes"/,
  );
});

test('the server trace gives one request its stamps in order, with the worker thread stamps', async () => {
  const traces: InferTrace[] = [];
  const traced = await startServer({
    repository: repo,
    port: 0,
    log: createLogger({ write: () => undefined }),
    trace: (t) => traces.push(t),
  });
  try {
    const u = new URL(traced.url);
    const conn = new HttpConnection(u.hostname, Number(u.port));
    const bin = binaryInferBody([
      { name: 'images', datatype: 'FP32', shape: [1, 3, 64, 128], data: image(5) },
    ]);
    const req = rawRequest(u.host, 'POST', '/v2/models/toy/infer', bin.body, bin.headers);
    for (let i = 0; i < 3; i++) assert.equal((await conn.send(req)).status, 200);
    conn.close();
    assert.equal(traces.length, 3);
    for (const t of traces) {
      const e = t.execution;
      assert.ok(e !== undefined, 'the pool gives the execution stamps');
      const order = [
        t.arrived,
        t.bodyRead,
        t.parsed,
        e.dispatched,
        e.received,
        e.runStart,
        e.runEnd,
        e.posted,
        e.returned,
        t.resumed,
        t.encoded,
        t.written,
      ];
      for (let k = 1; k < order.length; k++)
        assert.ok(order[k]! >= order[k - 1]!, `stamp ${k} before stamp ${k - 1}`);
      assert.ok(e.runEnd > e.runStart, 'the run takes time');
    }
  } finally {
    await traced.close();
  }
});
