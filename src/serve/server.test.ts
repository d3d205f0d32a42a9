import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { createLogger } from '../core/log.js';
import { LocalSession } from '../runtime/session.js';
import { startServer, type RunningServer } from './server.js';
import { runtimeTestModel, writeTestRepository } from './testing.js';

const TOY_CONFIG = `name: "toy"
platform: "onnxruntime_onnx"
max_batch_size: 4
version_policy { all {} }
input [ { name: "images" data_type: TYPE_FP32 dims: [ 3, 64, 128 ] } ]
output [
  { name: "heatmap" data_type: TYPE_FP32 dims: [ 3, 16, 32 ] },
  { name: "wh" data_type: TYPE_FP32 dims: [ 2, 16, 32 ] },
  { name: "offset" data_type: TYPE_FP32 dims: [ 2, 16, 32 ] }
]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;

let server: RunningServer;
let repo: string;
const quiet = createLogger({ write: () => undefined });

before(async () => {
  repo = writeTestRepository([
    { name: 'toy', onnx: runtimeTestModel('toy_centernet'), config: TOY_CONFIG, versions: [1, 2] },
    // No inputs/outputs in the config: taken from the graph.
    { name: 'auto', onnx: runtimeTestModel('boxes'), config: 'name: "auto"\nmax_batch_size: 2\n' },
    { name: 'broken', onnx: runtimeTestModel('boxes'), config: 'name: "broken"\ninput [ { name: "images" ' },
  ]);
  server = await startServer({ repository: repo, port: 0, maxBodyBytes: 1024 * 1024, log: quiet });
});

after(async () => {
  await server.close();
  rmSync(repo, { recursive: true, force: true });
});

const N = 3 * 64 * 128;
function image(batch: number, seed: number): Float32Array {
  const d = new Float32Array(batch * N);
  for (let i = 0; i < d.length; i++) d[i] = ((i * 31 + seed * 17) % 255) / 255;
  return d;
}

async function expected(data: Float32Array, batch: number): Promise<Record<string, Float32Array>> {
  const s = await LocalSession.open(runtimeTestModel('toy_centernet'));
  try {
    const out = await s.run({ images: { type: 'float32', data: data.slice(), dims: [batch, 3, 64, 128] } });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await s.close();
  }
}

function close(a: ArrayLike<number>, b: ArrayLike<number>): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++)
    assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-5, `element ${i}: ${a[i]} vs ${b[i]}`);
}

const post = (
  path: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
): Promise<Response> =>
  fetch(server.url + path, {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'application/json', ...headers },
  });

/** Builds a binary-extension body: JSON header then tensors. */
function binaryBody(json: unknown, ...tensors: Uint8Array[]): { body: Uint8Array; headerLength: string } {
  const head = Buffer.from(JSON.stringify(json));
  return { body: Buffer.concat([head, ...tensors]), headerLength: String(head.length) };
}

test('answers health, server metadata and readiness per model', async () => {
  const live = await fetch(`${server.url}/v2/health/live`);
  assert.equal(live.status, 200);
  assert.equal(await live.text(), '');
  // One model failed to load, so the server is not ready; the others are.
  assert.equal((await fetch(`${server.url}/v2/health/ready`)).status, 400);
  assert.equal((await fetch(`${server.url}/v2/models/toy/ready`)).status, 200);
  assert.equal((await fetch(`${server.url}/v2/models/toy/versions/1/ready`)).status, 200);
  assert.equal((await fetch(`${server.url}/v2/models/broken/ready`)).status, 400);
  const nf = await fetch(`${server.url}/v2/models/nope/ready`);
  assert.equal(nf.status, 404);
  assert.match(((await nf.json()) as { error: string }).error, /unknown model: 'nope'/);
  const meta = (await (await fetch(`${server.url}/v2`)).json()) as { name: string; extensions: string[] };
  assert.equal(meta.name, 'drivegate');
  assert.ok(meta.extensions.includes('binary_tensor_data'));
  const broken = server.models.find((m) => m.name === 'broken');
  assert.equal(broken?.ready, false);
  assert.match(broken?.reason ?? '', /config\.pbtxt:2: unterminated message/);
});

test('reports model metadata with -1 for the batch dim, from config or graph', async () => {
  const toy = (await (await fetch(`${server.url}/v2/models/toy`)).json()) as Record<string, unknown>;
  assert.deepEqual(toy, {
    name: 'toy',
    versions: ['1', '2'],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'images', datatype: 'FP32', shape: [-1, 3, 64, 128] }],
    outputs: [
      { name: 'heatmap', datatype: 'FP32', shape: [-1, 3, 16, 32] },
      { name: 'wh', datatype: 'FP32', shape: [-1, 2, 16, 32] },
      { name: 'offset', datatype: 'FP32', shape: [-1, 2, 16, 32] },
    ],
  });
  const v1 = (await (await fetch(`${server.url}/v2/models/toy/versions/1`)).json()) as { versions: string[] };
  assert.deepEqual(v1.versions, ['1']);
  const auto = (await (await fetch(`${server.url}/v2/models/auto`)).json()) as { outputs: unknown[] };
  assert.deepEqual(auto.outputs, [
    { name: 'boxes', datatype: 'FP32', shape: [-1, 3, 4] },
    { name: 'scores', datatype: 'FP32', shape: [-1, 3] },
    { name: 'classes', datatype: 'INT64', shape: [-1, 3] },
  ]);
  const broken = await fetch(`${server.url}/v2/models/broken`);
  assert.equal(broken.status, 503);
  assert.match(
    ((await broken.json()) as { error: string }).error,
    /model 'broken' is not ready: .*config\.pbtxt:2/,
  );
  const cfg = (await (await fetch(`${server.url}/v2/models/toy/config`)).json()) as Record<string, unknown>;
  assert.equal(cfg['max_batch_size'], 4);
  assert.deepEqual(cfg['version_policy'], { all: {} });
});

test('infers with JSON tensors (flat or nested) and matches onnxruntime in-process', async () => {
  const data = image(2, 1);
  const want = await expected(data, 2);
  const res = await post(
    '/v2/models/toy/versions/2/infer',
    JSON.stringify({
      id: 'r1',
      inputs: [{ name: 'images', shape: [2, 3, 64, 128], datatype: 'FP32', data: Array.from(data) }],
      outputs: [{ name: 'wh' }],
    }),
  );
  assert.equal(res.status, 200);
  const body = (await res.json()) as {
    model_name: string;
    model_version: string;
    id: string;
    outputs: Array<{ name: string; shape: number[]; datatype: string; data: number[] }>;
  };
  assert.equal(body.model_name, 'toy');
  assert.equal(body.model_version, '2');
  assert.equal(body.id, 'r1');
  assert.equal(body.outputs.length, 1);
  assert.deepEqual(
    [body.outputs[0]!.name, body.outputs[0]!.datatype, body.outputs[0]!.shape],
    ['wh', 'FP32', [2, 2, 16, 32]],
  );
  close(body.outputs[0]!.data, want['wh']!);
  // Nested data, no outputs named: all outputs.
  const one = image(1, 2);
  const nested = [
    [0, 1, 2].map((c) =>
      Array.from({ length: 64 }, (_, y) =>
        Array.from(one.subarray(c * 8192 + y * 128, c * 8192 + y * 128 + 128)),
      ),
    ),
  ];
  const res2 = await post(
    '/v2/models/toy/infer',
    JSON.stringify({ inputs: [{ name: 'images', shape: [1, 3, 64, 128], datatype: 'FP32', data: nested }] }),
  );
  assert.equal(res2.status, 200);
  const body2 = (await res2.json()) as {
    model_version: string;
    outputs: Array<{ name: string; data: number[] }>;
  };
  assert.equal(body2.model_version, '2'); // the latest version
  const want2 = await expected(one, 1);
  assert.deepEqual(
    body2.outputs.map((o) => o.name),
    ['heatmap', 'wh', 'offset'],
  );
  close(body2.outputs[0]!.data, want2['heatmap']!);
});

test('speaks the binary tensor data extension both ways, and raw single-input bodies', async () => {
  const data = image(1, 3);
  const want = await expected(data, 1);
  const { body, headerLength } = binaryBody(
    {
      inputs: [
        {
          name: 'images',
          shape: [1, 3, 64, 128],
          datatype: 'FP32',
          parameters: { binary_data_size: data.byteLength },
        },
      ],
      outputs: [
        { name: 'heatmap', parameters: { binary_data: true } },
        { name: 'offset', parameters: { binary_data: false } },
      ],
    },
    new Uint8Array(data.buffer),
  );
  const res = await post('/v2/models/toy/infer', body, {
    'Content-Type': 'application/octet-stream',
    'Inference-Header-Content-Length': headerLength,
  });
  assert.equal(res.status, 200);
  const hl = Number(res.headers.get('inference-header-content-length'));
  const buf = Buffer.from(await res.arrayBuffer());
  const head = JSON.parse(buf.subarray(0, hl).toString('utf8')) as {
    outputs: Array<{ name: string; parameters?: { binary_data_size: number }; data?: number[] }>;
  };
  const hm = head.outputs[0]!;
  assert.equal(hm.parameters?.binary_data_size, 3 * 16 * 32 * 4);
  assert.equal(hm.data, undefined);
  const bin = buf.subarray(hl);
  assert.equal(bin.length, 3 * 16 * 32 * 4);
  close(new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length)), want['heatmap']!);
  close(head.outputs[1]!.data!, want['offset']!);
  // Request-level binary_data_output.
  const all = binaryBody(
    {
      parameters: { binary_data_output: true },
      inputs: [
        {
          name: 'images',
          shape: [1, 3, 64, 128],
          datatype: 'FP32',
          parameters: { binary_data_size: data.byteLength },
        },
      ],
    },
    new Uint8Array(data.buffer),
  );
  const res2 = await post('/v2/models/toy/infer', all.body, {
    'Inference-Header-Content-Length': all.headerLength,
  });
  const buf2 = Buffer.from(await res2.arrayBuffer());
  assert.equal(
    buf2.length - Number(res2.headers.get('inference-header-content-length')),
    (3 + 2 + 2) * 16 * 32 * 4,
  );
  // Inference-Header-Content-Length: 0 — the body is the single input's raw bytes.
  const raw = await post('/v2/models/toy/infer', new Uint8Array(data.buffer), {
    'Content-Type': 'application/octet-stream',
    'Inference-Header-Content-Length': '0',
  });
  assert.equal(raw.status, 200);
  const rawBody = (await raw.json()) as { outputs: Array<{ name: string; shape: number[]; data: number[] }> };
  assert.deepEqual(rawBody.outputs[1]!.shape, [1, 2, 16, 32]);
  close(rawBody.outputs[1]!.data, want['wh']!);
});

test('answers every bad request with a precise 4xx and keeps serving', async () => {
  const good = { name: 'images', shape: [1, 3, 64, 128], datatype: 'FP32', data: Array.from(image(1, 4)) };
  const j = (v: unknown): string => JSON.stringify(v);
  const cases: Array<{
    what: string;
    path?: string;
    body: string | Uint8Array;
    headers?: Record<string, string>;
    status: number;
    error: RegExp;
    method?: string;
  }> = [
    {
      what: 'unknown model',
      path: '/v2/models/nope/infer',
      body: j({ inputs: [good] }),
      status: 404,
      error: /unknown model: 'nope' is not found/,
    },
    {
      what: 'unknown version',
      path: '/v2/models/toy/versions/7/infer',
      body: j({ inputs: [good] }),
      status: 404,
      error: /'toy' version 7 is not found/,
    },
    {
      what: 'model that failed to load',
      path: '/v2/models/broken/infer',
      body: j({ inputs: [good] }),
      status: 503,
      error: /model 'broken' is not ready/,
    },
    {
      what: 'wrong datatype',
      body: j({ inputs: [{ ...good, datatype: 'INT32' }] }),
      status: 400,
      error: /input 'images' data-type is 'INT32', but model 'toy' expects 'FP32'/,
    },
    {
      what: 'wrong shape',
      body: j({ inputs: [{ ...good, shape: [1, 3, 64, 64] }] }),
      status: 400,
      error:
        /unexpected shape for input 'images' for model 'toy'. Expected \[-1,3,64,128\], got \[1,3,64,64\]/,
    },
    {
      what: 'batch over max_batch_size',
      body: j({ inputs: [{ ...good, shape: [5, 3, 64, 128] }] }),
      status: 400,
      error: /batch-size must be <= 4/,
    },
    {
      what: 'missing input',
      body: j({ inputs: [] }),
      status: 400,
      error: /expected 1 inputs but got 0 inputs for model 'toy'; missing: images/,
    },
    {
      what: 'unknown input',
      body: j({ inputs: [good, { ...good, name: 'extra' }] }),
      status: 400,
      error: /unexpected inference input 'extra'/,
    },
    { what: 'no inputs field', body: j({}), status: 400, error: /needs 'inputs'/ },
    {
      what: 'too few elements',
      body: j({ inputs: [{ ...good, data: [1, 2, 3] }] }),
      status: 400,
      error:
        /input 'images': the data has fewer elements than the shape says; expected 24576 elements, found 3/,
    },
    {
      what: 'non-number element',
      body: j({ inputs: [{ ...good, data: ['a', ...good.data.slice(1)] }] }),
      status: 400,
      error: /element 0 is not a number/,
    },
    {
      what: 'unknown output',
      body: j({ inputs: [good], outputs: [{ name: 'boxes' }] }),
      status: 400,
      error: /unexpected inference output 'boxes' for model 'toy'/,
    },
    { what: 'malformed JSON', body: '{"inputs": [', status: 400, error: /malformed JSON in the request/ },
    { what: 'JSON that is not an object', body: '[1]', status: 400, error: /must be a JSON object/ },
    {
      what: 'bad binary header',
      body: j({ inputs: [good] }),
      headers: { 'Inference-Header-Content-Length': 'abc' },
      status: 400,
      error: /bad Inference-Header-Content-Length header/,
    },
    {
      what: 'binary header past the body',
      body: j({ inputs: [good] }),
      headers: { 'Inference-Header-Content-Length': '99999999' },
      status: 400,
      error: /larger than the body/,
    },
    {
      what: 'binary size that does not match the shape',
      ...(() => {
        const b = binaryBody(
          { inputs: [{ ...good, data: undefined, parameters: { binary_data_size: 8 } }] },
          new Uint8Array(8),
        );
        return { body: b.body, headers: { 'Inference-Header-Content-Length': b.headerLength } };
      })(),
      status: 400,
      error: /binary data size does not match the shape; expected 98304 bytes/,
    },
    {
      what: 'binary data past the body',
      ...(() => {
        const b = binaryBody(
          { inputs: [{ ...good, data: undefined, parameters: { binary_data_size: 98304 } }] },
          new Uint8Array(10),
        );
        return { body: b.body, headers: { 'Inference-Header-Content-Length': b.headerLength } };
      })(),
      status: 400,
      error: /runs past the end of the body/,
    },
    {
      what: 'oversized body',
      body: new Uint8Array(2 * 1024 * 1024),
      status: 413,
      error: /exceeds the limit of 1048576 bytes/,
    },
    { what: 'unknown route', path: '/v2/nothing', body: '', status: 404, error: /no route/, method: 'GET' },
    {
      what: 'wrong method',
      path: '/v2/health/live',
      body: '',
      status: 405,
      error: /method POST is not allowed/,
    },
    {
      what: 'bad percent-encoding',
      path: '/v2/models/%E0%A4%A/infer',
      body: '',
      status: 400,
      error: /bad percent-encoding/,
    },
  ];
  for (const c of cases) {
    const res =
      c.method === 'GET'
        ? await fetch(server.url + (c.path ?? ''))
        : await post(c.path ?? '/v2/models/toy/infer', c.body, c.headers ?? {});
    assert.equal(res.status, c.status, c.what);
    assert.equal(res.headers.get('content-type'), 'application/json', c.what);
    const body = (await res.json()) as { error: string };
    assert.match(body.error, c.error, c.what);
    // The server keeps serving.
    const ok = await post('/v2/models/toy/infer', JSON.stringify({ inputs: [good] }));
    assert.equal(ok.status, 200, `after ${c.what}`);
    await ok.arrayBuffer();
  }
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /nv_inference_request_failure\{model="toy",version="2"\} 1[0-9]/);
});
