/**
 * Measurements the packaging steps make (onnxruntime at the edge, numbers out): environment pins,
 * the sanity smoke (one batch forward, finite outputs, contract shapes), equivalence between two
 * models on seeded random inputs, and a latency microbenchmark.
 */
import { mulberry32 } from '../core/random.js';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { arch, cpus, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { DrivegateError, badInput } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import type { InferenceConfig } from '../runtime/config.js';
import { checkModelIO } from '../runtime/resolve.js';
import { LocalSession } from '../runtime/session.js';
import type { TensorMap } from '../runtime/tensor.js';

/** The pinned build environment. */
export interface EnvironmentPins {
  node: string;
  onnxruntime_node: string | null;
  os: string;
  cpu: { model: string; cores: number; arch: string };
  memory_bytes: number;
  tensorrt: { trtexec: string | null };
  python_onnx: string | null;
}

function which(cmd: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

/** Pins the environment of this host: Node, onnxruntime-node, OS, CPU; TensorRT and python-onnx when present. */
export function environmentPins(): EnvironmentPins {
  let ortVersion: string | null = null;
  try {
    const pkg = JSON.parse(
      readFileSync(join(packageRoot(), 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8'),
    ) as { version?: string };
    ortVersion = pkg.version ?? null;
  } catch {
    ortVersion = null;
  }
  let pythonOnnx: string | null = null;
  if (existsSync('/usr/bin/python3')) {
    try {
      pythonOnnx = execFileSync('/usr/bin/python3', ['-c', 'import onnx; print(onnx.__version__)'], {
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 10000,
      })
        .toString()
        .trim();
    } catch {
      pythonOnnx = null;
    }
  }
  const c = cpus();
  return {
    node: process.version,
    onnxruntime_node: ortVersion,
    os: `${platform()} ${release()}`,
    cpu: { model: c[0]?.model ?? 'unknown', cores: c.length, arch: arch() },
    memory_bytes: totalmem(),
    tensorrt: { trtexec: which('trtexec') },
    python_onnx: pythonOnnx,
  };
}

/** A batch of normalized-image-like inputs, uniform in [-2, 2], shape [batch, 3, H, W]. */
export function randomBatch(cfg: InferenceConfig, batch: number, rand: () => number): TensorMap {
  const dims = [batch, 3, cfg.input.height, cfg.input.width];
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rand() * 4 - 2;
  return { [cfg.input.name]: { type: 'float32', data, dims } };
}

/** What the sanity smoke found. */
export interface SmokeResult {
  batch: number;
  outputs: Array<{ name: string; dims: number[]; min: number; max: number }>;
}

/**
 * Loads the model, checks its I/O against the contract, runs one batch and checks the outputs:
 * all finite, batch dim = batch, the other dims as the graph declares (`declared`: name -> dims,
 * symbolic dims as strings). BAD_INPUT naming the model and the output otherwise.
 */
export async function sanitySmoke(
  modelPath: string,
  cfg: InferenceConfig,
  declared: Record<string, Array<number | string | null>>,
  batch = 2,
): Promise<SmokeResult> {
  const s = await LocalSession.open(modelPath, { intraOpThreads: 1 });
  try {
    checkModelIO(s.io, cfg, modelPath);
    const out = await s.run(randomBatch(cfg, batch, mulberry32(7)));
    const outputs: SmokeResult['outputs'] = [];
    for (const [name, t] of Object.entries(out)) {
      const want = declared[name];
      const shapeOk =
        want !== undefined &&
        want.length === t.dims.length &&
        t.dims[0] === batch &&
        want.every((d, i) => i === 0 || typeof d !== 'number' || d === t.dims[i]);
      if (!shapeOk) {
        throw badInput(`output '${name}' has a shape that breaks the contract`, {
          file: modelPath,
          field: name,
          expected: `[${batch}${(want ?? [])
            .slice(1)
            .map((d) => `,${String(d)}`)
            .join('')}]`,
          found: `[${t.dims.join(',')}]`,
        });
      }
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < t.data.length; i++) {
        const v = Number(t.data[i]);
        if (!Number.isFinite(v)) {
          throw badInput(`output '${name}' holds NaN or Inf after one forward pass`, {
            file: modelPath,
            field: name,
            expected: 'finite values',
            found: `${String(v)} at element ${i}`,
          });
        }
        if (v < min) min = v;
        if (v > max) max = v;
      }
      outputs.push({ name, dims: t.dims, min, max });
    }
    return { batch, outputs };
  } finally {
    await s.close();
  }
}

/** Equivalence of two models on the same inputs, per output. */
export interface EquivalenceResult {
  inputs: string;
  samples: number;
  batch: number;
  seed: number;
  tolerance_max_abs: number;
  outputs: Record<string, { max_abs: number; mean_abs: number; max_rel: number }>;
  max_abs: number;
  ok: boolean;
}

/** Runs `reference` and `candidate` on `samples` seeded random inputs and compares every output. */
export async function equivalence(
  reference: string,
  candidate: string,
  cfg: InferenceConfig,
  opts: { samples: number; batch: number; seed: number; maxAbs: number },
): Promise<EquivalenceResult> {
  const a = await LocalSession.open(reference, { intraOpThreads: 1 });
  const b = await LocalSession.open(candidate, { intraOpThreads: 1 });
  const acc: Record<string, { max_abs: number; sum_abs: number; n: number; max_rel: number }> = {};
  try {
    const rand = mulberry32(opts.seed);
    for (let done = 0; done < opts.samples;) {
      const n = Math.min(opts.batch, opts.samples - done);
      const feeds = randomBatch(cfg, n, rand);
      const input = feeds[cfg.input.name];
      if (input === undefined) throw new DrivegateError('INTERNAL', 'no input tensor');
      const copy: TensorMap = {
        [cfg.input.name]: { ...input, data: new Float32Array(input.data as Float32Array) },
      };
      const ra = await a.run(feeds);
      const rb = await b.run(copy);
      for (const [name, ta] of Object.entries(ra)) {
        const tb = rb[name];
        if (tb === undefined || tb.data.length !== ta.data.length) {
          throw badInput(`the candidate's output '${name}' differs in shape`, {
            file: candidate,
            field: name,
            expected: `[${ta.dims.join(',')}]`,
            found: tb === undefined ? 'no such output' : `[${tb.dims.join(',')}]`,
          });
        }
        const s = (acc[name] ??= { max_abs: 0, sum_abs: 0, n: 0, max_rel: 0 });
        for (let i = 0; i < ta.data.length; i++) {
          const x = Number(ta.data[i]);
          const y = Number(tb.data[i]);
          const d = Math.abs(x - y);
          if (!(d <= s.max_abs)) s.max_abs = Number.isNaN(d) ? Infinity : d;
          s.sum_abs += d;
          s.n++;
          const rel = d / Math.max(Math.abs(x), 1e-6);
          if (rel > s.max_rel) s.max_rel = rel;
        }
      }
      done += n;
    }
  } finally {
    await a.close();
    await b.close();
  }
  const outputs: EquivalenceResult['outputs'] = {};
  let maxAbs = 0;
  for (const [name, s] of Object.entries(acc)) {
    outputs[name] = { max_abs: s.max_abs, mean_abs: s.n > 0 ? s.sum_abs / s.n : 0, max_rel: s.max_rel };
    maxAbs = Math.max(maxAbs, s.max_abs);
  }
  return {
    inputs: `seeded uniform random in [-2, 2] (normalized image range), shape [batch,3,${cfg.input.height},${cfg.input.width}]`,
    samples: opts.samples,
    batch: opts.batch,
    seed: opts.seed,
    tolerance_max_abs: opts.maxAbs,
    outputs,
    max_abs: maxAbs,
    ok: maxAbs <= opts.maxAbs,
  };
}

/** Latency figures of one batch size. */
export interface BenchFigures {
  batch: number;
  iterations: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  mean_ms: number;
  throughput_per_s: number;
}

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? 0;
}

/** Times `iterations` forward passes per batch size (after `warmup` untimed ones) in this thread. */
export async function microbench(
  modelPath: string,
  cfg: InferenceConfig,
  opts: { iterations: number; warmup: number; batchSizes: number[] },
): Promise<BenchFigures[]> {
  const s = await LocalSession.open(modelPath);
  try {
    const rand = mulberry32(3);
    const figures: BenchFigures[] = [];
    for (const batch of opts.batchSizes) {
      const times: number[] = [];
      for (let i = 0; i < opts.warmup + opts.iterations; i++) {
        const feeds = randomBatch(cfg, batch, rand);
        const t0 = process.hrtime.bigint();
        await s.run(feeds);
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (i >= opts.warmup) times.push(ms);
      }
      const sorted = [...times].sort((x, y) => x - y);
      const mean = times.reduce((x, y) => x + y, 0) / times.length;
      figures.push({
        batch,
        iterations: opts.iterations,
        p50_ms: quantile(sorted, 0.5),
        p95_ms: quantile(sorted, 0.95),
        p99_ms: quantile(sorted, 0.99),
        mean_ms: mean,
        throughput_per_s: mean > 0 ? (1000 * batch) / mean : 0,
      });
    }
    return figures;
  } finally {
    await s.close();
  }
}
