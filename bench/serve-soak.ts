/**
 * Benchmark: soak. 64 concurrent clients drive the reference detector (dynamic batching on, one
 * instance) over HTTP for 60 s (or the seconds given); prints requests, failures, throughput,
 * latency percentiles and the process's peak RSS (sampled every 250 ms) against the stated bound.
 *
 *   node --import tsx bench/serve-soak.ts [seconds] [model.onnx]
 *   node dist/bench/serve-soak.js [seconds] [model.onnx]
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/core/log.js';
import { packageRoot } from '../src/core/paths.js';
import { formatServeBench, runServeBench } from '../src/serve/bench.js';
import { startServer } from '../src/serve/server.js';

/** The memory bound this benchmark checks: peak RSS of server + clients, in MiB. */
const RSS_BOUND_MIB = 512;

const seconds = Number(process.argv[2] ?? '60');
function pickModel(): string {
  if (process.argv[3] !== undefined) return process.argv[3];
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
const model = pickModel();
const repo = mkdtempSync(join(tmpdir(), 'drivegate-soak-'));
mkdirSync(join(repo, 'det', '1'), { recursive: true });
copyFileSync(model, join(repo, 'det', '1', 'model.onnx'));
writeFileSync(
  join(repo, 'det', 'config.pbtxt'),
  'name: "det"\nmax_batch_size: 16\ninstance_group [ { count: 1 kind: KIND_CPU } ]\ndynamic_batching { preferred_batch_size: [ 8, 16 ] max_queue_delay_microseconds: 2000 }\n',
);
const server = await startServer({ repository: repo, port: 0, log: createLogger({ level: 'warn' }) });
let peak = 0;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 250);
try {
  const before = process.memoryUsage().rss;
  const r = await runServeBench({
    url: server.url,
    model: 'det',
    concurrency: [64],
    durationS: seconds,
    warmupS: 2,
  });
  peak = Math.max(peak, process.memoryUsage().rss);
  const x = r.results[0]!;
  console.log(`soak: ${model}, 64 clients, ${seconds} s`);
  console.log(formatServeBench(r));
  console.log(
    `requests ${x.requests}, failed ${x.errors}; RSS at start ${(before / 2 ** 20).toFixed(0)} MiB, peak ${(peak / 2 ** 20).toFixed(0)} MiB ` +
      `(bound ${RSS_BOUND_MIB} MiB: ${peak / 2 ** 20 <= RSS_BOUND_MIB ? 'MET' : 'NOT MET'}); no failed request: ${x.errors === 0 ? 'MET' : 'NOT MET'}`,
  );
} finally {
  clearInterval(sampler);
  await server.close();
  rmSync(repo, { recursive: true, force: true });
}
