/**
 * Benchmark: writing 1,000,000 slice_metrics rows as Parquet (snappy) with the report service, against
 * the obvious alternative, JSON lines of the same rows. Prints wall and CPU time (CPU time is the
 * steadier figure on a shared machine), rows/s and file size of both, and the ratios. Run: node --import tsx bench/report-parquet.ts [rows]
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { writeSliceMetrics, type SliceMetricRow } from '../src/report/parquet.js';

const N = Number(process.argv[2] ?? 1_000_000);
const SLICES = ['all', 'weather=rain', 'weather=fog', 'time=night', 'road=highway', 'region=eu'];
const CLASSES = ['car', 'truck', 'pedestrian', 'cyclist', 'all'];
const METRICS = ['AP', 'AP50', 'AP75', 'recall', 'precision', 'ECE'];

function* rows(n: number): Iterable<SliceMetricRow> {
  let seed = 42;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let i = 0; i < n; i++) {
    yield {
      slice: `${SLICES[i % SLICES.length]}/seed=${i % 997}`,
      class: CLASSES[i % CLASSES.length] as string,
      metric: METRICS[i % METRICS.length] as string,
      value: rnd(),
      baseline_value: i % 4 === 0 ? null : rnd(),
      n_images: 1 + (i % 5000),
      n_objects: i,
    };
  }
}

async function jsonLines(path: string, n: number): Promise<void> {
  const out = createWriteStream(path);
  let buf = '';
  for (const r of rows(n)) {
    const delta = r.baseline_value === null ? null : r.value - r.baseline_value;
    buf += JSON.stringify({ ...r, delta }) + '\n';
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((res) => out.once('drain', () => res()));
      buf = '';
    }
  }
  out.end(buf);
  await finished(out);
}

const dir = await mkdtemp(join(tmpdir(), 'dg-bench-parquet-'));
try {
  const pq = join(dir, 'slice_metrics.parquet');
  const cpu = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1e6;
  let t0 = performance.now();
  let c0 = process.cpuUsage();
  await writeSliceMetrics(pq, rows(N));
  const tPq = (performance.now() - t0) / 1000;
  const cPq = cpu(process.cpuUsage(c0));
  const sPq = (await stat(pq)).size;
  const rssPq = process.resourceUsage().maxRSS * 1024;

  const jl = join(dir, 'slice_metrics.jsonl');
  t0 = performance.now();
  c0 = process.cpuUsage();
  await jsonLines(jl, N);
  const tJl = (performance.now() - t0) / 1000;
  const cJl = cpu(process.cpuUsage(c0));
  const sJl = (await stat(jl)).size;

  const mb = (b: number): string => (b / 1e6).toFixed(1) + ' MB';
  console.log(`rows: ${N}`);
  console.log(
    `parquet (snappy): ${tPq.toFixed(2)} s wall, ${cPq.toFixed(2)} s cpu, ${Math.round(N / tPq)} rows/s, ${mb(sPq)}`,
  );
  console.log(
    `json lines:       ${tJl.toFixed(2)} s wall, ${cJl.toFixed(2)} s cpu, ${Math.round(N / tJl)} rows/s, ${mb(sJl)}`,
  );
  console.log(
    `ratio parquet/jsonl: wall ${(tPq / tJl).toFixed(2)}x, cpu ${(cPq / cJl).toFixed(2)}x, size ${(sPq / sJl).toFixed(2)}x`,
  );
  console.log(
    `peak rss: ${mb(rssPq)} after parquet, ${mb(process.resourceUsage().maxRSS * 1024)} after json lines`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
