/**
 * Measurements the packaging steps make (onnxruntime at the edge, numbers out): environment pins,
 * the sanity smoke (one batch forward, finite outputs, contract shapes), equivalence between two
 * models on seeded random inputs, and a latency microbenchmark.
 */
import { mulberry32 } from '../core/random.js';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { graphComposition } from '../onnx/fp16.js';
import { arch, cpus, platform, release, totalmem } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DrivegateError, badInput } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import type { InferenceConfig } from '../runtime/config.js';
import { checkModelIO } from '../runtime/resolve.js';
import { LocalSession } from '../runtime/session.js';
import type { Runner } from '../runtime/session.js';
import type { TensorMap } from '../runtime/tensor.js';

const execFileP = promisify(execFile);

/** This process's module-loader flags (e.g. `--import tsx`), for a child running a sibling module. */
function loaderArgs(): string[] {
  const out: string[] = [];
  const a = process.execArgv;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? '';
    if (['--import', '--loader', '--experimental-loader', '--require', '-r'].includes(x)) {
      out.push(x, a[i + 1] ?? '');
      i++;
    } else if (/^--(import|loader|experimental-loader|require)=/.test(x)) out.push(x);
  }
  return out;
}

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

/** Memory footprint of one variant's session (process RSS, so it includes onnxruntime's arena). */
export interface MemoryFigures {
  /** RSS growth from before the session was created to right after (weights, graph, kernels). */
  session_rss_bytes: number;
  /** RSS growth from before the session was created to after the last timed run (adds activations/arena). */
  peak_rss_bytes: number;
  model_file_bytes: number;
  note: string;
}

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? 0;
}

/** Times `iterations` forward passes per batch size (after `warmup` untimed ones) on an open session. */
export async function timeBatches(
  s: Runner,
  cfg: InferenceConfig,
  opts: { iterations: number; warmup: number; batchSizes: number[] },
): Promise<BenchFigures[]> {
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
}

/**
 * Microbenchmarks one model in a fresh Node process (bench-child.ts): latency per batch size with
 * onnxruntime's default threads, and the memory footprint as that process's RSS growth.
 */
export async function microbench(
  modelPath: string,
  configPath: string,
  opts: { iterations: number; warmup: number; batchSizes: number[] },
): Promise<{ figures: BenchFigures[]; memory: MemoryFigures }> {
  const here = fileURLToPath(import.meta.url);
  const child = join(dirname(here), `bench-child${extname(here)}`);
  const job = { model: modelPath, config: configPath, ...opts };
  let stdout: string;
  try {
    ({ stdout } = await execFileP(process.execPath, [...loaderArgs(), child, JSON.stringify(job)], {
      maxBuffer: 1 << 20,
      timeout: 600_000,
    }));
  } catch (err) {
    throw new DrivegateError('INTERNAL', 'the microbenchmark process failed', {
      file: modelPath,
      found: ((err as { stderr?: string }).stderr ?? String(err)).trim().slice(-400),
    });
  }
  const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
    figures: BenchFigures[];
    rss_before: number;
    rss_after_session: number;
    peak_rss: number;
    peak_source: string;
  };
  return {
    figures: r.figures,
    memory: {
      session_rss_bytes: r.rss_after_session - r.rss_before,
      peak_rss_bytes: r.peak_rss - r.rss_before,
      model_file_bytes: statSync(modelPath).size,
      note:
        'measured in a fresh Node process per variant: session_rss_bytes is the RSS growth from creating the ' +
        `onnxruntime session (weights, graph, kernels); peak_rss_bytes is the peak RSS (${r.peak_source}) ` +
        'minus the RSS before the session, i.e. with the activations and arena of the largest batch',
    },
  };
}

/** What onnxruntime on this host made of a model: its optimized graph's composition. */
export interface OrtGraphProbe {
  onnxruntime_node: string | null;
  optimized_initializers: Record<string, number>;
  optimized_nodes: Record<string, number>;
  /** Cast nodes onnxruntime inserted itself (its InsertCastTransformer names them Inserted*Cast*). */
  inserted_casts: number;
  /** True when no FLOAT16 initializer survives optimization: the weights are upcast and compute runs in FP32. */
  computes_in_fp32: boolean;
}

/**
 * Opens `modelPath` in onnxruntime-node on the CPU with the optimized graph written to `optimizedPath`
 * and reports what ran: initializer types and node ops of the optimized graph. This is how the
 * packaging run finds out whether this host has FP16 kernels (see docs/packaging.md).
 */
export async function probeOrtGraph(modelPath: string, optimizedPath: string): Promise<OrtGraphProbe> {
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    optimizedModelFilePath: optimizedPath,
    logSeverityLevel: 4,
  });
  await session.release();
  const bytes = readFileSync(optimizedPath);
  const c = graphComposition(bytes, optimizedPath);
  return {
    onnxruntime_node: environmentPins().onnxruntime_node,
    optimized_initializers: c.initializers,
    optimized_nodes: c.nodes,
    inserted_casts: c.insertedCasts,
    computes_in_fp32: (c.initializers['float16'] ?? 0) === 0,
  };
}
