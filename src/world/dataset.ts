/**
 * Dataset export of the reference world: N scenes of K frames rendered to PNG, with COCO annotation
 * files, JSON-lines manifests and the slice definitions, split by scene into train/val/test.
 *
 * The output is written to a temp folder beside the target and renamed into place at the end, so a
 * reader sees no dataset or a complete one. Scenes are exported in parallel by worker threads; each
 * scene's content depends only on the root seed and its index, and everything that spans scenes
 * (timelines, splits, ids, files) is assembled in scene order by the main thread, so the bytes of
 * the output do not depend on the number of workers.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { stringify as toYaml } from 'yaml';
import { sha256 } from '../core/digest.js';
import { DrivegateError } from '../core/errors.js';
import { exists } from '../core/fsutil.js';
import type { CocoAnnotation, CocoCategory, CocoDataset, CocoImage } from './coco.js';
import { boxPolygon } from './coco.js';
import { DEFAULT_ANNOTATION_RULES, SEMANTIC_LEGEND, exportScene, sceneJsonPath } from './export-scene.js';
import type { AnnotationRules, SceneJob, SceneResult } from './export-scene.js';
import type { WorkerReply, WorkerRequest } from './gen-worker.js';
import { deriveSeed, normalizeSeed } from './random.js';
import { drawAttributes } from './scene.js';
import { matchesImage, matchesObject, standardSlices } from './slices.js';
import type { SliceSpec } from './slices.js';
import { DEFAULT_SPLIT_RATIOS, SPLITS, assignSplits } from './splits.js';
import type { SplitName, SplitRatios } from './splits.js';
import { isoTime, planTimeline } from './timeline.js';
import { ACTOR_CLASSES, DETECTOR_CATEGORIES } from './types.js';
import { defaultWeights, formatWeights } from './weights.js';
import type { ConditionWeights } from './weights.js';

/** Options of generateDataset (CLI option names in brackets). */
export interface DatasetOptions {
  /** Output folder [--out]; must not exist unless `overwrite`. */
  out: string;
  /** Number of scenes N [--scenes], default 20. */
  scenes?: number;
  /** Frames per scene K [--frames-per-scene], default 10. */
  framesPerScene?: number;
  /** Root seed [--seed], default 0. */
  seed?: number | string;
  /** Seconds between a scene's frames [--frame-interval], default 0.5 (2 Hz). */
  frameInterval?: number;
  /** Split shares [--split], default train 0.7, val 0.15, test 0.15. */
  splitRatios?: SplitRatios;
  /** Draw weights of weather, time of day, road type, region [--weights]; default DEFAULT_WEIGHTS. */
  weights?: ConditionWeights;
  /** Image size [--resolution], default 192 x 96. */
  width?: number;
  height?: number;
  /** Scenes of one region closer in time than this stay in one split [--min-gap-seconds]; default 0 (off). */
  minGapSeconds?: number;
  /** No geo cell in two splits [--geo-separation]; default false. */
  geoSeparation?: boolean;
  /** Export the unknown class as COCO category 5 [--include-unknown]; default false. */
  includeUnknown?: boolean;
  /** Probability that a scene holds an unknown object [--unknown-rate]; default 0.1. */
  unknownRate?: number;
  /** Worker threads [--workers]; default min(2, cores); 0 exports in this thread. */
  workers?: number;
  /** Replace an existing output folder [--overwrite]; default false. */
  overwrite?: boolean;
  /** Annotation thresholds; default DEFAULT_ANNOTATION_RULES. */
  rules?: Partial<AnnotationRules>;
  /** Called after each scene is exported (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** Per-split counts. */
export interface SplitSummary {
  scenes: number;
  images: number;
  annotations: number;
  crowds: number;
  coco: string;
  manifest: string;
  /** TuSimple-style lane file. */
  lanes: string;
}

/** What generateDataset produced. */
export interface DatasetSummary {
  out: string;
  seed: number;
  scenes: number;
  frames: number;
  width: number;
  height: number;
  splits: Record<SplitName, SplitSummary>;
  /** Objects per category name over all splits (annotations, crowds excluded). */
  objects: Record<string, number>;
  /** Objects present but not annotated, by reason. */
  skipped: Record<string, number>;
  /** sha256 of dataset.json (which lists the digest of every index file). */
  digest: string;
  /** Wall-clock seconds and worker count (not part of the written output). */
  seconds: number;
  workers: number;
}

/** A manifest record (one JSON line per image). */
export interface ManifestRecord {
  image: string;
  image_id: number;
  scene_id: string;
  frame: number;
  timestamp: string;
  unix_time: number;
  split: SplitName;
  weather: string;
  time_of_day: string;
  road_type: string;
  region: string;
  geo_cell: string;
  sha256: string;
  width: number;
  height: number;
  mask: string;
  mask_sha256: string;
  objects: Record<string, number>;
}

function usage(option: string, message: string, expected: string, found: unknown): DrivegateError {
  return new DrivegateError('USAGE', message, { field: option, expected, found: JSON.stringify(found) });
}

function needInt(option: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max)
    throw usage(option, 'bad value', `an integer in ${min}..${max}`, v);
  return v;
}

function needNumber(option: string, v: number, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw usage(option, 'bad value', `a number in ${min}..${max}`, v);
  }
  return v;
}

interface Resolved {
  out: string;
  scenes: number;
  frames: number;
  seed: number;
  frameInterval: number;
  ratios: SplitRatios;
  weights: ConditionWeights;
  width: number;
  height: number;
  minGapSeconds: number;
  geoSeparation: boolean;
  includeUnknown: boolean;
  unknownRate: number;
  workers: number;
  overwrite: boolean;
  rules: AnnotationRules;
  onProgress: ((done: number, total: number) => void) | undefined;
}

function resolveOptions(o: DatasetOptions): Resolved {
  if (typeof o.out !== 'string' || o.out.trim() === '')
    throw usage('--out', 'missing output folder', 'a path', o.out);
  const ratios = o.splitRatios ?? DEFAULT_SPLIT_RATIOS;
  for (const s of SPLITS) needNumber('--split', ratios[s], 0, 1e9);
  if (!(SPLITS.reduce((a, s) => a + ratios[s], 0) > 0))
    throw usage('--split', 'ratios sum to 0', 'a positive sum', ratios);
  let seed: number;
  try {
    seed = normalizeSeed(o.seed ?? 0);
  } catch {
    throw usage('--seed', 'bad seed', 'a safe integer', o.seed);
  }
  return {
    out: resolve(o.out),
    scenes: needInt('--scenes', o.scenes ?? 20, 1, 1_000_000),
    frames: needInt('--frames-per-scene', o.framesPerScene ?? 10, 1, 10_000),
    seed,
    frameInterval: needNumber('--frame-interval', o.frameInterval ?? 0.5, 0.01, 3600),
    ratios,
    weights: o.weights ?? defaultWeights(),
    width: needInt('--resolution', o.width ?? 192, 16, 4096),
    height: needInt('--resolution', o.height ?? 96, 16, 4096),
    minGapSeconds: needNumber('--min-gap-seconds', o.minGapSeconds ?? 0, 0, 1e9),
    geoSeparation: o.geoSeparation ?? false,
    includeUnknown: o.includeUnknown ?? false,
    unknownRate: needNumber('--unknown-rate', o.unknownRate ?? 0.1, 0, 1),
    workers: needInt('--workers', o.workers ?? Math.min(2, availableParallelism()), 0, 64),
    overwrite: o.overwrite ?? false,
    rules: { ...DEFAULT_ANNOTATION_RULES, ...(o.rules ?? {}) },
    onProgress: o.onProgress,
  };
}

/**
 * Starts a generation worker. From compiled code this is dist/.../gen-worker.js. When this module
 * runs as TypeScript under tsx, a worker does not inherit tsx's module hooks (Node 20 ignores
 * `--import` hooks for worker threads), so a small bootstrap registers tsx in the worker first and
 * then imports gen-worker.ts.
 */
function startWorker(): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./gen-worker.js', here));
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./gen-worker.ts', here).href;
  const boot =
    `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })` +
    `.catch((e) => { console.error(e); process.exit(70); });`;
  return new Worker(boot, { eval: true });
}

/** Exports the jobs with `workers` worker threads (0: in this thread); results in job order. */
async function runJobs(
  jobs: readonly SceneJob[],
  workers: number,
  onProgress?: (done: number, total: number) => void,
): Promise<SceneResult[]> {
  const results: SceneResult[] = new Array<SceneResult>(jobs.length);
  if (workers === 0 || jobs.length === 0) {
    jobs.forEach((job, i) => {
      results[i] = exportScene(job);
      onProgress?.(i + 1, jobs.length);
    });
    return results;
  }
  const pool = Array.from({ length: Math.min(workers, jobs.length) }, () => startWorker());
  let next = 0;
  let done = 0;
  try {
    await new Promise<void>((resolvePromise, reject) => {
      let failed = false;
      const fail = (err: unknown): void => {
        if (failed) return;
        failed = true;
        reject(err);
      };
      const feed = (w: Worker): void => {
        if (next >= jobs.length) return;
        const msg: WorkerRequest = { type: 'job', job: jobs[next++] as SceneJob };
        w.postMessage(msg);
      };
      for (const w of pool) {
        w.on('message', (reply: WorkerReply) => {
          if (reply.type === 'error') {
            fail(new DrivegateError('INTERNAL', `scene ${reply.index} failed in a worker: ${reply.message}`));
            return;
          }
          results[reply.result.index] = reply.result;
          done++;
          onProgress?.(done, jobs.length);
          if (done === jobs.length) resolvePromise();
          else feed(w);
        });
        w.on('error', (err) =>
          fail(new DrivegateError('INTERNAL', `generation worker failed: ${err.message}`, { cause: err })),
        );
        w.on('exit', (code) => {
          if (done < jobs.length)
            fail(new DrivegateError('INTERNAL', `generation worker exited early (code ${code})`));
        });
        feed(w);
      }
    });
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results;
}

function countBy<T>(items: readonly T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const it of items) out[key(it)] = (out[key(it)] ?? 0) + 1;
  return out;
}

/**
 * Generates a dataset of the reference world into `options.out` and returns a summary. Bad option
 * values give a USAGE error naming the option; an existing output folder gives CONFLICT (unless
 * `overwrite`). The same options give byte-identical output, whatever the worker count.
 */
export async function generateDataset(options: DatasetOptions): Promise<DatasetSummary> {
  const t0 = performance.now();
  const o = resolveOptions(options);
  if ((await exists(o.out)) && !o.overwrite) {
    throw new DrivegateError('CONFLICT', 'output folder already exists (use --overwrite to replace it)', {
      file: o.out,
      field: '--out',
    });
  }
  const parent = dirname(o.out);
  const tmp = join(parent, `.${basename(o.out)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await fs.mkdir(parent, { recursive: true });
    await fs.mkdir(tmp);
  } catch (err) {
    throw new DrivegateError('BAD_INPUT', `cannot create the output folder: ${(err as Error).message}`, {
      file: o.out,
      field: '--out',
      cause: err,
    });
  }
  try {
    const summary = await writeDataset(o, tmp);
    if (await exists(o.out)) {
      const old = join(parent, `.${basename(o.out)}.old-${process.pid}-${randomBytes(4).toString('hex')}`);
      await fs.rename(o.out, old);
      await fs.rename(tmp, o.out);
      await fs.rm(old, { recursive: true, force: true });
    } else {
      await fs.rename(tmp, o.out);
    }
    return { ...summary, out: o.out, seconds: (performance.now() - t0) / 1000, workers: o.workers };
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

async function writeDataset(o: Resolved, root: string): Promise<Omit<DatasetSummary, 'seconds' | 'workers'>> {
  const sceneSeeds = Array.from({ length: o.scenes }, (_, i) => deriveSeed(o.seed, i));
  const attributes = sceneSeeds.map((s) => drawAttributes(s, o.weights));
  const duration = o.frames * o.frameInterval;
  const places = planTimeline(o.seed, attributes, duration);
  const splitOf = assignSplits(
    places.map((p, i) => ({ ...p, region: (attributes[i] as (typeof attributes)[number]).region })),
    o.ratios,
    { minGapSeconds: o.minGapSeconds, geoSeparation: o.geoSeparation },
    o.seed,
  );
  const width = String(o.scenes - 1).length;
  const jobs: SceneJob[] = sceneSeeds.map((seed, i) => ({
    index: i,
    sceneId: `scene-${String(i).padStart(Math.max(5, width), '0')}`,
    seed,
    root,
    frames: o.frames,
    frameInterval: o.frameInterval,
    width: o.width,
    height: o.height,
    weights: o.weights,
    unknownRate: o.unknownRate,
    includeUnknown: o.includeUnknown,
    rules: o.rules,
    start: (places[i] as (typeof places)[number]).start,
    geoCell: (places[i] as (typeof places)[number]).geoCell,
    split: splitOf[i] as SplitName,
    firstImageId: i * o.frames + 1,
  }));
  const results = await runJobs(jobs, o.workers, o.onProgress);

  const categories: CocoCategory[] = DETECTOR_CATEGORIES.map((c) => ({ ...c }));
  if (o.includeUnknown) categories.push({ id: 5, name: 'unknown', supercategory: 'unknown' });
  const categoryName = (id: number): string => ACTOR_CLASSES[id - 1] ?? String(id);

  const earliest = places.reduce((m, p) => Math.min(m, p.start), Infinity);
  const files: Record<string, string> = {};
  const splits = {} as Record<
    SplitName,
    { summary: DatasetSummary['splits'][SplitName]; manifest: ManifestRecord[]; coco: CocoDataset }
  >;
  let annId = 1;
  for (const split of SPLITS) {
    const images: CocoImage[] = [];
    const annotations: CocoAnnotation[] = [];
    const manifest: ManifestRecord[] = [];
    let scenes = 0;
    for (const r of results) {
      const job = jobs[r.index] as SceneJob;
      if (job.split !== split) continue;
      scenes++;
      for (const f of r.frames) {
        const timestamp = isoTime(f.time);
        images.push({
          id: f.imageId,
          file_name: f.image,
          width: o.width,
          height: o.height,
          license: 1,
          date_captured: timestamp,
          scene_id: r.sceneId,
          frame: f.frame,
        });
        const counts: Record<string, number> = {};
        for (const a of f.annotations) {
          const { members, box3d, visible_bbox, ...rest } = a;
          annotations.push({
            id: annId++,
            image_id: f.imageId,
            category_id: rest.category_id,
            bbox: rest.bbox,
            area: rest.area,
            iscrowd: rest.iscrowd,
            segmentation: boxPolygon(rest.bbox),
            track_id: rest.track_id,
            subtype: rest.subtype,
            occlusion: rest.occlusion,
            truncation: rest.truncation,
            distance: rest.distance,
            visible_pixels: rest.visible_pixels,
            ...(visible_bbox !== null ? { visible_bbox } : {}),
            ...(box3d !== null ? { box3d } : {}),
            ...(members !== undefined ? { members } : {}),
          });
          if (a.iscrowd === 0) {
            const name = categoryName(a.category_id);
            counts[name] = (counts[name] ?? 0) + 1;
          }
        }
        manifest.push({
          image: f.image,
          image_id: f.imageId,
          scene_id: r.sceneId,
          frame: f.frame,
          timestamp,
          unix_time: Math.round(f.time * 1000) / 1000,
          split,
          weather: r.attributes.weather,
          time_of_day: r.attributes.time_of_day,
          road_type: r.attributes.road_type,
          region: r.attributes.region,
          geo_cell: job.geoCell,
          sha256: f.sha256,
          width: o.width,
          height: o.height,
          mask: f.mask,
          mask_sha256: f.maskSha256,
          objects: counts,
        });
      }
    }
    const coco: CocoDataset = {
      info: {
        description: `drivegate reference world, seed ${o.seed}, ${split} split`,
        version: '1.0',
        year: new Date(earliest * 1000).getUTCFullYear(),
        contributor: 'drivegate world generator',
        url: '',
        date_created: isoTime(earliest),
      },
      licenses: [
        {
          id: 1,
          name: 'CC0-1.0 (synthetic data)',
          url: 'https://creativecommons.org/publicdomain/zero/1.0/',
        },
      ],
      images,
      annotations,
      categories,
    };
    const lanesName = `lanes_${split}.json`;
    const lanesText = results
      .filter((r) => (jobs[r.index] as SceneJob).split === split)
      .flatMap((r) =>
        r.frames.map(
          (f) =>
            JSON.stringify({
              raw_file: f.image,
              image_id: f.imageId,
              h_samples: f.lanes.h_samples,
              lanes: f.lanes.lanes,
            }) + '\n',
        ),
      )
      .join('');
    await fs.writeFile(join(root, lanesName), lanesText);
    files[lanesName] = sha256(lanesText);
    const cocoName = `golden_${split}.json`;
    const manifestName = `golden_${split}.manifest`;
    const cocoText = JSON.stringify(coco) + '\n';
    const manifestText = manifest.map((m) => JSON.stringify(m) + '\n').join('');
    await fs.writeFile(join(root, cocoName), cocoText);
    await fs.writeFile(join(root, manifestName), manifestText);
    files[cocoName] = sha256(cocoText);
    files[manifestName] = sha256(manifestText);
    splits[split] = {
      coco,
      manifest,
      summary: {
        scenes,
        images: images.length,
        annotations: annotations.length,
        crowds: annotations.filter((a) => a.iscrowd === 1).length,
        coco: cocoName,
        manifest: manifestName,
        lanes: lanesName,
      },
    };
  }

  // Slices, with their support per split.
  const slices = standardSlices({ width: o.width, includeUnknown: o.includeUnknown });
  // Per split: each image's (non-crowd) annotations with their category name, built once.
  const objectsByImage = new Map<SplitName, Map<number, Array<Record<string, unknown>>>>();
  for (const split of SPLITS) {
    const byImage = new Map<number, Array<Record<string, unknown>>>();
    for (const a of splits[split].coco.annotations) {
      if (a.iscrowd !== 0) continue;
      let list = byImage.get(a.image_id);
      if (list === undefined) byImage.set(a.image_id, (list = []));
      list.push({ ...a, category: categoryName(a.category_id) });
    }
    objectsByImage.set(split, byImage);
  }
  const support = (spec: SliceSpec, split: SplitName): { images: number; objects: number } => {
    const byImage = objectsByImage.get(split) ?? new Map<number, Array<Record<string, unknown>>>();
    let images = 0;
    let objects = 0;
    for (const m of splits[split].manifest) {
      if (!matchesImage(spec, m as unknown as Record<string, unknown>)) continue;
      const matching = (byImage.get(m.image_id) ?? []).filter((a) => matchesObject(spec, a)).length;
      if (spec.level === 'object' && matching === 0) continue;
      images++;
      objects += matching;
    }
    return { images, objects };
  };
  const slicesDoc = {
    version: 1,
    description:
      'Slices of the drivegate reference-world dataset. Image fields (weather, time_of_day, road_type, region, ' +
      'geo_cell, scene_id, split) filter manifest records; object fields (category, occlusion, truncation, area, ' +
      'distance, iscrowd) filter annotations. A value matches exactly, a list matches any of its items, ' +
      '{gte, gt, lte, lt} is a range. support counts matching images and objects per split.',
    manifests: Object.fromEntries(SPLITS.map((s) => [s, `golden_${s}.manifest`])),
    annotations: Object.fromEntries(SPLITS.map((s) => [s, `golden_${s}.json`])),
    slices: slices.map((spec) => ({
      ...spec,
      support: Object.fromEntries(SPLITS.map((s) => [s, support(spec, s)])),
    })),
  };
  const slicesText = toYaml(slicesDoc, { lineWidth: 0 });
  await fs.writeFile(join(root, 'slices.yaml'), slicesText);
  files['slices.yaml'] = sha256(slicesText);

  const objects: Record<string, number> = {};
  const skipped: Record<string, number> = {};
  for (const r of results) {
    for (const [k, v] of Object.entries(r.skipped)) skipped[k] = (skipped[k] ?? 0) + v;
    for (const f of r.frames) {
      for (const a of f.annotations) {
        if (a.iscrowd === 0)
          objects[categoryName(a.category_id)] = (objects[categoryName(a.category_id)] ?? 0) + 1;
      }
    }
  }
  const splitSummaries = Object.fromEntries(SPLITS.map((s) => [s, splits[s].summary])) as Record<
    SplitName,
    SplitSummary
  >;
  const datasetDoc = {
    format: 'drivegate-world-dataset',
    version: 1,
    seed: o.seed,
    options: {
      scenes: o.scenes,
      frames_per_scene: o.frames,
      frame_interval: o.frameInterval,
      width: o.width,
      height: o.height,
      split: o.ratios,
      weights: formatWeights(o.weights),
      min_gap_seconds: o.minGapSeconds,
      geo_separation: o.geoSeparation,
      include_unknown: o.includeUnknown,
      unknown_rate: o.unknownRate,
      rules: o.rules,
    },
    categories,
    semantic_classes: SEMANTIC_LEGEND,
    splits: splitSummaries,
    objects,
    skipped,
    scene_attributes: {
      weather: countBy(results, (r) => r.attributes.weather),
      time_of_day: countBy(results, (r) => r.attributes.time_of_day),
      road_type: countBy(results, (r) => r.attributes.road_type),
      region: countBy(results, (r) => r.attributes.region),
    },
    scenes: results.map((r) => {
      const job = jobs[r.index] as SceneJob;
      return {
        scene_id: r.sceneId,
        split: job.split,
        seed: job.seed,
        start: isoTime(job.start),
        geo_cell: job.geoCell,
        ...r.attributes,
        file: sceneJsonPath(r.sceneId),
      };
    }),
    files,
  };
  const datasetText = JSON.stringify(datasetDoc, null, 1) + '\n';
  await fs.writeFile(join(root, 'dataset.json'), datasetText);
  return {
    out: root,
    seed: o.seed,
    scenes: o.scenes,
    frames: o.scenes * o.frames,
    width: o.width,
    height: o.height,
    splits: splitSummaries,
    objects,
    skipped,
    digest: sha256(datasetText),
  };
}
