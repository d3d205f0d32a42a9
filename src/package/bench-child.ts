/**
 * The microbenchmark of one model variant in a fresh process (spawned by steps.ts `microbench`), so
 * that its memory footprint is the growth of an otherwise idle process: argv[2] is a JSON job
 * {model, config, iterations, warmup, batchSizes}; prints one JSON line {figures, rss_before,
 * rss_after_session, peak_rss} (bytes; peak from /proc/self/status VmHWM where available).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { mulberry32 } from '../core/random.js';
import { loadInferenceConfig } from '../runtime/config.js';
import { LocalSession } from '../runtime/session.js';
import { randomBatch, timeBatches } from './steps.js';

/** The job a parent passes (JSON in argv[2]). */
export interface BenchJob {
  model: string;
  config: string;
  iterations: number;
  warmup: number;
  batchSizes: number[];
}

function peakRss(): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m?.[1] !== undefined ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as BenchJob;
  const cfg = loadInferenceConfig(job.config);
  // Touch the input generator once so its allocation is not counted as the session's.
  randomBatch(cfg, 1, mulberry32(1));
  const before = process.memoryUsage.rss();
  // One intra-op thread per CPU this process may run on: onnxruntime's default counts the host's cores,
  // which oversubscribes a process pinned to fewer (taskset, container CPU sets) and distorts the ratios.
  const s = await LocalSession.open(job.model, { intraOpThreads: availableParallelism() });
  const afterSession = process.memoryUsage.rss();
  try {
    const figures = await timeBatches(s, cfg, job);
    const peak = peakRss();
    process.stdout.write(
      JSON.stringify({
        figures,
        rss_before: before,
        rss_after_session: afterSession,
        peak_rss: peak ?? process.memoryUsage.rss(),
        peak_source: peak === null ? 'rss after the runs' : 'VmHWM',
      }) + '\n',
    );
  } finally {
    await s.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(3);
});
