/**
 * What drives perception in a sweep: an ONNX model with its inference config (the file's own
 * `<name>.inference_config.json`), a sealed pack (a folder, verified against its manifest, or a
 * manifest digest in the workspace store, verified and unpacked into the workspace cache), or
 * ground truth. Everything is checked before a run starts: the model opens in onnxruntime and
 * matches its config, a pack's files match their sha256.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { sha256File } from '../../core/digest.js';
import { digestOf } from '../../core/digest.js';
import { DrivegateError, badInput } from '../../core/errors.js';
import { exists, tempPathFor } from '../../core/fsutil.js';
import {
  isFolder,
  packModelFile,
  parsePackManifest,
  readPackFolder,
  verifyPackFiles,
} from '../../registry/pack.js';
import type { IntegrityResult, PackManifest, PackPrecision } from '../../registry/pack.js';
import { openOrtSession, sessionIO } from '../../runtime/ort.js';
import { checkModelIO, resolveModel } from '../../runtime/resolve.js';
import type { ArtifactStore } from '../../store/types.js';
import type { PerceptionSpec } from '../types.js';

/** The perception of one side of a sweep, resolved and checked. */
export interface ResolvedPerception {
  spec: PerceptionSpec;
  /** How outputs name it: 'ground-truth', the model file's stem, or `<name>@<version>` of a pack. */
  label: string;
  /** The model's identity: the pack digest, or sha256 of the model and config files; null for ground truth. */
  digest: string | null;
  /** What the user named (for messages). */
  source: string;
}

/** The value that selects ground-truth perception (`--perception ground-truth`, `--baseline ground-truth`). */
export const GROUND_TRUTH = 'ground-truth';

/** Ground-truth perception. */
export function groundTruth(): ResolvedPerception {
  return { spec: { kind: 'ground-truth' }, label: GROUND_TRUTH, digest: null, source: GROUND_TRUTH };
}

/** Opens the model once to check it loads and fits its config (BAD_INPUT naming the file otherwise). */
async function checkModel(modelPath: string, configPath: string): Promise<void> {
  const { config } = resolveModel(modelPath, configPath);
  const session = await openOrtSession(modelPath, { intraOpThreads: 1 });
  try {
    checkModelIO(sessionIO(session), config, modelPath);
  } finally {
    await session.release();
  }
}

/** An ONNX model file with the inference config beside it. */
export async function modelFile(path: string): Promise<ResolvedPerception> {
  const m = resolveModel(path);
  await checkModel(m.modelPath, m.configPath);
  const [a, b] = await Promise.all([sha256File(m.modelPath), sha256File(m.configPath)]);
  return {
    spec: {
      kind: 'model',
      modelPath: m.modelPath,
      configPath: m.configPath,
      label: basename(m.modelPath).replace(/\.onnx$/i, ''),
    },
    label: basename(m.modelPath).replace(/\.onnx$/i, ''),
    digest: `sha256:${digestOf({ model: a.sha256, config: b.sha256 })}`,
    source: path,
  };
}

const MODEL_FILE = packModelFile('fp32');
const CONFIG_FILE = 'inference_config.json';

/** The model variants a pack ships (docs/packaging.md): which one of them drives perception. */
export const PACK_PRECISIONS: readonly PackPrecision[] = ['fp32', 'fp16', 'int8'];
export type { PackPrecision };

/** How outputs name a pack run at a precision: `name@version`, plus `:int8` / `:fp16` for a variant. */
function packLabel(manifest: PackManifest, precision: PackPrecision): string {
  const base = `${manifest.model.name}@${manifest.model.version}`;
  return precision === 'fp32' ? base : `${base}:${precision}`;
}

function integrityError(what: string, r: IntegrityResult): DrivegateError {
  const p = r.problems[0]!;
  return new DrivegateError('INTEGRITY', `the pack does not verify (${r.problems.length} problem(s))`, {
    file: what,
    record: p.path,
    expected: p.expected,
    found: p.found,
  });
}

function packFiles(
  manifest: PackManifest,
  where: string,
  precision: PackPrecision,
): { model: string; config: string } {
  const model = packModelFile(precision);
  for (const name of [model, CONFIG_FILE]) {
    if (!manifest.files.some((f) => f.path === name)) {
      const variants = PACK_PRECISIONS.filter((p) => manifest.files.some((f) => f.path === packModelFile(p)));
      throw badInput(`the pack has no ${name}`, {
        file: where,
        field: 'files',
        expected:
          name === model && name !== MODEL_FILE
            ? `${name} for --precision ${precision} (this pack has: ${variants.join(', ') || 'no model'})`
            : `${MODEL_FILE} and ${CONFIG_FILE} at the pack's top level`,
        found: manifest.files
          .map((f) => f.path)
          .slice(0, 8)
          .join(', '),
      });
    }
  }
  return { model, config: CONFIG_FILE };
}

/** A pack folder, verified file by file against its manifest. */
export async function packFolder(
  dir: string,
  precision: PackPrecision = 'fp32',
): Promise<ResolvedPerception> {
  const { manifest, digest } = await readPackFolder(dir);
  const f = packFiles(manifest, join(dir, 'manifest.json'), precision);
  const r = await verifyPackFiles(manifest, { kind: 'folder', path: dir }, undefined);
  if (!r.ok) throw integrityError(dir, r);
  const modelPath = join(dir, f.model);
  const configPath = join(dir, f.config);
  await checkModel(modelPath, configPath);
  const label = packLabel(manifest, precision);
  return { spec: { kind: 'model', modelPath, configPath, label }, label, digest, source: dir };
}

/**
 * A pack in the store by manifest digest: verified in the store, then its model and config copied
 * into `cacheDir/sim-packs/<hex>/` (once; atomically) for the workers to open.
 */
export async function packDigest(
  ref: string,
  store: ArtifactStore,
  cacheDir: string,
  precision: PackPrecision = 'fp32',
): Promise<ResolvedPerception> {
  const digest = ref.startsWith('sha256:') ? ref : `sha256:${ref}`;
  if (!(await store.has(digest))) {
    throw new DrivegateError('NOT_FOUND', 'no such pack manifest in the store', {
      record: digest,
      expected: 'the digest of a sealed pack (drivegate package prints it)',
    });
  }
  const { manifest } = parsePackManifest(await store.get(digest), digest);
  const r = await verifyPackFiles(manifest, { kind: 'store' }, store);
  if (!r.ok) throw integrityError(digest, r);
  const f = packFiles(manifest, digest, precision);
  const dir = join(cacheDir, 'sim-packs', digest.slice('sha256:'.length));
  // the cache holds the files this and earlier sweeps needed, each renamed into place complete
  await mkdir(dir, { recursive: true });
  for (const name of [f.model, f.config]) {
    const dest = join(dir, name);
    if (await exists(dest)) continue;
    const entry = manifest.files.find((x) => x.path === name)!;
    const tmp = tempPathFor(dest);
    try {
      await store.getToFile(`sha256:${entry.sha256}`, tmp);
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      if (!(await exists(dest))) throw err;
    }
  }
  const modelPath = join(dir, f.model);
  const configPath = join(dir, f.config);
  await checkModel(modelPath, configPath);
  const label = `${manifest.model.name}@${manifest.model.version}`;
  return { spec: { kind: 'model', modelPath, configPath, label }, label, digest, source: ref };
}

/** True when a reference looks like a pack manifest digest. */
export function isDigestRef(ref: string): boolean {
  return /^(sha256:)?[0-9a-f]{64}$/.test(ref);
}

/**
 * Resolves `--baseline`'s value: `ground-truth`, an .onnx file, a pack folder, or a pack digest
 * (`openStore` is called only for a digest).
 */
export async function resolveModelRef(
  ref: string,
  openStore: () => Promise<{ store: ArtifactStore; cacheDir: string }>,
  precision: PackPrecision = 'fp32',
): Promise<ResolvedPerception> {
  const pack = ref !== GROUND_TRUTH && ((await isFolder(ref)) || isDigestRef(ref));
  if (precision !== 'fp32' && !pack) {
    throw new DrivegateError('USAGE', `--precision ${precision} selects a variant of a pack`, {
      expected: 'a pack folder or digest (an .onnx file or ground truth has one precision)',
      found: ref,
    });
  }
  if (ref === GROUND_TRUTH) return groundTruth();
  if (await isFolder(ref)) return packFolder(ref, precision);
  if (isDigestRef(ref)) {
    const { store, cacheDir } = await openStore();
    return packDigest(ref, store, cacheDir, precision);
  }
  return modelFile(ref);
}
