/**
 * The detection step of `drivegate eval run`: runs a model over the manifest's images through the
 * shared runtime (Detector: in-process session or worker-thread pool) and measures latency per
 * image. Images are read, checked against their manifest digest and decoded outside the timed
 * region; each inference call (preprocess, run, decode, NMS) is timed and its time divided by the
 * images in the batch. One warm-up call per lane is made first and not counted.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve, relative } from 'node:path';
import { sha256 } from '../core/digest.js';
import { DrivegateError, badInput } from '../core/errors.js';
import { Detector, classList, decodePng, resolveModel, toCocoResults } from '../runtime/index.js';
import type { CocoResult, ResolvedModel, RgbImage } from '../runtime/index.js';

/** Latency of the model per image (milliseconds). */
export interface LatencySummary {
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  mean_ms: number;
  min_ms: number;
  max_ms: number;
  unit: 'ms per image';
  device: 'cpu';
  batch_size: number;
  workers: number;
  intra_op_threads: number;
  images: number;
  warmup_calls: number;
}

/** What the detection step returns. */
export interface DetectOutput {
  detections: CocoResult[];
  latency: LatencySummary;
}

/** The model a run evaluates: a .onnx with its config, or a pack folder. */
export function resolveEvalModel(opts: { model?: string; config?: string; pack?: string }): ResolvedModel {
  if (opts.pack !== undefined) {
    const model = resolve(opts.pack, 'model.onnx');
    const cfg = resolve(opts.pack, 'inference_config.json');
    return resolveModel(model, cfg);
  }
  if (opts.model === undefined) throw new DrivegateError('USAGE', 'no model given', { field: '--model' });
  return resolveModel(opts.model, opts.config);
}

/** Nearest-rank percentile of sorted values (p in (0, 100]). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Checks that every class of the model is a category of the ground truth (BAD_INPUT naming the config). */
export function checkModelClasses(model: ResolvedModel, categories: ReadonlyMap<number, string>): void {
  for (const c of classList(model.config)) {
    if (!categories.has(c.id)) {
      throw badInput('the model predicts a category id the ground truth does not declare', {
        file: model.configPath,
        field: `classes.${c.index}.id`,
        expected: `one of ${[...categories.entries()].map(([id, n]) => `${id} (${n})`).join(', ')}`,
        found: `${c.id} (${c.name})`,
      });
    }
  }
}

function loadImage(manifestFile: string, record: Record<string, unknown>, line: number): RgbImage {
  const root = dirname(resolve(manifestFile));
  const rel = String(record['image']);
  const file = resolve(root, rel);
  if (relative(root, file).startsWith('..')) {
    throw badInput('a manifest image path leaves the manifest folder', {
      file: manifestFile,
      line,
      field: 'image',
      expected: 'a path inside the manifest folder',
      found: rel,
    });
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw badInput('cannot read the image', {
      file: manifestFile,
      line,
      field: 'image',
      expected: 'a readable PNG file',
      found: `${rel} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    });
  }
  const digest = record['sha256'];
  if (typeof digest === 'string' && sha256(bytes) !== digest) {
    throw new DrivegateError('INTEGRITY', 'the image does not match its manifest digest', {
      file: manifestFile,
      line,
      field: 'sha256',
      expected: digest,
      found: sha256(bytes),
    });
  }
  return decodePng(bytes, file);
}

/**
 * Runs the model on every manifest image (batches of `batch`, `workers` pool threads or 0 for
 * in-process) and returns COCO results (image ids from the manifest) and the latency summary.
 */
export async function detectManifest(
  model: ResolvedModel,
  manifest: { file: string; records: ReadonlyArray<Record<string, unknown>>; lines: readonly number[] },
  options: { workers: number; batch: number; onProgress?: (done: number, total: number) => void },
): Promise<DetectOutput> {
  const workers = Math.max(0, Math.floor(options.workers));
  const batch = Math.max(1, Math.floor(options.batch));
  const lanes = Math.max(1, workers);
  const intra = workers > 0 ? Math.max(1, Math.floor(availableParallelism() / workers)) : 0;
  const detector = await Detector.open(model, { workers, ...(intra > 0 ? { intraOpThreads: intra } : {}) });
  const n = manifest.records.length;
  const results: CocoResult[][] = new Array<CocoResult[]>(n);
  const perImage: number[] = [];
  try {
    const first = loadImage(manifest.file, manifest.records[0]!, manifest.lines[0]!);
    await Promise.all(Array.from({ length: lanes }, () => detector.detect([first])));
    let next = 0;
    let done = 0;
    let failed = false;
    const lane = async (): Promise<void> => {
      while (next < n && !failed) {
        const s = next;
        next += batch;
        const idx: number[] = [];
        for (let i = s; i < Math.min(n, s + batch); i++) idx.push(i);
        try {
          const images = idx.map((i) => loadImage(manifest.file, manifest.records[i]!, manifest.lines[i]!));
          const t0 = performance.now();
          const dets = await detector.detect(images);
          const ms = (performance.now() - t0) / idx.length;
          idx.forEach((i, k) => {
            results[i] = toCocoResults(Number(manifest.records[i]!['image_id']), dets[k] ?? []);
            perImage.push(ms);
          });
        } catch (err) {
          failed = true;
          throw err;
        }
        done += idx.length;
        options.onProgress?.(done, n);
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
  } finally {
    await detector.close();
  }
  const sorted = [...perImage].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  const r3 = (v: number): number => Math.round(v * 1000) / 1000;
  return {
    detections: results.flat(),
    latency: {
      p50_ms: r3(percentile(sorted, 50)),
      p95_ms: r3(percentile(sorted, 95)),
      p99_ms: r3(percentile(sorted, 99)),
      mean_ms: r3(mean),
      min_ms: r3(sorted[0]!),
      max_ms: r3(sorted[sorted.length - 1]!),
      unit: 'ms per image',
      device: 'cpu',
      batch_size: batch,
      workers,
      intra_op_threads: intra,
      images: sorted.length,
      warmup_calls: lanes,
    },
  };
}
