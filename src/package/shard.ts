/**
 * The calibration shard of a packaging run: a JSON-lines image manifest (the reference world's
 * golden_*.manifest format, or any manifest whose records carry `image` and the balancing fields),
 * a balancing rule (equal counts per combination of the `balance` fields, e.g. weather x
 * time_of_day), a count and a seed. Selection is pure and deterministic; reading the manifest,
 * checking that every selected image exists and matches its sha256, generating the reference world
 * on first use and pre-processing the images are the I/O edges.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { canonicalJson, sha256 } from '../core/digest.js';
import { DrivegateError, badInput } from '../core/errors.js';
import { exists } from '../core/fsutil.js';
import { mulberry32 } from '../core/random.js';
import type { InferenceConfig } from '../runtime/config.js';
import { decodePng, preprocessInto } from '../runtime/preprocess.js';
import type { ImageTransform } from '../runtime/preprocess.js';
import { generateDataset } from '../world/dataset.js';
import { parseWeights } from '../world/weights.js';
import type { Recipe } from './recipe.js';

/** One manifest record as the shard needs it: its line, image path (as written) and fields. */
export interface ManifestEntry {
  line: number;
  image: string;
  sha256?: string;
  fields: Record<string, unknown>;
}

/** One image of the shard. */
export interface ShardImage {
  /** 1-based line of the record in the manifest. */
  line: number;
  /** The image path as the manifest writes it (relative to the manifest's folder unless absolute). */
  image: string;
  sha256: string | null;
  /** The stratum key, e.g. "weather=fog,time_of_day=night". */
  stratum: string;
}

/** A selected shard: the images and how the balancing rule came out. */
export interface Shard {
  manifest: string;
  count: number;
  balance: string[];
  seed: number;
  images: ShardImage[];
  /** Per stratum: records available, quota, taken. */
  strata: Record<string, { available: number; quota: number; taken: number }>;
  /** Strata that had fewer records than their equal share (the deficit went to others, round-robin). */
  shortfall: string[];
  /** sha256 of the canonical JSON of the selected images (line, image, sha256). */
  digest: string;
}

/** Parses a JSON-lines manifest; BAD_INPUT naming the file and line for a bad record. */
export function parseManifest(text: string, file: string): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const lineText = raw.trim();
    if (lineText === '') return;
    let v: unknown;
    try {
      v = JSON.parse(lineText);
    } catch {
      throw badInput('a manifest line is not JSON', {
        file,
        line: i + 1,
        expected: 'one JSON object per line',
        found: lineText.length > 60 ? `${lineText.slice(0, 57)}...` : lineText,
      });
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw badInput('a manifest record is not an object', {
        file,
        line: i + 1,
        expected: 'a JSON object',
        found: typeof v,
      });
    }
    const rec = v as Record<string, unknown>;
    if (typeof rec['image'] !== 'string' || rec['image'] === '') {
      throw badInput('a manifest record has no image path', {
        file,
        line: i + 1,
        field: 'image',
        expected: 'a string path',
        found: JSON.stringify(rec['image'] ?? null),
      });
    }
    out.push({
      line: i + 1,
      image: rec['image'],
      ...(typeof rec['sha256'] === 'string' ? { sha256: rec['sha256'] } : {}),
      fields: rec,
    });
  });
  return out;
}

/**
 * Selects `count` records with equal counts per stratum (the combination of the `balance` fields'
 * values): strata sorted by key get floor(count/S) each and the first count mod S one more; a
 * stratum with fewer records gives its deficit round-robin to strata with spare ones. Within a
 * stratum records are drawn by a seeded shuffle. The result lists images in manifest order. Pure.
 */
export function selectShard(
  entries: readonly ManifestEntry[],
  opts: { count: number; balance: readonly string[]; seed: number; manifest: string },
): Shard {
  const groups = new Map<string, ManifestEntry[]>();
  for (const e of entries) {
    const key = opts.balance
      .map((f) => {
        const v = e.fields[f];
        if (v === undefined || v === null || typeof v === 'object') {
          throw badInput(`a manifest record lacks the balancing field '${f}'`, {
            file: opts.manifest,
            line: e.line,
            field: f,
            expected: 'a string or number value (calibration.balance names it)',
            found: JSON.stringify(v ?? null),
          });
        }
        return `${f}=${String(v)}`;
      })
      .join(',');
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [e]);
    else g.push(e);
  }
  const keys = [...groups.keys()].sort();
  const total = Math.min(opts.count, entries.length);
  const quota = new Map<string, number>();
  keys.forEach((k, i) => {
    quota.set(k, Math.floor(total / keys.length) + (i < total % keys.length ? 1 : 0));
  });
  const take = new Map<string, number>(
    keys.map((k) => [k, Math.min(quota.get(k) ?? 0, groups.get(k)?.length ?? 0)]),
  );
  let deficit = total - [...take.values()].reduce((a, b) => a + b, 0);
  while (deficit > 0) {
    let moved = false;
    for (const k of keys) {
      if (deficit === 0) break;
      const t = take.get(k) ?? 0;
      if (t < (groups.get(k)?.length ?? 0)) {
        take.set(k, t + 1);
        deficit--;
        moved = true;
      }
    }
    if (!moved) break;
  }
  const chosen: Array<{ e: ManifestEntry; stratum: string }> = [];
  const strata: Shard['strata'] = {};
  const shortfall: string[] = [];
  for (const [i, k] of keys.entries()) {
    const g = [...(groups.get(k) ?? [])];
    const rand = mulberry32((opts.seed * 1000003 + i) >>> 0);
    for (let j = g.length - 1; j > 0; j--) {
      const r = Math.floor(rand() * (j + 1));
      [g[j], g[r]] = [g[r] as ManifestEntry, g[j] as ManifestEntry];
    }
    const n = take.get(k) ?? 0;
    for (const e of g.slice(0, n)) chosen.push({ e, stratum: k });
    const q = quota.get(k) ?? 0;
    strata[k] = { available: g.length, quota: q, taken: n };
    if (g.length < q) shortfall.push(k);
  }
  chosen.sort((a, b) => a.e.line - b.e.line);
  const images = chosen.map(({ e, stratum }) => ({
    line: e.line,
    image: e.image,
    sha256: e.sha256 ?? null,
    stratum,
  }));
  return {
    manifest: opts.manifest,
    count: images.length,
    balance: [...opts.balance],
    seed: opts.seed,
    images,
    strata,
    shortfall,
    digest: `sha256:${sha256(canonicalJson(images.map((x) => [x.line, x.image, x.sha256])))}`,
  };
}

/** The file of a shard image (relative paths resolve against the manifest's folder). */
export function shardImagePath(shard: Pick<Shard, 'manifest'>, img: Pick<ShardImage, 'image'>): string {
  return resolve(dirname(shard.manifest), img.image);
}

/**
 * Checks that every image of the shard exists and (when the manifest gives one) matches its sha256.
 * BAD_INPUT naming the manifest, the record's line and the image file otherwise.
 */
export async function verifyShardImages(shard: Shard): Promise<void> {
  for (const img of shard.images) {
    const file = shardImagePath(shard, img);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw badInput(`calibration image ${img.image} is missing`, {
        file: shard.manifest,
        line: img.line,
        record: img.image,
        field: 'image',
        expected: `a readable image file at ${file}`,
        found: String((err as NodeJS.ErrnoException).code ?? err),
      });
    }
    if (img.sha256 !== null) {
      const got = createHash('sha256').update(bytes).digest('hex');
      if (got !== img.sha256.replace(/^sha256:/, '')) {
        throw badInput(`calibration image ${img.image} does not match its manifest sha256`, {
          file: shard.manifest,
          line: img.line,
          record: img.image,
          field: 'sha256',
          expected: img.sha256,
          found: got,
        });
      }
    }
  }
}

/** Reads a manifest file and selects the recipe's shard from it (BAD_INPUT for an unreadable manifest). */
export async function loadShard(
  manifest: string,
  opts: { count: number; balance: readonly string[]; seed: number },
): Promise<Shard> {
  let text: string;
  try {
    text = await readFile(manifest, 'utf8');
  } catch (err) {
    throw badInput('cannot read the calibration manifest', {
      file: manifest,
      expected: 'a JSON-lines image manifest',
      found: String((err as NodeJS.ErrnoException).code ?? err),
    });
  }
  const entries = parseManifest(text, manifest);
  if (entries.length === 0) {
    throw badInput('the calibration manifest has no records', {
      file: manifest,
      expected: 'at least one image record',
      found: 'none',
    });
  }
  return selectShard(entries, { ...opts, manifest });
}

/** The reference-world settings of a recipe's calibration block. */
export type WorldSpec = NonNullable<NonNullable<Recipe['calibration']>['world']>;

/** The workspace folder of a reference world: <worldsDir>/reference-<first 16 hex of its settings' sha256>. */
export function worldFolder(worldsDir: string, w: WorldSpec): string {
  return join(worldsDir, `reference-${sha256(canonicalJson(w)).slice(0, 16)}`);
}

/**
 * The manifest of the recipe's reference world, generating the world into `worldsDir` first when it
 * is not there yet (atomically: a reader sees no world or a whole one). Logs how long that took.
 */
export async function ensureReferenceWorld(
  worldsDir: string,
  w: WorldSpec,
  recipeFile: string,
  log: (msg: string) => void = () => undefined,
): Promise<string> {
  const dir = worldFolder(worldsDir, w);
  const manifest = join(dir, `golden_${w.split}.manifest`);
  if (await exists(join(dir, 'dataset.json'))) return manifest;
  let weights;
  try {
    weights =
      w.weights !== undefined ? parseWeights([w.weights], undefined, 'calibration.world.weights') : undefined;
  } catch (err) {
    throw badInput('bad calibration.world.weights', {
      file: recipeFile,
      field: 'calibration.world.weights',
      expected: "world generate --weights syntax, e.g. 'weather=clear:1,rain:1'",
      found: err instanceof DrivegateError ? (err.found ?? err.message) : String(err),
    });
  }
  log(
    `generating the reference world for the calibration shard (${w.scenes} scenes x ${w.frames_per_scene} frames) into ${dir}`,
  );
  const t0 = performance.now();
  try {
    await generateDataset({
      out: dir,
      scenes: w.scenes,
      framesPerScene: w.frames_per_scene,
      seed: w.seed,
      ...(weights !== undefined ? { weights } : {}),
    });
  } catch (err) {
    // Another run generated it meanwhile: use theirs.
    if (
      err instanceof DrivegateError &&
      err.code === 'CONFLICT' &&
      (await exists(join(dir, 'dataset.json')))
    ) {
      return manifest;
    }
    throw err;
  }
  log(`reference world ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return manifest;
}

/** Pre-processed shard images: one NCHW float32 buffer per image, and its transform. */
export interface ShardTensors {
  dims: [number, number, number];
  images: Float32Array[];
  transforms: ImageTransform[];
}

/** Reads and pre-processes the first `limit` shard images with the inference config (runtime/preprocess.ts). */
export function preprocessShard(
  shard: Shard,
  cfg: InferenceConfig,
  limit = shard.images.length,
): ShardTensors {
  const per = 3 * cfg.input.height * cfg.input.width;
  const images: Float32Array[] = [];
  const transforms: ImageTransform[] = [];
  for (const img of shard.images.slice(0, limit)) {
    const file = shardImagePath(shard, img);
    const data = new Float32Array(per);
    transforms.push(preprocessInto(decodePng(readFileSync(file), file), cfg, data, 0));
    images.push(data);
  }
  return { dims: [3, cfg.input.height, cfg.input.width], images, transforms };
}
