/**
 * Benchmark: dataset generation throughput of the reference world. Generates 10,000 frames
 * (1,000 scenes x 10 frames at 192x96: render, PNG image + mask, annotations, scene JSON, COCO,
 * manifests) with the default worker threads (min(2, cores)) and again in a single thread, and
 * prints frames/s of each and their ratio. Also checks that both outputs are byte-identical.
 *
 *   node --import tsx bench/world-generate.ts [--frames 10000] [--workers 2]
 *   node dist/bench/world-generate.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDataset } from '../src/world/dataset.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const framesPerScene = 10;
const frames = arg('--frames', 10_000);
const workers = arg('--workers', Math.min(2, availableParallelism()));
const scenes = Math.max(1, Math.round(frames / framesPerScene));
const base = mkdtempSync(join(tmpdir(), 'drivegate-bench-world-'));

try {
  const common = { scenes, framesPerScene, seed: 2024 };
  const parallel = await generateDataset({ ...common, out: join(base, 'parallel'), workers });
  const single = await generateDataset({ ...common, out: join(base, 'single'), workers: 0 });
  const fpsParallel = parallel.frames / parallel.seconds;
  const fpsSingle = single.frames / single.seconds;
  console.log(`world generate: ${parallel.frames} frames (${scenes} scenes x ${framesPerScene}) at 192x96`);
  console.log(
    `  ${workers} worker threads : ${parallel.seconds.toFixed(1)} s  ${fpsParallel.toFixed(0)} frames/s`,
  );
  console.log(`  single thread    : ${single.seconds.toFixed(1)} s  ${fpsSingle.toFixed(0)} frames/s`);
  console.log(`  ratio            : ${(fpsParallel / fpsSingle).toFixed(2)}x (workers vs single thread)`);
  console.log(
    `  identical output : ${parallel.digest === single.digest ? 'yes' : 'NO'} (dataset.json sha256)`,
  );
  console.log(`  cores            : ${availableParallelism()}`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
