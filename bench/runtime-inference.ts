/**
 * Benchmark: CPU detection throughput (images/second, preprocessing and decoding included) of each
 * model under models/ (or the models named on the command line; the toy test model when there are
 * none): in-process session at batch 1 and batch 8, and a 2-worker pool at batch 8 with two batches
 * in flight. Prints the ratios batch 8 / batch 1 and pool / single in-process session.
 *
 *   node --import tsx bench/runtime-inference.ts [model.onnx ...]
 *   node dist/bench/runtime-inference.js [model.onnx ...]
 */
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/core/paths.js';
import { Detector } from '../src/runtime/detector.js';
import type { RgbImage } from '../src/runtime/preprocess.js';
import { resolveModel, type ResolvedModel } from '../src/runtime/resolve.js';

const IMAGES = 96;

function models(): string[] {
  const args = process.argv.slice(2);
  if (args.length > 0) return args;
  const dir = join(packageRoot(), 'models');
  let found: string[] = [];
  try {
    found = readdirSync(dir)
      .filter((f) => f.endsWith('.onnx'))
      .sort()
      .map((f) => join(dir, f));
  } catch {
    // no models/ folder
  }
  return found.length > 0 ? found : [join(packageRoot(), 'src', 'runtime', 'testdata', 'toy_centernet.onnx')];
}

function images(model: ResolvedModel): RgbImage[] {
  const { width, height } = model.config.input;
  let s = 12345;
  return Array.from({ length: IMAGES }, () => {
    const data = new Uint8Array(width * height * 3);
    for (let i = 0; i < data.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      data[i] = s >>> 24;
    }
    return { width, height, data };
  });
}

async function throughput(det: Detector, imgs: RgbImage[], batch: number, inFlight: number): Promise<number> {
  await det.detect(imgs.slice(0, batch)); // warm-up
  const starts: number[] = [];
  for (let i = 0; i < imgs.length; i += batch) starts.push(i);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < starts.length) {
        const s = starts[next++]!;
        await det.detect(imgs.slice(s, s + batch));
      }
    }),
  );
  return imgs.length / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const cores = availableParallelism();
  console.log(`runtime-inference: ${IMAGES} images per run, ${cores} cores, onnxruntime-node CPU`);
  for (const path of models()) {
    const model = resolveModel(path);
    const imgs = images(model);
    const local = await Detector.open(model, { workers: 0 });
    const b1 = await throughput(local, imgs, 1, 1);
    const b8 = await throughput(local, imgs, 8, 1);
    await local.close();
    const pool = await Detector.open(model, { workers: 2 });
    const p8 = await throughput(pool, imgs, 8, 2);
    await pool.close();
    const { width, height } = model.config.input;
    console.log(`\n${path} (input ${width}x${height})`);
    console.log(`  in-process, batch 1        ${b1.toFixed(1).padStart(8)} images/s`);
    console.log(`  in-process, batch 8        ${b8.toFixed(1).padStart(8)} images/s`);
    console.log(`  pool 2 workers, batch 8    ${p8.toFixed(1).padStart(8)} images/s`);
    console.log(`  ratio batch 8 / batch 1    ${(b8 / b1).toFixed(2)}x`);
    console.log(`  ratio pool(2) / in-process ${(p8 / b8).toFixed(2)}x (both batch 8)`);
  }
}

await main();
