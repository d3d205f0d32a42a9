/**
 * Benchmark: what serving over HTTP costs. At concurrency 1 and batch 1, p50 latency of
 *   (a) onnxruntime-node in-process (LocalSession.run),
 *   (b) the same model through the worker-thread pool (SessionPool.run),
 *   (c) a v2 infer request over HTTP (binary tensors in and out) to `startServer` on loopback,
 *   (d) the same with JSON tensors,
 * on the reference detector (models/detector-v1.0.0.onnx, or the model named on the command line;
 * the toy test model when models/ is empty). Prints each, and HTTP minus / over in-process (target:
 * within 0.3 ms or 10%, whichever is larger). Then the dynamic-batching throughput at concurrency 16,
 * batching on vs off (same instance count).
 *
 *   node --import tsx bench/serve-overhead.ts [model.onnx]
 *   node dist/bench/serve-overhead.js [model.onnx]
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/core/log.js';
import { packageRoot } from '../src/core/paths.js';
import { SessionPool } from '../src/runtime/pool.js';
import { LocalSession } from '../src/runtime/session.js';
import type { TensorMap } from '../src/runtime/tensor.js';
import { runServeBench } from '../src/serve/bench.js';
import { binaryInferBody, V2Client } from '../src/serve/client.js';
import { startServer } from '../src/serve/server.js';

const ITER = 500;

function pickModel(): string {
  if (process.argv[2] !== undefined) return process.argv[2];
  const dir = join(packageRoot(), 'models');
  try {
    const found = readdirSync(dir)
      .filter((f) => f.endsWith('.onnx'))
      .sort();
    if (found.length > 0) return join(dir, found[0]!);
  } catch {
    // no models/
  }
  return join(packageRoot(), 'src', 'runtime', 'testdata', 'toy_centernet.onnx');
}

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

const model = pickModel();
const cores = availableParallelism();
const local = await LocalSession.open(model, { intraOpThreads: cores });
const input = local.io.inputs[0]!;
const dims = input.shape.map((d, i) => (i === 0 ? 1 : typeof d === 'number' && d > 0 ? d : 1));
const count = dims.reduce((a, b) => a * b, 1);
const data = Float32Array.from({ length: count }, (_, i) => ((i * 2654435761) % 1000) / 1000);
const feeds = (): TensorMap => ({ [input.name]: { type: 'float32', data: data.slice(), dims } });

const repo = mkdtempSync(join(tmpdir(), 'drivegate-bench-serve-'));
const cfg = (name: string, extra: string): string =>
  `name: "${name}"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 16\ninstance_group [ { count: 1 kind: KIND_CPU } ]\n${extra}\n`;
for (const [name, extra] of [
  ['det', ''],
  ['det_batched', 'dynamic_batching { preferred_batch_size: [ 8, 16 ] max_queue_delay_microseconds: 2000 }'],
] as const) {
  mkdirSync(join(repo, name, '1'), { recursive: true });
  copyFileSync(model, join(repo, name, '1', 'model.onnx'));
  writeFileSync(join(repo, name, 'config.pbtxt'), cfg(name, extra));
}
const server = await startServer({ repository: repo, port: 0, log: createLogger({ level: 'warn' }) });
const pool = await SessionPool.open(model, { workers: 1, intraOpThreads: cores });
const client = new V2Client(server.url, 32);
const bin = binaryInferBody([{ name: input.name, datatype: 'FP32', shape: dims, data }]);
const json = Buffer.from(
  JSON.stringify({ inputs: [{ name: input.name, datatype: 'FP32', shape: dims, data: Array.from(data) }] }),
);

try {
  const httpBin = async (): Promise<void> => {
    const res = await client.send('POST', '/v2/models/det/infer', bin.body, bin.headers);
    if (res.status !== 200) throw new Error(res.body.toString());
  };
  const httpJson = async (): Promise<void> => {
    const res = await client.send('POST', '/v2/models/det/infer', json, {
      'Content-Type': 'application/json',
    });
    if (res.status !== 200) throw new Error(res.body.toString());
  };
  const paths: Array<[keyof typeof lat, () => Promise<unknown>, number]> = [
    ['local', () => local.run(feeds()), 1],
    ['pool', () => pool.run(feeds()), 1],
    ['http', httpBin, 1],
    ['httpJson', httpJson, 4],
  ];
  const lat = { local: [] as number[], pool: [] as number[], http: [] as number[], httpJson: [] as number[] };
  // Rotating blocks of BLOCK consecutive calls per path: load drifts affect every path alike, and each
  // path is measured warm (back-to-back calls, as a busy server sees them), not right after another
  // session's onnxruntime threads have spun on the same two cores. The first call of a block is a
  // warm-up and is not counted.
  const BLOCK = 25;
  for (let b = 0; b * BLOCK < ITER + 20; b++) {
    for (const [key, f, every] of paths) {
      for (let i = 0; i <= BLOCK; i++) {
        if (i % every !== 0) continue;
        const t = performance.now();
        await f();
        if (i > 0 && b * BLOCK + i > 20) lat[key].push(performance.now() - t);
      }
    }
  }
  const m = { local: p50(lat.local), pool: p50(lat.pool), http: p50(lat.http), httpJson: p50(lat.httpJson) };
  const allowed = Math.max(0.3, m.local * 0.1);
  console.log(
    `model ${model} input [${dims.join(',')}], ${cores} cores, p50 over rotating blocks of 25 warm runs, ~${ITER} per path (JSON: every 4th), load average ${loadavg()[0]!.toFixed(1)}`,
  );
  console.log(`  in-process onnxruntime (LocalSession)   ${m.local.toFixed(3)} ms`);
  console.log(
    `  worker-thread pool (SessionPool)        ${m.pool.toFixed(3)} ms  (+${(m.pool - m.local).toFixed(3)} ms)`,
  );
  console.log(
    `  HTTP v2 infer, binary tensors           ${m.http.toFixed(3)} ms  (+${(m.http - m.local).toFixed(3)} ms, ${(m.http / m.local).toFixed(3)}x in-process)`,
  );
  console.log(
    `  HTTP v2 infer, JSON tensors             ${m.httpJson.toFixed(3)} ms  (+${(m.httpJson - m.local).toFixed(3)} ms, ${(m.httpJson / m.local).toFixed(3)}x)`,
  );
  console.log(`  HTTP layer alone (binary HTTP - pool)   +${(m.http - m.pool).toFixed(3)} ms`);
  console.log(
    `  overhead target (binary): within ${allowed.toFixed(3)} ms -> ${m.http - m.local <= allowed ? 'MET' : 'NOT MET'} (${(m.http - m.local).toFixed(3)} ms)`,
  );

  const sweep = async (name: string): Promise<number> =>
    (await runServeBench({ url: server.url, model: name, concurrency: [16], durationS: 4, warmupS: 1 }))
      .results[0]!.throughput_rps;
  const off = await sweep('det');
  const on = await sweep('det_batched');
  console.log(
    `dynamic batching at concurrency 16 (1 instance, ${cores} intra-op threads): off ${off.toFixed(1)} req/s, on ${on.toFixed(1)} req/s -> ${(on / off).toFixed(2)}x`,
  );
} finally {
  client.close();
  await pool.close();
  await local.close();
  await server.close();
  rmSync(repo, { recursive: true, force: true });
}
