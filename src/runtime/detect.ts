/**
 * Detection over a set of images (what `drivegate detect` does): list PNGs from a folder or a
 * JSON-lines manifest, give them image ids (from a COCO ground-truth file, the manifest, or
 * sequential), run a Detector in batches (several batches in flight with a worker pool), and write
 * the COCO results format atomically.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { sha256 } from '../core/digest.js';
import { DrivegateError, badInput } from '../core/errors.js';
import { atomicWriteFile } from '../core/fsutil.js';
import type { Detection } from './decode.js';
import { Detector } from './detector.js';
import { decodePng, type RgbImage } from './preprocess.js';
import type { ResolvedModel } from './resolve.js';

/** One image to run detection on. */
export interface ImageItem {
  /** Absolute path. */
  file: string;
  /** Path relative to the image root (the folder, or the manifest's folder), with '/' separators. */
  relPath: string;
  /** Image id from the manifest, when it has one. */
  imageId?: number;
  /** Expected sha256 of the file, from the manifest. */
  sha256?: string;
}

/** One detection in the COCO results format. */
export interface CocoResult {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
}

/**
 * Lists the images of a folder (every .png below it, sorted by relative path) or of a manifest: a
 * JSON-lines file whose records name the image in `image` (or `file_name`, `path`), relative to the
 * manifest's folder, optionally with `image_id` and `sha256`.
 */
export function listImages(source: string): ImageItem[] {
  const abs = resolve(source);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw badInput('the image folder or manifest does not exist', {
      file: source,
      expected: 'a folder of PNG images or a JSON-lines manifest',
      found: 'nothing',
    });
  }
  if (st.isDirectory()) {
    const items: ImageItem[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && e.name.toLowerCase().endsWith('.png')) {
          items.push({ file: p, relPath: relative(abs, p).split(sep).join('/') });
        }
      }
    };
    walk(abs);
    items.sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
    if (items.length === 0) {
      throw badInput('the image folder holds no PNG images', {
        file: source,
        expected: 'at least one .png file',
        found: 'none',
      });
    }
    return items;
  }
  return readManifest(abs, source);
}

function readManifest(abs: string, shown: string): ImageItem[] {
  const root = dirname(abs);
  const text = readFileSync(abs, 'utf8');
  const items: ImageItem[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      throw badInput('a manifest line is not JSON', { file: shown, line: i + 1, expected: 'a JSON object' });
    }
    const r = (rec ?? {}) as Record<string, unknown>;
    const path = r['image'] ?? r['file_name'] ?? r['path'];
    if (typeof path !== 'string' || path === '') {
      throw badInput('a manifest record names no image', {
        file: shown,
        line: i + 1,
        field: 'image',
        expected: 'a relative image path',
        found: JSON.stringify(path ?? null),
      });
    }
    const file = resolve(root, path);
    if (relative(root, file).startsWith('..')) {
      throw badInput('a manifest image path leaves the manifest folder', {
        file: shown,
        line: i + 1,
        field: 'image',
        expected: 'a path inside the manifest folder',
        found: path,
      });
    }
    const id = r['image_id'];
    if (id !== undefined && !(typeof id === 'number' && Number.isInteger(id))) {
      throw badInput('bad image id', {
        file: shown,
        line: i + 1,
        field: 'image_id',
        expected: 'an integer',
        found: JSON.stringify(id),
      });
    }
    const digest = r['sha256'];
    items.push({
      file,
      relPath: relative(root, file).split(sep).join('/'),
      ...(typeof id === 'number' ? { imageId: id } : {}),
      ...(typeof digest === 'string' ? { sha256: digest } : {}),
    });
  });
  if (items.length === 0) {
    throw badInput('the manifest lists no images', { file: shown, expected: 'at least one record' });
  }
  return items;
}

/**
 * Gives every image its id from a COCO ground-truth file. An image matches a GT `file_name` when one
 * path ends with the other at a folder boundary (equal relative paths, a folder of the GT's images
 * listed one level deeper, or bare base names); an image with no match, or several, is BAD_INPUT.
 */
export function idsFromCoco(items: readonly ImageItem[], gtPath: string): number[] {
  let gt: unknown;
  try {
    gt = JSON.parse(readFileSync(gtPath, 'utf8'));
  } catch (err) {
    throw badInput('cannot read the ground-truth file', {
      file: gtPath,
      expected: 'a COCO JSON file',
      found: err instanceof Error ? err.message : String(err),
    });
  }
  const images = (gt as { images?: unknown } | null)?.images;
  if (!Array.isArray(images)) {
    throw badInput('the ground-truth file has no images list', {
      file: gtPath,
      field: 'images',
      expected: 'an array',
      found: typeof images,
    });
  }
  const byBase = new Map<string, Array<{ path: string; id: number }>>();
  images.forEach((img: unknown, i) => {
    const rec = (img ?? {}) as Record<string, unknown>;
    const id = rec['id'];
    const name = rec['file_name'];
    if (typeof id !== 'number' || typeof name !== 'string') {
      throw badInput('a ground-truth image lacks id or file_name', {
        file: gtPath,
        record: i,
        field: typeof id !== 'number' ? 'id' : 'file_name',
        expected: 'a numeric id and a file_name',
      });
    }
    const path = name.split('\\').join('/').replace(/^\.\//, '');
    const b = basename(path);
    byBase.set(b, [...(byBase.get(b) ?? []), { path, id }]);
  });
  return items.map((it) => {
    const r = it.relPath;
    const found = (byBase.get(basename(r)) ?? []).filter(
      (g) => g.path === r || g.path.endsWith('/' + r) || r.endsWith('/' + g.path),
    );
    if (found.length !== 1) {
      throw badInput(
        found.length === 0
          ? 'an image is not in the ground-truth file'
          : 'an image matches several ground-truth images',
        {
          file: gtPath,
          field: 'images[].file_name',
          expected: `one image whose file_name matches '${r}'`,
          found: found.length === 0 ? 'none' : found.map((g) => g.path).join(', '),
        },
      );
    }
    return found[0]!.id;
  });
}

/** Options of runDetect. */
export interface DetectOptions {
  model: ResolvedModel;
  /** A folder of PNGs or a JSON-lines manifest. */
  images: string;
  /** COCO ground truth to take image ids from. */
  gt?: string;
  /** Output file (COCO results JSON), written atomically. */
  out: string;
  /** Images per inference call (default 8). */
  batch?: number;
  /** Worker threads (default 0: in-process). */
  workers?: number;
  /** Called after each batch (images done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** What runDetect did. */
export interface DetectSummary {
  out: string;
  model: string;
  config: string;
  images: number;
  detections: number;
  batches: number;
  seconds: number;
  imagesPerSecond: number;
}

function loadImage(item: ImageItem): RgbImage {
  let bytes: Buffer;
  try {
    bytes = readFileSync(item.file);
  } catch (err) {
    throw badInput('cannot read the image', {
      file: item.file,
      expected: 'a readable PNG file',
      found: (err as NodeJS.ErrnoException).code ?? String(err),
    });
  }
  if (item.sha256 !== undefined) {
    const got = sha256(bytes);
    if (got !== item.sha256) {
      throw new DrivegateError('INTEGRITY', 'the image does not match its manifest digest', {
        file: item.file,
        field: 'sha256',
        expected: item.sha256,
        found: got,
      });
    }
  }
  return decodePng(bytes, item.file);
}

/** Converts detections to COCO results (bbox rounded to 1/1000 pixel, score to 1e-6). */
export function toCocoResults(imageId: number, dets: readonly Detection[]): CocoResult[] {
  const r3 = (v: number): number => Math.round(v * 1000) / 1000;
  return dets.map((d) => ({
    image_id: imageId,
    category_id: d.categoryId,
    bbox: [r3(d.bbox[0]), r3(d.bbox[1]), r3(d.bbox[2]), r3(d.bbox[3])],
    score: Math.round(d.score * 1e6) / 1e6,
  }));
}

/**
 * Runs detection over a folder or manifest and writes COCO results to `out` (temp file + rename: on
 * any error nothing is written). Image ids: from `gt` when given, else the manifest's, else 1..N in
 * listing order.
 */
export async function runDetect(options: DetectOptions): Promise<DetectSummary> {
  const started = performance.now();
  const batch = Math.max(1, Math.floor(options.batch ?? 8));
  const workers = Math.max(0, Math.floor(options.workers ?? 0));
  const items = listImages(options.images);
  const ids =
    options.gt !== undefined ? idsFromCoco(items, options.gt) : items.map((it, i) => it.imageId ?? i + 1);
  const detector = await Detector.open(options.model, { workers });
  const results: CocoResult[][] = new Array<CocoResult[]>(items.length);
  let done = 0;
  let batches = 0;
  try {
    const starts: number[] = [];
    for (let i = 0; i < items.length; i += batch) starts.push(i);
    // With a pool, keep one batch per worker in flight (plus one being prepared); else one at a time.
    const inFlight = Math.max(1, workers);
    let next = 0;
    let failed = false;
    const lane = async (): Promise<void> => {
      while (next < starts.length && !failed) {
        const s = starts[next++]!;
        const chunk = items.slice(s, s + batch);
        let dets: Detection[][];
        try {
          dets = await detector.detect(chunk.map(loadImage));
        } catch (err) {
          failed = true;
          throw err;
        }
        dets.forEach((d, k) => {
          results[s + k] = toCocoResults(ids[s + k]!, d);
        });
        batches++;
        done += chunk.length;
        options.onProgress?.(done, items.length);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
  } finally {
    await detector.close();
  }
  const flat = results.flat();
  await atomicWriteFile(options.out, JSON.stringify(flat) + '\n');
  const seconds = (performance.now() - started) / 1000;
  return {
    out: resolve(options.out),
    model: options.model.modelPath,
    config: options.model.configPath,
    images: items.length,
    detections: flat.length,
    batches,
    seconds,
    imagesPerSecond: items.length / seconds,
  };
}
