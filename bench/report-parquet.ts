/**
 * Benchmark: writing 1,000,000 slice_metrics rows as Parquet (snappy) with the report service, against
 * the obvious alternative, JSON lines of the same rows. Prints time, rows/s and file size of both, and
 * the ratios. Run: node --import tsx bench/report-parquet.ts [rows]
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
  let t0 = performance.now();
  await writeSliceMetrics(pq, rows(N));
  const tPq = (performance.now() - t0) / 1000;
  const sPq = (await stat(pq)).size;

  const jl = join(dir, 'slice_metrics.jsonl');
  t0 = performance.now();
  await jsonLines(jl, N);
  const tJl = (performance.now() - t0) / 1000;
  const sJl = (await stat(jl)).size;

  const mb = (b: number): string => (b / 1e6).toFixed(1) + ' MB';
  console.log(`rows: ${N}`);
  console.log(`parquet (snappy): ${tPq.toFixed(2)} s, ${Math.round(N / tPq)} rows/s, ${mb(sPq)}`);
  console.log(`json lines:       ${tJl.toFixed(2)} s, ${Math.round(N / tJl)} rows/s, ${mb(sJl)}`);
  console.log(`ratio parquet/jsonl: time ${(tPq / tJl).toFixed(2)}x, size ${(sPq / sJl).toFixed(2)}x`);
  console.log(`peak rss: ${mb(process.resourceUsage().maxRSS * 1024)}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
