/**
 * Benchmark: sweep throughput of the simulation worker pool, 1 worker against 2 (target: 2 workers
 * give >= 1.8x the runs/s of 1), with ground-truth perception and with the reference detector in
 * the loop (10 Hz). Prints runs/s, simulated seconds per wall second (real-time factor, whole pool
 * and per worker) and the ratio; also checks that both worker counts give identical metrics.
 * Timings cover the runs once the workers have started (not worker start-up, clips or outputs).
 *
 *   node --import tsx bench/sim-sweep.ts [--seeds-gt 48] [--seeds-model 1]
 *   node dist/bench/sim-sweep.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf } from '../src/core/digest.js';
import { packageRoot } from '../src/core/paths.js';
import { groundTruth, modelFile, runSweep } from '../src/sim/sweep/index.js';
import type { ResolvedPerception, SweepResult } from '../src/sim/sweep/index.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const root = packageRoot();
const scenarios = join(root, 'examples', 'scenarios');
const base = mkdtempSync(join(tmpdir(), 'drivegate-bench-sim-'));

async function sweep(
  name: string,
  candidate: ResolvedPerception,
  filters: string[],
  seeds: number,
  workers: number,
): Promise<SweepResult> {
  return runSweep({
    scenarios,
    filters,
    seeds,
    workers,
    candidate,
    baseline: null,
    out: join(base, `${name}-${workers}`),
    resume: false,
    maxClips: 0,
  });
}

function line(label: string, r: SweepResult): string {
  const rps = r.executed / r.runWallS;
  const rtf = r.simS / r.runWallS;
  return `  ${label}: ${r.executed} runs in ${r.runWallS.toFixed(1)} s  ${rps.toFixed(2)} runs/s  real-time factor ${rtf.toFixed(0)}x (${(rtf / r.workers).toFixed(0)}x per worker)`;
}

const metricsOf = (r: SweepResult): string =>
  digestOf([r.candidate.overall.collisions, r.candidate.families]);

try {
  const cases: Array<[string, ResolvedPerception, string[], number]> = [
    ['ground truth', groundTruth(), ['family=CCRs'], arg('--seeds-gt', 48)],
    [
      'detector-v1.1.0 in the loop (10 Hz)',
      await modelFile(join(root, 'models', 'detector-v1.1.0.onnx')),
      ['family=CCRs,ego_speed_kph=50', 'family=CPNA,ego_speed_kph=40'],
      arg('--seeds-model', 1),
    ],
  ];
  for (const [name, cand, filters, seeds] of cases) {
    const key = name.split(' ')[0]!;
    // Warm-up: module loading and the first session open are not what is measured.
    await sweep(`${key}-warm`, cand, [filters[0]!], 1, 1).catch(() => undefined);
    const one = await sweep(key, cand, filters, seeds, 1);
    const two = await sweep(key, cand, filters, seeds, 2);
    console.log(`sim sweep, ${name}: ${one.variants} variants x ${seeds} seed(s)`);
    console.log(line('1 worker ', one));
    console.log(line('2 workers', two));
    const ratio = two.executed / two.runWallS / (one.executed / one.runWallS);
    console.log(`  ratio    : ${ratio.toFixed(2)}x (2 workers vs 1; target >= 1.8x)`);
    console.log(
      `  identical metrics with 1 and 2 workers: ${metricsOf(one) === metricsOf(two) ? 'yes' : 'NO'}`,
    );
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}
