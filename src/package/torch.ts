/**
 * PyTorch input for packaging: a TorchScript file or a reference-detector checkpoint
 * (`--model X.pt|.pth|.ts`) is exported to ONNX by tools/export_onnx.py under Debian's python
 * (/usr/bin/python3 with python3-torch), into a workspace folder keyed by the input's sha256, with
 * PyTorch's own outputs on seeded random inputs so the FP32 export can be checked against PyTorch.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { sha256, sha256File } from '../core/digest.js';
import { DrivegateError, badInput } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import type { InferenceConfig } from '../runtime/config.js';
import { outputNames } from '../runtime/config.js';
import { LocalSession } from '../runtime/session.js';
import { HeadStats } from './equivalence.js';
import type { HeadError } from './equivalence.js';

const run = promisify(execFile);

/** The Python drivegate uses for PyTorch: $DRIVEGATE_TORCH_PYTHON, default Debian's (python3-torch). */
export function torchPython(env: NodeJS.ProcessEnv = process.env): string {
  const p = env['DRIVEGATE_TORCH_PYTHON'];
  return p !== undefined && p !== '' ? p : '/usr/bin/python3';
}

/** Suffixes taken as PyTorch input. */
export const TORCH_SUFFIXES = ['.pt', '.pth', '.ts'] as const;

/** True when `path` names a PyTorch file by its suffix. */
export function isTorchModel(path: string): boolean {
  return TORCH_SUFFIXES.some((s) => path.toLowerCase().endsWith(s));
}

/** The conventional inference config of a PyTorch file: x.pt -> x.inference_config.json beside it. */
export function torchConfigPath(path: string): string {
  return join(dirname(path), `${basename(path).replace(/\.(pt|pth|ts)$/i, '')}.inference_config.json`);
}

/** What the export produced and pinned. */
export interface TorchExport {
  /** The exported ONNX file. */
  onnx: string;
  source: { path: string; sha256: string; kind: string };
  opset: number;
  /** Python-side pins: python, torch, numpy, onnx versions and the export script's sha256. */
  pins: { python: string; torch: string; numpy: string; onnx: string | null; script_sha256: string };
  /** PyTorch inputs and outputs on seeded random inputs (raw float32), and their layout. */
  reference: {
    file: string;
    samples: number;
    seed: number;
    outputs: Array<{ name: string; shape: number[] }>;
  };
}

interface ScriptOutput {
  kind: string;
  opset: number;
  samples: number;
  seed: number;
  outputs: Array<{ name: string; shape: number[] | null }>;
  versions: { python: string; torch: string; numpy: string; onnx: string | null };
}

/**
 * Exports `model` to ONNX (cached in `exportsDir/<sha256 of model+script+options>/`). UNAVAILABLE
 * when Debian's python or PyTorch is missing; BAD_INPUT naming the file when the export fails.
 */
export async function exportTorchModel(
  model: string,
  cfg: InferenceConfig,
  exportsDir: string,
  opts: { opset: number; samples: number; seed: number },
): Promise<TorchExport> {
  const python = torchPython();
  if (!existsSync(python)) {
    throw new DrivegateError('UNAVAILABLE', 'PyTorch input needs Debian python with python3-torch', {
      file: model,
      expected: `${python} with the torch module (apt-get install python3-torch)`,
      found: `no ${python}`,
    });
  }
  const script = join(packageRoot(), 'tools', 'export_onnx.py');
  const src = await sha256File(model).catch((err: unknown) => {
    throw badInput('cannot read the PyTorch model', {
      file: model,
      expected: 'a TorchScript file or a checkpoint',
      found: String((err as NodeJS.ErrnoException).code ?? err),
    });
  });
  const scriptSha = sha256(readFileSync(script));
  const outputs = outputNames(cfg);
  const key = sha256(
    JSON.stringify([src.sha256, scriptSha, opts, cfg.input.name, cfg.input.height, cfg.input.width, outputs]),
  ).slice(0, 24);
  const dir = join(exportsDir, key);
  const done = join(dir, 'export.json');
  if (existsSync(done)) return JSON.parse(await readFile(done, 'utf8')) as TorchExport;
  await mkdir(exportsDir, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    let stdout: string;
    try {
      ({ stdout } = await run(
        python,
        [
          script,
          '--model',
          model,
          '--out',
          join(tmp, 'model.onnx'),
          '--height',
          String(cfg.input.height),
          '--width',
          String(cfg.input.width),
          '--input-name',
          cfg.input.name,
          '--output-names',
          outputs.join(','),
          '--opset',
          String(opts.opset),
          '--samples',
          String(opts.samples),
          '--seed',
          String(opts.seed),
          '--reference-out',
          join(tmp, 'reference.f32'),
        ],
        { maxBuffer: 16 << 20, timeout: 300_000 },
      ));
    } catch (err) {
      const e = err as { code?: number | string; stderr?: string };
      const msg = (e.stderr ?? String(err)).trim().split('\n').slice(-3).join(' ');
      if (e.code === 3) {
        throw new DrivegateError('UNAVAILABLE', `PyTorch is not installed for ${python}`, {
          file: model,
          expected: `${python} with the torch module (apt-get install python3-torch)`,
          found: msg,
        });
      }
      throw badInput('cannot export the PyTorch model to ONNX', {
        file: model,
        expected: 'a TorchScript file or a reference-detector checkpoint that torch.onnx.export can export',
        found: msg,
      });
    }
    const out = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ScriptOutput;
    const result: TorchExport = {
      onnx: join(dir, 'model.onnx'),
      source: { path: model, sha256: `sha256:${src.sha256}`, kind: out.kind },
      opset: out.opset,
      pins: { ...out.versions, script_sha256: `sha256:${scriptSha}` },
      reference: {
        file: join(dir, 'reference.f32'),
        samples: out.samples,
        seed: out.seed,
        outputs: out.outputs.map((o) => ({ name: o.name, shape: o.shape ?? [] })),
      },
    };
    await writeFile(join(tmp, 'export.json'), JSON.stringify(result, null, 2) + '\n');
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return result;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The exported ONNX model against PyTorch's own outputs on the export's seeded inputs. */
export interface TorchEquivalence {
  reference: 'pytorch';
  samples: number;
  seed: number;
  heads: Record<string, HeadError>;
  max_abs: number;
  tolerance_max_abs: number;
  ok: boolean;
}

/** Runs the exported ONNX on PyTorch's inputs and compares with PyTorch's outputs (FP32 export equivalence). */
export async function checkTorchExport(
  exp: TorchExport,
  cfg: InferenceConfig,
  maxAbs: number,
): Promise<TorchEquivalence> {
  const raw = await readFile(exp.reference.file);
  const f = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const n = exp.reference.samples;
  const inDims = [n, 3, cfg.input.height, cfg.input.width];
  const inLen = inDims.reduce((a, b) => a * b, 1);
  const s = await LocalSession.open(exp.onnx, { intraOpThreads: 1 });
  const stats = new HeadStats();
  try {
    const got = await s.run({ [cfg.input.name]: { type: 'float32', data: f.slice(0, inLen), dims: inDims } });
    let off = inLen;
    for (const o of exp.reference.outputs) {
      const len = o.shape.reduce((a, b) => a * b, 1);
      const t = got[o.name];
      if (t === undefined || t.data.length !== len) {
        throw badInput(`the exported model's output '${o.name}' differs in shape from PyTorch's`, {
          file: exp.onnx,
          field: o.name,
          expected: `[${o.shape.join(',')}]`,
          found: t === undefined ? 'no such output' : `[${t.dims.join(',')}]`,
        });
      }
      stats.add(o.name, f.subarray(off, off + len), t.data as ArrayLike<number>);
      off += len;
    }
  } finally {
    await s.close();
  }
  const heads = stats.result();
  const max = Math.max(0, ...Object.values(heads).map((h) => h.max_abs));
  return {
    reference: 'pytorch',
    samples: n,
    seed: exp.reference.seed,
    heads,
    max_abs: max,
    tolerance_max_abs: maxAbs,
    ok: max <= maxAbs,
  };
}
