/**
 * Sealing and verifying a pack. The seal writes the pack into a temporary folder beside `out`:
 * the served files, recipe.yaml, manifest.json (every file with sha256 and size, in the shape the
 * registry reads) and export_report.json (evidence, listed in the manifest's `evidence` without a
 * hash, so it stays outside the digest); puts everything into the store under
 * models/<task>/<version>/ refs and renames the folder into place. The pack digest is the sha256 of
 * manifest.json's bytes. The output folder is checked before the store is touched, and a seal that
 * fails on the way (the store, the rename) puts every ref it moved back as it was.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { sha256, sha256File } from '../core/digest.js';
import { DrivegateError } from '../core/errors.js';
import { listFilesRecursive } from '../core/fsutil.js';
import {
  PACK_MANIFEST,
  isFolder,
  parsePackManifest,
  readPackFolder,
  verifyPackFiles,
} from '../registry/pack.js';
import { packModelFile } from '../registry/pack.js';
import type { IntegrityResult, PackManifest } from '../registry/pack.js';
import type { ArtifactStore } from '../store/types.js';
import { looksLikeDigest, normalizeDigest } from '../store/types.js';
import { KNOWN_TARGETS } from './recipe.js';
import type { Recipe } from './recipe.js';

/** The evidence file of a pack (outside the digest). */
export const EXPORT_REPORT = 'export_report.json';

/** What sealPack needs. */
export interface SealOptions {
  store: ArtifactStore;
  recipe: Recipe;
  recipeText: string;
  version: string;
  out: string;
  runId: string;
  /** Pack path -> source file; a path ending in '/' is a folder copied recursively. */
  files: Record<string, string>;
  /** The earlier steps' results (stage, graph-checks, ...), for export_report.json. */
  results: Record<string, unknown>;
}

/** The sealed pack. */
export interface SealResult {
  digest: string;
  path: string;
  files: number;
  refs: string;
}

/** The ref prefix of a pack in the store. */
export function packRefPrefix(task: string, version: string): string {
  return `models/${task}/${version}/`;
}

function targetStatus(recipe: Recipe, results: Record<string, unknown>): Array<Record<string, unknown>> {
  const built = (p: string): boolean => (results[p] as { status?: string } | undefined)?.status === 'built';
  return recipe.targets.map((t) => {
    const info = KNOWN_TARGETS[t];
    const precision = info?.precision ?? 'fp32';
    if (info?.notRunnable !== undefined) {
      return { target: t, status: 'pending', reason: info.notRunnable, precision };
    }
    const artifact = packModelFile(precision);
    const ok = precision === 'fp32' || built(precision);
    return {
      target: t,
      status: ok ? 'built' : 'not built',
      precision,
      artifact,
      triton_model: precision === 'fp32' ? recipe.model.name : `${recipe.model.name}_${precision}`,
    };
  });
}

/**
 * The Triton config of a TensorRT target served through onnxruntime's TensorRT execution
 * accelerator (platform onnxruntime_onnx, KIND_GPU, optimization.execution_accelerators): text for
 * the report, not part of the pack's repository (it cannot be loaded or checked on this host).
 */
function trtAcceleratorConfig(repo: unknown, precision: string): string | null {
  const r = repo as { models?: Array<{ model: string; precision: string }> } | undefined;
  const base = r?.models?.find((m) => m.precision === 'fp32');
  if (base === undefined) return null;
  const mode = precision.toUpperCase();
  const params: Array<[string, string]> = [
    ['precision_mode', mode],
    ['max_workspace_size_bytes', '1073741824'],
    ['trt_engine_cache_enable', '1'],
    ['trt_engine_cache_path', '/tmp/drivegate-trt-cache'],
    ['trt_timing_cache_enable', '1'],
    ...(precision === 'int8'
      ? ([
          ['int8_calibration_table_name', 'calibration.cache'],
          ['int8_use_native_calibration_table', '1'],
        ] as Array<[string, string]>)
      : []),
  ];
  const text =
    'optimization { execution_accelerators { gpu_execution_accelerator: [ { name: "tensorrt" ' +
    params.map(([k, v]) => `parameters { key: "${k}" value: "${v}" }`).join(' ') +
    ' } ] } }';
  return text;
}

/** trtexec's --minShapes/--optShapes/--maxShapes for the batched inputs of the model repository step's result. */
function shapeFlags(repo: unknown): string {
  const r = repo as { max_batch_size?: number; inputs?: Array<{ name: string; dims: number[] }> } | undefined;
  const max = r?.max_batch_size ?? 0;
  if (r?.inputs === undefined || max <= 0) return '';
  const opt = Math.max(1, Math.min(4, max));
  const spec = (n: number): string =>
    r.inputs?.map((i) => `${i.name}:${[n, ...i.dims].join('x')}`).join(',') ?? '';
  return ` --minShapes=${spec(1)} --optShapes=${spec(opt)} --maxShapes=${spec(max)}`;
}

/** Seals a pack (see the module doc); CONFLICT when the store already holds another pack at that version. */
export async function sealPack(o: SealOptions): Promise<SealResult> {
  const prefix = packRefPrefix(o.recipe.task, o.version);
  const tmp = `${o.out}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await mkdir(tmp, { recursive: true });
  try {
    for (const [packPath, src] of Object.entries(o.files)) {
      if (packPath.endsWith('/')) {
        for (const f of await listFilesRecursive(src)) {
          const dest = join(tmp, packPath, relative(src, f));
          await mkdir(dirname(dest), { recursive: true });
          await copyFile(f, dest);
        }
      } else {
        await copyFile(src, join(tmp, packPath));
      }
    }
    await writeFile(join(tmp, 'recipe.yaml'), o.recipeText);
    const paths = (await listFilesRecursive(tmp)).map((f) => relative(tmp, f).split(sep).join('/')).sort();
    const files: Array<{ path: string; sha256: string; size: number }> = [];
    for (const p of paths) {
      const h = await sha256File(join(tmp, p));
      files.push({ path: p, sha256: h.sha256, size: h.size });
    }
    const lineage = o.recipe.lineage;
    const manifest = {
      schema_version: 1,
      format: 'drivegate.pack/v1',
      model: { task: o.recipe.task, name: o.recipe.model.name, version: o.version },
      files,
      pointers: {
        ...(lineage.git_sha !== undefined ? { git_sha: lineage.git_sha } : {}),
        ...(lineage.dataset !== undefined ? { dataset: lineage.dataset } : {}),
        ...(lineage.training_run !== undefined ? { training_run: lineage.training_run } : {}),
      },
      targets: o.recipe.targets,
      evidence: [{ path: EXPORT_REPORT, kind: 'export', in_digest: false }],
    };
    const bytes = JSON.stringify(manifest, null, 2) + '\n';
    const { digest } = parsePackManifest(bytes, PACK_MANIFEST);
    const existing = await o.store.getRef(`${prefix}${PACK_MANIFEST}`);
    if (existing !== undefined && normalizeDigest(existing) !== digest) {
      throw new DrivegateError(
        'CONFLICT',
        `the store already holds another pack for ${o.recipe.task} ${o.version}`,
        {
          record: `${prefix}${PACK_MANIFEST}`,
          expected: digest,
          found: existing,
        },
      );
    }
    await writeFile(join(tmp, PACK_MANIFEST), bytes);
    const r = o.results;
    const report = {
      kind: 'export',
      schema_version: 1,
      pack: { digest, manifest: PACK_MANIFEST, path: o.out },
      model: manifest.model,
      run_id: o.runId,
      created_at: new Date().toISOString(),
      verdict: 'pass',
      lineage,
      environment: (r['stage'] as { environment?: unknown } | undefined)?.environment ?? null,
      staging: r['stage'] ?? null,
      graph: r['graph-checks'] ?? null,
      sanity_smoke: r['sanity-smoke'] ?? null,
      model_repository: r['model-repository'] ?? null,
      contract_smoke: r['contract-smoke'] ?? null,
      equivalence: r['equivalence'] ?? null,
      torch_export: r['torch-export'] ?? null,
      calibration_shard: r['calibration-shard'] ?? null,
      microbench: {
        note: 'measured on this build host, not on the target; outside the pack digest',
        host: (r['microbench'] as { host?: unknown } | undefined)?.host ?? null,
        figures: r['microbench'] ?? null,
      },
      targets: targetStatus(o.recipe, { fp16: r['fp16'], int8: r['int8'] }),
      precisions: {
        fp32: { status: 'built', file: 'model.onnx', triton_model: o.recipe.model.name },
        fp16: r['fp16'] ?? { status: 'not requested' },
        int8: r['int8'] ?? { status: 'not requested' },
      },
      tensorrt: o.recipe.targets
        .filter((t) => KNOWN_TARGETS[t]?.runtime === 'tensorrt')
        .map((t) => {
          const precision = KNOWN_TARGETS[t]?.precision ?? 'fp32';
          return {
            target: t,
            status: 'pending',
            plan: null,
            reason: KNOWN_TARGETS[t]?.notRunnable ?? '',
            build_command:
              // Without calibration.cache (a QAT int8 variant): explicit quantization of the QDQ model.
              (precision === 'int8' && o.files['calibration.cache'] === undefined
                ? `trtexec --onnx=model.int8.onnx --saveEngine=model.${t}.plan --int8 --fp16`
                : `trtexec --onnx=model.onnx --saveEngine=model.${t}.plan` +
                  (precision === 'fp16'
                    ? ' --fp16'
                    : precision === 'int8'
                      ? ' --int8 --fp16 --calib=calibration.cache'
                      : '')) +
              shapeFlags(o.results['model-repository']) +
              ' --timingCacheFile=timing.cache',
            ...(precision === 'int8'
              ? {
                  calibration_cache: o.files['calibration.cache'] !== undefined ? 'calibration.cache' : null,
                  note:
                    o.files['calibration.cache'] !== undefined
                      ? "implicit quantization of the FP32 model with the pack's calibration.cache; model.int8.onnx (QDQ) also builds with `trtexec --onnx=model.int8.onnx --int8 --fp16` (explicit quantization)"
                      : 'explicit quantization of model.int8.onnx (a QAT QDQ model: no calibration.cache in the pack)',
                }
              : {}),
            triton_onnxruntime_trt_accelerator: {
              note: "alternative to a plan: serve model.onnx through onnxruntime's TensorRT execution accelerator on a GPU instance (instance_group KIND_GPU); add to the model's config.pbtxt",
              config_pbtxt: trtAcceleratorConfig(o.results['model-repository'], precision),
            },
          };
        }),
    };
    await writeFile(join(tmp, EXPORT_REPORT), JSON.stringify(report, null, 2) + '\n');
    // The output folder must be replaceable before anything goes into the store.
    const outExists = await checkOutFolder(o.out);
    // Into the store: blobs first, then refs, the manifest ref last. A failure on the way (the
    // store, or the folder's rename) puts every ref this seal moved back as it was.
    const moved: Array<{ name: string; before: string | undefined }> = [];
    const setRef = async (name: string, to: string): Promise<void> => {
      moved.push({ name, before: await o.store.getRef(name) });
      await o.store.setRef(name, to);
    };
    try {
      for (const f of files) {
        await o.store.putFile(join(tmp, f.path));
        await setRef(`${prefix}${f.path}`, `sha256:${f.sha256}`);
      }
      const rep = await o.store.putFile(join(tmp, EXPORT_REPORT));
      await setRef(`${prefix}${EXPORT_REPORT}`, rep.digest);
      await o.store.put(bytes);
      await setRef(`${prefix}${PACK_MANIFEST}`, digest);
      await replaceFolder(tmp, o.out, outExists);
    } catch (err) {
      await restoreRefs(o.store, moved);
      throw err;
    }
    return { digest, path: o.out, files: files.length, refs: prefix };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Refuses (CONFLICT) an output path that exists and is not an earlier pack; true when it exists. */
async function checkOutFolder(out: string): Promise<boolean> {
  const st = await stat(out).catch(() => undefined);
  if (st === undefined) return false;
  if (!st.isDirectory() || !(await stat(join(out, PACK_MANIFEST)).catch(() => undefined))) {
    throw new DrivegateError('CONFLICT', 'the output folder exists and is not a pack', {
      file: out,
      expected: 'a missing folder or an earlier pack (with manifest.json)',
      found: 'another file or folder',
    });
  }
  return true;
}

/**
 * Puts refs back as they were before a failed seal, last moved first (a ref that did not exist is
 * deleted). Best effort: a failure here is reported with the seal's own error, which is kept.
 */
async function restoreRefs(
  store: ArtifactStore,
  moved: ReadonlyArray<{ name: string; before: string | undefined }>,
): Promise<void> {
  for (const m of [...moved].reverse()) {
    try {
      if (m.before === undefined) await store.deleteRef(m.name);
      else await store.setRef(m.name, m.before);
    } catch {
      // the store is failing: fsck/verify reports what is left; the seal's error is what the caller sees
    }
  }
}

/** Renames the built pack into place; an earlier pack at `out` (checked by checkOutFolder) is replaced. */
async function replaceFolder(tmp: string, out: string, outExists: boolean): Promise<void> {
  if (!outExists) {
    await rename(tmp, out);
    return;
  }
  const old = `${out}.old-${process.pid}-${randomBytes(4).toString('hex')}`;
  await rename(out, old);
  await rename(tmp, out);
  await rm(old, { recursive: true, force: true });
}

/** The result of verifying a pack. */
export interface VerifyResult extends IntegrityResult {
  digest: string;
  manifest: PackManifest;
}

/**
 * Re-hashes a pack (a folder, or a manifest digest in the store) against its manifest. A folder's
 * export_report.json must name the same pack digest. Never throws for a mismatch: see `problems`.
 */
export async function verifyPack(target: string, store: ArtifactStore | undefined): Promise<VerifyResult> {
  if (await isFolder(target)) {
    const { manifest, digest } = await readPackFolder(target);
    const r = await verifyPackFiles(manifest, { kind: 'folder', path: target }, store);
    const reportPath = join(target, EXPORT_REPORT);
    const report = await readFile(reportPath, 'utf8').catch(() => undefined);
    if (report !== undefined) {
      let named: unknown;
      try {
        named = (JSON.parse(report) as { pack?: { digest?: unknown } }).pack?.digest;
      } catch {
        named = 'not JSON';
      }
      if (named !== digest) {
        r.problems.push({ path: EXPORT_REPORT, expected: `evidence for ${digest}`, found: String(named) });
        r.ok = false;
      }
    }
    return { ...r, digest, manifest };
  }
  if (!looksLikeDigest(target)) {
    throw new DrivegateError('BAD_INPUT', 'not a pack folder or a manifest digest', {
      file: target,
      expected: 'a folder holding manifest.json, or sha256:<hex> of a manifest in the store',
      found: 'neither',
    });
  }
  const digest = normalizeDigest(target);
  if (store === undefined || !(await store.has(digest))) {
    throw new DrivegateError('NOT_FOUND', 'no such manifest in the store', { record: digest });
  }
  const bytes = await store.get(digest);
  const { manifest } = parsePackManifest(bytes, digest);
  const r = await verifyPackFiles(manifest, { kind: 'store' }, store);
  return { ...r, digest, manifest };
}

/** Hex sha256 of bytes, as `sha256:<hex>` (the pack digest of manifest bytes). */
export function packDigestOf(bytes: Uint8Array | string): string {
  return `sha256:${sha256(bytes)}`;
}
