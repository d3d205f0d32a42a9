/**
 * Loading COCO ground truth (instances JSON) and detection results (the results array) into columnar
 * typed arrays, validating every record. Files are read in chunks through JsonScanner; no JavaScript
 * object is made per annotation. Segmentations (polygons, uncompressed and compressed RLE) become run
 * counts in one shared pool.
 *
 * Behaviour follows pycocotools' COCO() and COCO.loadRes(): image ids are those of `images`, category ids
 * those of `categories`; results get ids 1..N in file order and iscrowd 0; a result's area is its box's
 * w*h when the first result carries a non-empty `bbox`, else the area of its mask.
 */
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { badInput } from '../../../core/errors.js';
import { JsonScanner, keyTable } from './json-scan.js';
import {
  rleArea,
  rleBbox,
  rleCountsFromString,
  rleFromBox,
  rleFromPolygon,
  rleMerge,
  type Rle,
} from './mask.js';

/** Which geometry the evaluation compares: boxes or masks. */
export type CocoIouType = 'bbox' | 'segm';

/** An image or category id as COCO files carry it. */
export type CocoId = number | string;

/** Where to read a COCO file from: a path (plain or .gz) or bytes in memory. */
export type CocoSource = string | { bytes: Uint8Array; name: string };

/** Masks of a set of annotations: annotation i has runs counts[start[i]..end[i]) of an h[i] x w[i] mask. */
export interface RleTable {
  h: Float64Array;
  w: Float64Array;
  start: Int32Array;
  end: Int32Array;
  counts: Uint32Array;
  /** The mask's bounding box [x, y, w, h] per annotation, as the COCO mask API derives it. */
  box: Float64Array;
}

/** COCO ground truth in columnar form. Indexes refer to the sorted `imageIds` / `categoryIds`. */
export interface CocoGroundTruth {
  file: string;
  iouType: CocoIouType;
  /** Image ids, sorted ascending, unique. */
  imageIds: CocoId[];
  imageIndex: Map<CocoId, number>;
  /** Category ids, sorted ascending, unique. */
  categoryIds: CocoId[];
  categoryIndex: Map<CocoId, number>;
  /** Category names by category index ('' when absent). */
  categoryNames: string[];
  /** Image height and width by image index (NaN when absent). */
  imageHeight: Float64Array;
  imageWidth: Float64Array;
  /** Number of annotations (in file order). */
  count: number;
  /** Annotation id. */
  id: Float64Array;
  /** Image index, or -1 when the image id is not among `images`. */
  image: Int32Array;
  /** Category index, or -1 when the category id is not among `categories`. */
  category: Int32Array;
  /** The annotation's `area` field (used for the area ranges). */
  area: Float64Array;
  /** 1 for crowd regions. */
  crowd: Uint8Array;
  /** Boxes [x, y, w, h] (bbox evaluation; zeros otherwise). */
  box: Float64Array;
  /** Masks (segm evaluation; null otherwise). */
  rle: RleTable | null;
}

/** Detection results in columnar form, in file order; indexes refer to the ground truth's. */
export interface CocoDetections {
  file: string;
  iouType: CocoIouType;
  count: number;
  image: Int32Array;
  category: Int32Array;
  score: Float64Array;
  /** Area as pycocotools' loadRes sets it. */
  area: Float64Array;
  box: Float64Array;
  rle: RleTable | null;
}

// ---------------------------------------------------------------------------------------------------
// growable typed arrays

class F64 {
  data = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) this.grow();
    this.data[this.length++] = v;
  }
  private grow(): void {
    const d = new Float64Array(this.data.length * 2);
    d.set(this.data);
    this.data = d;
  }
  /** The filled part (a view: no copy, so no second buffer at the peak). */
  done(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

class I32 {
  data = new Int32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const d = new Int32Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length++] = v;
  }
  done(): Int32Array {
    return this.data.subarray(0, this.length);
  }
}

class U32 {
  data = new Uint32Array(4096);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) this.grow(this.length + 1);
    this.data[this.length++] = v;
  }
  append(src: Uint32Array): void {
    if (this.length + src.length > this.data.length) this.grow(this.length + src.length);
    this.data.set(src, this.length);
    this.length += src.length;
  }
  grow(need: number): void {
    let n = this.data.length * 2;
    while (n < need) n *= 2;
    const d = new Uint32Array(n);
    d.set(this.data.subarray(0, this.length));
    this.data = d;
  }
}

// ---------------------------------------------------------------------------------------------------
// segmentation parsing (shared by ground truth and results)

const SEG_NONE = 0;
const SEG_POLY = 1;
const SEG_RLE = 2;

const RLE_KEYS = keyTable(['counts', 'size']);

/**
 * Parsed-but-not-rasterized segmentations. Polygons wait for the image size (the ground truth's images
 * may come after its annotations); RLEs are decoded straight into the counts pool.
 */
class SegmentationPool {
  kind: number[] = [];
  /** For SEG_POLY: first polygon in polyStart; for SEG_RLE: start in counts. */
  first: number[] = [];
  /** For SEG_POLY: number of polygons; for SEG_RLE: number of counts. */
  n: number[] = [];
  rleH: number[] = [];
  rleW: number[] = [];
  coords = new F64();
  polyStart: number[] = [];
  polyLen: number[] = [];
  counts = new U32();
  // lengths at the last commit (a record that is re-parsed starts from here)
  private cCoords = 0;
  private cPolys = 0;
  private cCounts = 0;

  rollback(): void {
    this.coords.length = this.cCoords;
    this.polyStart.length = this.cPolys;
    this.polyLen.length = this.cPolys;
    this.counts.length = this.cCounts;
  }

  commit(kind: number, first: number, n: number, h: number, w: number): void {
    this.kind.push(kind);
    this.first.push(first);
    this.n.push(n);
    this.rleH.push(h);
    this.rleW.push(w);
    this.cCoords = this.coords.length;
    this.cPolys = this.polyStart.length;
    this.cCounts = this.counts.length;
  }

  commitNone(): void {
    this.commit(SEG_NONE, 0, 0, 0, 0);
  }
}

interface SegParse {
  kind: number;
  first: number;
  n: number;
  h: number;
  w: number;
}

function parseSegmentation(
  s: JsonScanner,
  pool: SegmentationPool,
  fail: (msg: string, found: string) => Error,
): SegParse {
  const k = s.kind();
  if (k === 'array') {
    s.expect(91);
    const first = pool.polyStart.length;
    let firstEl = true;
    while (s.nextElement(firstEl)) {
      firstEl = false;
      if (s.kind() !== 'array') throw fail('expected a list of polygons (lists of numbers)', s.kind());
      s.expect(91);
      const start = pool.coords.length;
      let fe = true;
      while (s.nextElement(fe)) {
        fe = false;
        if (s.kind() !== 'number') throw fail('expected polygon coordinates (numbers)', s.kind());
        const v = s.number();
        if (!Number.isFinite(v)) throw fail('expected finite polygon coordinates', String(v));
        pool.coords.push(v);
      }
      pool.polyStart.push(start);
      pool.polyLen.push(pool.coords.length - start);
    }
    const n = pool.polyStart.length - first;
    if (n === 0) throw fail('expected at least one polygon', 'an empty list');
    return { kind: SEG_POLY, first, n, h: 0, w: 0 };
  }
  if (k === 'object') {
    s.expect(123);
    let h = -1;
    let w = -1;
    let countsFirst = -1;
    let countsN = 0;
    let firstM = true;
    while (s.nextMember(firstM)) {
      firstM = false;
      const key = s.key(RLE_KEYS);
      if (key === 0) {
        const ck = s.kind();
        countsFirst = pool.counts.length;
        if (ck === 'string') {
          const range = s.stringRange();
          if (range.escapes === 0 || range.onlyBackslashEscapes) {
            const bad = decodeRleBytes(s.bytes(), range.start, range.end, pool.counts);
            if (bad !== null) throw fail(bad, 'a bad RLE string');
          } else {
            let decoded: Uint32Array;
            try {
              decoded = rleCountsFromString(s.decodeString(range));
            } catch (e) {
              throw fail(e instanceof Error ? e.message : String(e), 'a bad RLE string');
            }
            pool.counts.append(decoded);
          }
        } else if (ck === 'array') {
          s.expect(91);
          let fe = true;
          while (s.nextElement(fe)) {
            fe = false;
            const v = s.kind() === 'number' ? s.number() : NaN;
            if (!(Number.isInteger(v) && v >= 0 && v < 4294967296)) {
              throw fail('expected RLE counts to be integers in [0, 2^32)', String(v));
            }
            pool.counts.push(v);
          }
        } else throw fail("expected 'counts' to be a string or a list of integers", ck);
        countsN = pool.counts.length - countsFirst;
      } else if (key === 1) {
        const sizeFail = (found: string): Error =>
          fail("expected 'size' to be [height, width] (non-negative integers)", found);
        if (s.kind() !== 'array') throw sizeFail(s.kind());
        s.expect(91);
        let n = 0;
        let fe = true;
        while (s.nextElement(fe)) {
          fe = false;
          const v = s.kind() === 'number' ? s.number() : NaN;
          if (!(Number.isInteger(v) && v >= 0)) throw sizeFail(String(v));
          if (n === 0) h = v;
          else w = v;
          n++;
        }
        if (n !== 2) throw sizeFail(`${n} numbers`);
      } else s.skip();
    }
    if (countsFirst < 0 || h < 0)
      throw fail("expected an RLE object with 'counts' and 'size'", 'an object without them');
    return { kind: SEG_RLE, first: countsFirst, n: countsN, h, w };
  }
  throw fail('expected polygons (a list of lists of numbers) or an RLE object', k);
}

/**
 * Decodes a compressed COCO RLE string straight from JSON bytes [start, end) into `out` (the only JSON
 * escape allowed is the backslash, which the encoding uses). Returns an error message or null.
 */
function decodeRleBytes(b: Uint8Array, start: number, end: number, out: U32): string | null {
  // at most one count per byte: make room once, then write without checks
  if (out.length + (end - start) > out.data.length) out.grow(out.length + (end - start));
  const d = out.data;
  const first = out.length;
  let m = first;
  let p = start;
  while (p < end) {
    let x = 0;
    let k = 0;
    let c = 0;
    do {
      if (p >= end) return 'compressed RLE string ends in the middle of a value';
      let ch = b[p]!;
      if (ch === 92) ch = b[++p]!; // "\\" stands for one backslash
      c = ch - 48;
      if (c < 0 || c > 63) return `compressed RLE string holds character '${String.fromCharCode(ch)}'`;
      if (k >= 7) return 'compressed RLE string holds a value too large';
      x += (c & 0x1f) * POW32[k]!;
      p++;
      k++;
    } while ((c & 0x20) !== 0);
    if ((c & 0x10) !== 0) x -= POW32[k]!;
    if (m - first > 2) x += d[m - 2]!;
    d[m++] = x >>> 0;
  }
  out.length = m;
  return null;
}

/** 32^k: the weight of the k-th 5-bit group of a compressed RLE value. */
const POW32 = [1, 32, 1024, 32768, 1048576, 33554432, 1073741824, 34359738368];

/**
 * Turns the pool into an RleTable: polygons are rasterized with the image size, several polygons of one
 * annotation are merged, RLEs are taken as they are (with their own size).
 */
function rasterize(
  pool: SegmentationPool,
  imageOf: (i: number) => number,
  imageHeight: Float64Array,
  imageWidth: Float64Array,
  fail: (i: number, msg: string, found: string) => Error,
): RleTable {
  const n = pool.kind.length;
  // RLEs stay where parsing put them; rasterized polygons are appended to the same pool.
  const out = pool.counts;
  const start = new Int32Array(n);
  const end = new Int32Array(n);
  const H = new Float64Array(n);
  const W = new Float64Array(n);
  const box = new Float64Array(n * 4);
  const coords = pool.coords.data;
  for (let i = 0; i < n; i++) {
    start[i] = out.length;
    const kind = pool.kind[i]!;
    if (kind === SEG_RLE) {
      start[i] = pool.first[i]!;
      H[i] = pool.rleH[i]!;
      W[i] = pool.rleW[i]!;
    } else if (kind === SEG_POLY) {
      const img = imageOf(i);
      const h = img >= 0 ? imageHeight[img]! : NaN;
      const w = img >= 0 ? imageWidth[img]! : NaN;
      if (!(Number.isInteger(h) && Number.isInteger(w) && h >= 0 && w >= 0)) {
        throw fail(i, "polygons need the image's integer 'height' and 'width'", `${h} x ${w}`);
      }
      const first = pool.first[i]!;
      const np = pool.n[i]!;
      const firstLen = pool.polyLen[first]!;
      // pycocotools' frPyObjects: a first "polygon" of exactly 4 numbers makes the list a list of boxes.
      if (firstLen < 4) throw fail(i, 'expected polygons of at least 3 points', `${firstLen} numbers`);
      const parts: Rle[] = [];
      for (let q = first; q < first + np; q++) {
        const off = pool.polyStart[q]!;
        const len = pool.polyLen[q]!;
        if (firstLen === 4) {
          if (len !== 4) throw fail(i, 'expected every box of a box list to have 4 numbers', `${len}`);
          parts.push({
            h,
            w,
            counts: rleFromBox(coords[off]!, coords[off + 1]!, coords[off + 2]!, coords[off + 3]!, h, w),
          });
        } else {
          parts.push({ h, w, counts: rleFromPolygon(coords, off, Math.floor(len / 2), h, w) });
        }
      }
      const merged = rleMerge(parts);
      out.append(merged.counts);
      H[i] = merged.h;
      W[i] = merged.w;
    } else {
      H[i] = 0;
      W[i] = 0;
    }
    end[i] = kind === SEG_RLE ? start[i]! + pool.n[i]! : out.length;
  }
  const counts = out.data.subarray(0, out.length);
  for (let i = 0; i < n; i++) rleBbox(counts, start[i]!, end[i]!, H[i]!, W[i]!, box, i * 4);
  return { h: H, w: W, start, end, counts, box };
}

// ---------------------------------------------------------------------------------------------------
// helpers

function openSource(src: CocoSource, chunkBytes?: number): { scanner: JsonScanner; name: string } {
  if (typeof src !== 'string')
    return { scanner: new JsonScanner({ bytes: src.bytes, name: src.name }), name: src.name };
  if (src.endsWith('.gz')) {
    let bytes: Buffer;
    try {
      bytes = gunzipSync(readFileSync(src));
    } catch (e) {
      throw badInput(`cannot read gzip file: ${e instanceof Error ? e.message : String(e)}`, { file: src });
    }
    return { scanner: new JsonScanner({ bytes, name: src }), name: src };
  }
  try {
    return { scanner: new JsonScanner({ path: src }, chunkBytes), name: src };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw badInput(code === 'ENOENT' ? 'file not found' : `cannot read file: ${String(e)}`, { file: src });
  }
}

function isId(v: unknown): v is CocoId {
  return (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string';
}

/** Sorts ids like Python's sorted(): numbers numerically, strings by code point; mixed types are refused. */
function sortIds(ids: CocoId[], fail: (msg: string) => Error): CocoId[] {
  const uniq = [...new Set(ids)];
  const nums = uniq.filter((x) => typeof x === 'number');
  if (nums.length !== 0 && nums.length !== uniq.length) throw fail('ids mix numbers and strings');
  if (nums.length === uniq.length) return (uniq as number[]).sort((a, b) => a - b);
  return (uniq as string[]).sort((a, b) => {
    const A = [...a];
    const B = [...b];
    for (let i = 0; i < Math.min(A.length, B.length); i++) {
      const d = A[i]!.codePointAt(0)! - B[i]!.codePointAt(0)!;
      if (d !== 0) return d;
    }
    return A.length - B.length;
  });
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  return typeof v;
}

/**
 * Reads [x, y, w, h] into `out`. Returns false for an empty list when `allowEmpty` (loadRes treats
 * `"bbox": []` as no box), else fails on anything but four finite numbers with w, h >= 0.
 */
function readBox(
  s: JsonScanner,
  out: Float64Array,
  fail: (msg: string, found: string) => Error,
  allowEmpty = false,
): boolean {
  if (s.kind() !== 'array') throw fail('expected [x, y, width, height]', s.kind());
  s.expect(91);
  let n = 0;
  let first = true;
  if (allowEmpty && !s.nextElement(true)) return false;
  if (allowEmpty) {
    first = false;
    const v = s.kind() === 'number' ? s.number() : NaN;
    if (!Number.isFinite(v)) throw fail('expected [x, y, width, height] of finite numbers', String(v));
    out[n++] = v;
  }
  while (s.nextElement(first)) {
    first = false;
    const v = s.kind() === 'number' ? s.number() : NaN;
    if (!Number.isFinite(v)) throw fail('expected [x, y, width, height] of finite numbers', String(v));
    if (n < 4) out[n] = v;
    n++;
  }
  if (n !== 4) throw fail('expected [x, y, width, height]', `${n} numbers`);
  if (out[2]! < 0 || out[3]! < 0)
    throw fail('expected a non-negative width and height', `[${Array.from(out).join(', ')}]`);
  return true;
}

// ---------------------------------------------------------------------------------------------------
// ground truth

const GT_TOP = keyTable(['images', 'annotations', 'categories']);
const IMG_KEYS = keyTable(['id', 'height', 'width']);
const CAT_KEYS = keyTable(['id', 'name']);
const ANN_KEYS = keyTable(['id', 'image_id', 'category_id', 'area', 'iscrowd', 'bbox', 'segmentation']);

/** Options of loadGroundTruth / loadDetections. */
export interface CocoLoadOptions {
  iouType: CocoIouType;
  /** Bytes read per chunk (default 4 MiB); small values exercise records that cross chunk ends. */
  chunkBytes?: number;
}

/** Reads COCO ground truth (an instances JSON file, plain or .gz, or bytes). Throws BAD_INPUT on bad input. */
export function loadGroundTruth(src: CocoSource, options: CocoLoadOptions): CocoGroundTruth {
  const { scanner: s, name: file } = openSource(src, options.chunkBytes);
  try {
    return readGroundTruth(s, file, options.iouType);
  } finally {
    s.close();
  }
}

function readGroundTruth(s: JsonScanner, file: string, iouType: CocoIouType): CocoGroundTruth {
  const segm = iouType === 'segm';
  const imgIdsRaw: CocoId[] = [];
  const imgH: number[] = [];
  const imgW: number[] = [];
  const catIdsRaw: CocoId[] = [];
  const catNames: string[] = [];
  const annId = new F64();
  const annImgRaw: CocoId[] = [];
  const annCatRaw: CocoId[] = [];
  const annArea = new F64();
  const annCrowd: number[] = [];
  const annBox = new F64();
  const pool = new SegmentationPool();
  const seen = [false, false, false];
  const box = new Float64Array(4);

  s.unit(() => {
    if (s.kind() !== 'object')
      throw badInput('expected a COCO ground-truth object', { file, found: s.kind() });
    s.expect(123);
  });
  let firstTop = true;
  while (s.unit(() => s.nextMember(firstTop))) {
    firstTop = false;
    const which = s.unit(() => {
      const k = s.key(GT_TOP);
      if (k < 0) {
        s.skip();
        return -1;
      }
      if (s.kind() !== 'array')
        throw badInput(`expected a list`, {
          file,
          field: ['images', 'annotations', 'categories'][k]!,
          found: s.kind(),
        });
      s.expect(91);
      return k;
    });
    if (which < 0) continue;
    seen[which] = true;
    const section = ['images', 'annotations', 'categories'][which]!;
    let index = 0;
    let firstEl = true;
    for (;;) {
      const more = s.unit(() => s.nextElement(firstEl));
      firstEl = false;
      if (!more) break;
      const rec = index++;
      const fail = (field: string, msg: string, found: string): Error =>
        badInput(msg, { file, record: `${section}[${rec}]`, field, found });
      s.unit(() => {
        if (s.kind() !== 'object') throw fail('', 'expected an object', s.kind());
        s.expect(123);
        if (which === 0) {
          let id: unknown;
          let h = NaN;
          let w = NaN;
          let fm = true;
          while (s.nextMember(fm)) {
            fm = false;
            const k = s.key(IMG_KEYS);
            if (k === 0) id = s.value();
            else if (k === 1) h = s.kind() === 'number' ? s.number() : (s.skip(), NaN);
            else if (k === 2) w = s.kind() === 'number' ? s.number() : (s.skip(), NaN);
            else s.skip();
          }
          if (!isId(id)) throw fail('id', 'expected an image id (number or string)', typeName(id));
          imgIdsRaw.push(id);
          imgH.push(h);
          imgW.push(w);
        } else if (which === 2) {
          let id: unknown;
          let name = '';
          let fm = true;
          while (s.nextMember(fm)) {
            fm = false;
            const k = s.key(CAT_KEYS);
            if (k === 0) id = s.value();
            else if (k === 1) {
              const v = s.value();
              name = typeof v === 'string' ? v : String(v);
            } else s.skip();
          }
          if (!isId(id)) throw fail('id', 'expected a category id (number or string)', typeName(id));
          catIdsRaw.push(id);
          catNames.push(name);
        } else {
          pool.rollback();
          let id = NaN;
          let img: unknown;
          let cat: unknown;
          let area = NaN;
          let crowd = 0;
          let hasBox = false;
          let seg: SegParse | null = null;
          let fm = true;
          const segFail = (msg: string, found: string): Error => fail('segmentation', msg, found);
          while (s.nextMember(fm)) {
            fm = false;
            const k = s.key(ANN_KEYS);
            switch (k) {
              case 0: {
                const v = s.value();
                if (typeof v !== 'number' || !Number.isFinite(v))
                  throw fail('id', 'expected a numeric annotation id', typeName(v));
                id = v;
                break;
              }
              case 1:
                img = s.value();
                break;
              case 2:
                cat = s.value();
                break;
              case 3: {
                const v = s.value();
                if (typeof v !== 'number') throw fail('area', 'expected a number', typeName(v));
                area = v;
                break;
              }
              case 4: {
                const v = s.value();
                if (typeof v === 'boolean') crowd = v ? 1 : 0;
                else if (v === 0 || v === 1) crowd = v;
                else throw fail('iscrowd', 'expected 0 or 1', typeName(v));
                break;
              }
              case 5:
                if (segm) s.skip();
                else {
                  readBox(s, box, (m, f) => fail('bbox', m, f));
                  hasBox = true;
                }
                break;
              case 6:
                if (segm) seg = parseSegmentation(s, pool, segFail);
                else s.skip();
                break;
              default:
                s.skip();
            }
          }
          if (Number.isNaN(id)) throw fail('id', 'missing annotation id', 'no id');
          if (!isId(img)) throw fail('image_id', 'expected an image id', typeName(img));
          if (!isId(cat)) throw fail('category_id', 'expected a category id', typeName(cat));
          if (!Number.isFinite(area))
            throw fail('area', 'expected a finite area', Number.isNaN(area) ? 'no area' : String(area));
          if (!segm && !hasBox) throw fail('bbox', 'expected [x, y, width, height]', 'no bbox');
          if (segm && seg === null)
            throw fail('segmentation', 'expected a segmentation (iou type segm)', 'no segmentation');
          annId.push(id);
          annImgRaw.push(img);
          annCatRaw.push(cat);
          annArea.push(area);
          annCrowd.push(crowd);
          for (let j = 0; j < 4; j++) annBox.push(hasBox ? box[j]! : 0);
          if (seg) pool.commit(seg.kind, seg.first, seg.n, seg.h, seg.w);
          else pool.commitNone();
        }
      });
    }
  }
  s.expectEnd();
  for (let k = 0; k < 3; k++) {
    if (!seen[k])
      throw badInput(`missing '${['images', 'annotations', 'categories'][k]}' list`, {
        file,
        field: ['images', 'annotations', 'categories'][k]!,
      });
  }

  const failIds =
    (what: string) =>
    (msg: string): Error =>
      badInput(msg, { file, field: what });
  const imageIds = sortIds(imgIdsRaw, failIds('images[].id'));
  const imageIndex = new Map<CocoId, number>(imageIds.map((id, i) => [id, i]));
  const imageHeight = new Float64Array(imageIds.length).fill(NaN);
  const imageWidth = new Float64Array(imageIds.length).fill(NaN);
  // Like a dict built in file order: the last entry with an id wins.
  for (let i = 0; i < imgIdsRaw.length; i++) {
    const ix = imageIndex.get(imgIdsRaw[i]!)!;
    imageHeight[ix] = imgH[i]!;
    imageWidth[ix] = imgW[i]!;
  }
  const categoryIds = sortIds(catIdsRaw, failIds('categories[].id'));
  const categoryIndex = new Map<CocoId, number>(categoryIds.map((id, i) => [id, i]));
  const categoryNames = categoryIds.map(() => '');
  for (let i = 0; i < catIdsRaw.length; i++) categoryNames[categoryIndex.get(catIdsRaw[i]!)!] = catNames[i]!;

  const n = annId.length;
  const image = new Int32Array(n);
  const category = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    image[i] = imageIndex.get(annImgRaw[i]!) ?? -1;
    category[i] = categoryIndex.get(annCatRaw[i]!) ?? -1;
  }
  const rle = segm
    ? rasterize(
        pool,
        (i) => image[i]!,
        imageHeight,
        imageWidth,
        (i, msg, found) => badInput(msg, { file, record: `annotations[${i}]`, field: 'segmentation', found }),
      )
    : null;
  return {
    file,
    iouType,
    imageIds,
    imageIndex,
    categoryIds,
    categoryIndex,
    categoryNames,
    imageHeight,
    imageWidth,
    count: n,
    id: annId.done(),
    image,
    category,
    area: annArea.done(),
    crowd: Uint8Array.from(annCrowd),
    box: annBox.done(),
    rle,
  };
}

// ---------------------------------------------------------------------------------------------------
// detections

const DT_KEYS = keyTable(['image_id', 'category_id', 'score', 'bbox', 'segmentation']);

/**
 * Reads detection results (a JSON array of {image_id, category_id, bbox | segmentation, score}) against
 * loaded ground truth. Throws BAD_INPUT naming the record and field for: an image id or category id the
 * ground truth does not have, a missing or non-finite or negative score, a box that is not four finite
 * numbers with non-negative width and height, a missing segmentation in segm evaluation.
 */
export function loadDetections(
  src: CocoSource,
  gt: CocoGroundTruth,
  options: { chunkBytes?: number } = {},
): CocoDetections {
  const { scanner: s, name: file } = openSource(src, options.chunkBytes);
  try {
    return readDetections(s, file, gt);
  } finally {
    s.close();
  }
}

function readDetections(s: JsonScanner, file: string, gt: CocoGroundTruth): CocoDetections {
  const segm = gt.iouType === 'segm';
  const image = new I32();
  const category = new I32();
  const score = new F64();
  const boxes = new F64();
  const boxArea = new F64();
  const pool = new SegmentationPool();
  const box = new Float64Array(4);
  let firstHasBox = false;
  let index = 0;

  s.unit(() => {
    if (s.kind() !== 'array')
      throw badInput('expected a JSON list of detection results', { file, found: s.kind() });
    s.expect(91);
  });
  let more = s.unit(() => s.nextElement(true));
  const record = (): boolean => {
    const rec = index;
    const fail = (field: string, msg: string, found: string): Error =>
      badInput(msg, { file, record: rec, field, found });
    if (s.kind() !== 'object') throw fail('', 'expected a detection object', s.kind());
    s.expect(123);
    pool.rollback();
    let img = -2;
    let cat = -2;
    let sc = NaN;
    let hasScore = false;
    let hasBox = false;
    let boxEmpty = false;
    let seg: SegParse | null = null;
    let fm = true;
    while (s.nextMember(fm)) {
      fm = false;
      const k = s.key(DT_KEYS);
      switch (k) {
        case 0: {
          const v = s.kind() === 'number' ? s.number() : s.value();
          const ix = isId(v) ? gt.imageIndex.get(v) : undefined;
          if (ix === undefined) throw fail('image_id', 'image id not in the ground truth', typeName(v));
          img = ix;
          break;
        }
        case 1: {
          const v = s.kind() === 'number' ? s.number() : s.value();
          const ix = isId(v) ? gt.categoryIndex.get(v) : undefined;
          if (ix === undefined) throw fail('category_id', 'category id not in the ground truth', typeName(v));
          cat = ix;
          break;
        }
        case 2: {
          const v = s.kind() === 'number' ? s.number() : s.value();
          if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
            throw fail('score', 'expected a finite, non-negative score', typeName(v));
          }
          sc = v + 0; // -0 -> 0 (they tie in pycocotools' sort)
          hasScore = true;
          break;
        }
        case 3:
          if (segm) {
            // An empty list counts as no box (as in pycocotools' loadRes).
            hasBox = readBox(s, box, (m, f) => fail('bbox', m, f), true);
            boxEmpty = !hasBox;
          } else {
            readBox(s, box, (m, f) => fail('bbox', m, f));
            hasBox = true;
          }
          break;
        case 4:
          if (segm) seg = parseSegmentation(s, pool, (m, f) => fail('segmentation', m, f));
          else s.skip();
          break;
        default:
          s.skip();
      }
    }
    if (img === -2) throw fail('image_id', 'missing image_id', 'no image_id');
    if (cat === -2) throw fail('category_id', 'missing category_id', 'no category_id');
    if (!hasScore) throw fail('score', 'missing score', 'no score');
    if (!segm && !hasBox)
      throw fail('bbox', 'expected [x, y, width, height]', boxEmpty ? 'an empty list' : 'no bbox');
    if (segm && seg === null) {
      throw fail(
        'segmentation',
        'expected a segmentation (iou type segm); a box alone is not a mask',
        hasBox ? 'only a bbox' : 'none',
      );
    }
    const next = s.nextElement(false);
    // commit
    if (rec === 0) firstHasBox = hasBox;
    image.push(img);
    category.push(cat);
    score.push(sc);
    for (let j = 0; j < 4; j++) boxes.push(hasBox ? box[j]! : 0);
    boxArea.push(hasBox ? box[2]! * box[3]! : NaN);
    if (seg) pool.commit(seg.kind, seg.first, seg.n, seg.h, seg.w);
    else pool.commitNone();
    index++;
    return next;
  };
  while (more) more = s.unit(record);
  s.expectEnd();

  const n = image.length;
  const imageArr = image.done();
  let rle: RleTable | null = null;
  let area: Float64Array;
  if (segm) {
    rle = rasterize(
      pool,
      (i) => imageArr[i]!,
      gt.imageHeight,
      gt.imageWidth,
      (i, msg, found) => badInput(msg, { file, record: i, field: 'segmentation', found }),
    );
    if (firstHasBox) {
      area = boxArea.done();
      for (let i = 0; i < n; i++) {
        if (Number.isNaN(area[i]!)) {
          throw badInput(
            'the first result has a bbox, so every result needs one (its area is the box area)',
            {
              file,
              record: i,
              field: 'bbox',
              found: 'no bbox',
            },
          );
        }
      }
    } else {
      area = new Float64Array(n);
      for (let i = 0; i < n; i++) area[i] = rleArea(rle.counts, rle.start[i]!, rle.end[i]!);
    }
  } else {
    area = boxArea.done();
  }
  return {
    file,
    iouType: gt.iouType,
    count: n,
    image: imageArr,
    category: category.done(),
    score: score.done(),
    area,
    box: boxes.done(),
    rle,
  };
}
