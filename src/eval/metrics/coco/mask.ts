/**
 * Run-length encoded binary masks, following the COCO mask API's published conventions exactly:
 * column-major runs starting with a run of zeros; the compressed string form (LEB128-like, 5 bits per
 * character offset by 48, counts after the second stored as differences to the count two before);
 * polygon scan conversion on a 5x upsampled grid; union of several polygons; area; bounding box; and
 * IoU (intersection over union, or over the detection's area when the ground truth is a crowd region).
 *
 * Counts are unsigned 32-bit integers and arithmetic on them wraps like the reference's `uint`.
 */
import { badInput } from '../../../core/errors.js';

/** A binary mask of h rows and w columns as column-major run lengths (first run counts zeros). */
export interface Rle {
  h: number;
  w: number;
  counts: Uint32Array;
}

/**
 * Decodes the compressed COCO RLE string (the `counts` string of a segmentation) into run counts.
 * Throws BAD_INPUT for a string that ends in the middle of a value or holds an impossible value.
 */
export function rleCountsFromString(s: string): Uint32Array {
  const n = s.length;
  const out = new Uint32Array(n);
  let m = 0;
  let p = 0;
  while (p < n) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= n) throw badInput('compressed RLE string ends in the middle of a value');
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw badInput(`compressed RLE string holds character '${s[p]}'`);
      if (k >= 7) throw badInput('compressed RLE string holds a value too large');
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && (c & 0x10) !== 0) x -= 2 ** (5 * k);
    }
    if (m > 2) x += out[m - 2]!;
    out[m++] = x >>> 0;
  }
  return out.slice(0, m);
}

/** Encodes run counts as the compressed COCO RLE string. */
export function rleCountsToString(counts: ArrayLike<number>): string {
  const chars: number[] = [];
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i]!;
    if (i > 2) x -= counts[i - 2]!;
    let more = true;
    while (more) {
      const q = Math.floor(x / 32);
      let c = x - q * 32; // the low five bits, as two's complement `x & 0x1f`
      x = q; // arithmetic shift right by 5
      more = (c & 0x10) !== 0 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      chars.push(c + 48);
    }
  }
  let out = '';
  for (let i = 0; i < chars.length; i += 8192) out += String.fromCharCode(...chars.slice(i, i + 8192));
  return out;
}

// Scratch buffers for polygon scan conversion, grown on demand.
let scratchU = new Int32Array(1024);
let scratchV = new Int32Array(1024);
let scratchA = new Uint32Array(1024);

/**
 * Rasterizes one polygon (k points: xy[off], xy[off+1], ... in pixel coordinates) into an h x w mask,
 * exactly as the COCO mask API does: points are scaled by 5 and rounded, the boundary is walked densely
 * on that grid, and the crossings with pixel-column centres give the runs.
 */
export function rleFromPolygon(
  xy: ArrayLike<number>,
  off: number,
  k: number,
  h: number,
  w: number,
): Uint32Array {
  const scale = 5;
  const x = new Int32Array(k + 1);
  const y = new Int32Array(k + 1);
  for (let j = 0; j < k; j++) x[j] = Math.trunc(scale * xy[off + j * 2]! + 0.5);
  x[k] = x[0]!;
  for (let j = 0; j < k; j++) y[j] = Math.trunc(scale * xy[off + j * 2 + 1]! + 0.5);
  y[k] = y[0]!;
  let m = 0;
  for (let j = 0; j < k; j++) m += Math.max(Math.abs(x[j]! - x[j + 1]!), Math.abs(y[j]! - y[j + 1]!)) + 1;
  if (scratchU.length < m) {
    scratchU = new Int32Array(m * 2);
    scratchV = new Int32Array(m * 2);
  }
  const u = scratchU;
  const v = scratchV;
  m = 0;
  for (let j = 0; j < k; j++) {
    let xs = x[j]!;
    let xe = x[j + 1]!;
    let ys = y[j]!;
    let ye = y[j + 1]!;
    const dx = Math.abs(xe - xs);
    const dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      let t = xs;
      xs = xe;
      xe = t;
      t = ys;
      ys = ye;
      ye = t;
    }
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        u[m] = t + xs;
        v[m] = Math.trunc(ys + s * t + 0.5);
        m++;
      }
    } else {
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        v[m] = t + ys;
        u[m] = Math.trunc(xs + s * t + 0.5);
        m++;
      }
    }
  }
  // Points where the boundary crosses a column centre, scaled back down.
  const total = m;
  if (scratchA.length < total + 1) scratchA = new Uint32Array((total + 1) * 2);
  const a = scratchA;
  let n = 0;
  const wMax = w - 1;
  for (let j = 1; j < total; j++) {
    const uj = u[j]!;
    const up = u[j - 1]!;
    if (uj === up) continue;
    let xd = uj < up ? uj : uj - 1;
    xd = (xd + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > wMax) continue;
    const vj = v[j]!;
    const vp = v[j - 1]!;
    let yd = vj < vp ? vj : vp;
    yd = (yd + 0.5) / scale - 0.5;
    if (yd < 0) yd = 0;
    else if (yd > h) yd = h;
    yd = Math.ceil(yd);
    a[n++] = (xd * h + yd) >>> 0;
  }
  a[n++] = (h * w) >>> 0;
  const sorted = a.subarray(0, n).sort();
  let prev = 0;
  for (let j = 0; j < n; j++) {
    const t = sorted[j]!;
    sorted[j] = (t - prev) >>> 0;
    prev = t;
  }
  const b = new Uint32Array(n);
  let bm = 0;
  let j = 0;
  b[bm++] = sorted[j++]!;
  while (j < n) {
    if (sorted[j]! > 0) b[bm++] = sorted[j++]!;
    else {
      j++;
      if (j < n) {
        b[bm - 1] = (b[bm - 1]! + sorted[j]!) >>> 0;
        j++;
      }
    }
  }
  return b.slice(0, bm);
}

/** Rasterizes the box [x, y, w, h] as the COCO mask API does (as the polygon of its four corners). */
export function rleFromBox(
  bx: number,
  by: number,
  bw: number,
  bh: number,
  h: number,
  w: number,
): Uint32Array {
  const xe = bx + bw;
  const ye = by + bh;
  return rleFromPolygon([bx, by, bx, ye, xe, ye, xe, by], 0, 4, h, w);
}

/** The union of several masks of the same size (run structure as the COCO mask API's merge). */
export function rleMerge(parts: readonly Rle[]): Rle {
  if (parts.length === 0) return { h: 0, w: 0, counts: new Uint32Array(0) };
  const first = parts[0]!;
  if (parts.length === 1) return first;
  let h = first.h;
  let w = first.w;
  let cnts: Uint32Array = first.counts;
  for (let i = 1; i < parts.length; i++) {
    const B = parts[i]!;
    if (B.h !== h || B.w !== w) {
      h = 0;
      w = 0;
      cnts = new Uint32Array(0);
      break;
    }
    const A = cnts;
    const out = new Uint32Array(A.length + B.counts.length + 1);
    let m = 0;
    let ca = A[0]! >>> 0;
    let cb = B.counts[0]! >>> 0;
    let v = false;
    let va = false;
    let vb = false;
    let a = 1;
    let b = 1;
    let cc = 0;
    let ct = 1;
    while (ct > 0) {
      const c = Math.min(ca, cb);
      cc += c;
      ct = 0;
      ca -= c;
      if (!ca && a < A.length) {
        ca = A[a++]!;
        va = !va;
      }
      ct += ca;
      cb -= c;
      if (!cb && b < B.counts.length) {
        cb = B.counts[b++]!;
        vb = !vb;
      }
      ct += cb;
      const vp: boolean = v;
      v = va || vb;
      if (v !== vp || ct === 0) {
        out[m++] = cc;
        cc = 0;
      }
    }
    cnts = out.slice(0, m);
  }
  return { h, w, counts: cnts };
}

/** The number of foreground pixels (the sum of the odd-indexed runs). */
export function rleArea(counts: ArrayLike<number>, start = 0, end = counts.length): number {
  let a = 0;
  for (let j = start + 1; j < end; j += 2) a = (a + counts[j]!) >>> 0;
  return a;
}

/**
 * The bounding box [x, y, w, h] of a mask as the COCO mask API computes it from the runs (written into
 * `out` at `o`).
 */
export function rleBbox(
  counts: ArrayLike<number>,
  start: number,
  end: number,
  h: number,
  w: number,
  out: Float64Array,
  o: number,
): void {
  const m = Math.floor((end - start) / 2) * 2;
  if (m === 0 || h === 0) {
    out[o] = out[o + 1] = out[o + 2] = out[o + 3] = 0;
    return;
  }
  let xs = w;
  let ys = h;
  let xe = 0;
  let ye = 0;
  let cc = 0;
  let xp = 0;
  for (let j = 0; j < m; j++) {
    cc = (cc + counts[start + j]!) >>> 0;
    const t = (cc - (j % 2)) >>> 0;
    const yy = t % h;
    const xx = (t - yy) / h;
    if (j % 2 === 0) xp = xx;
    else if (xp < xx) {
      ys = 0;
      ye = h - 1;
    }
    xs = Math.min(xs, xx);
    xe = Math.max(xe, xx);
    ys = Math.min(ys, yy);
    ye = Math.max(ye, yy);
  }
  out[o] = xs;
  out[o + 2] = (xe - xs + 1) >>> 0;
  out[o + 1] = ys;
  out[o + 3] = (ye - ys + 1) >>> 0;
}

/**
 * Intersection and IoU of two masks of the same size given as run ranges in `dc`/`gc`. Returns
 * intersection / union, or intersection / area(dt) when `crowd`; 0 when they do not intersect.
 */
export function rleIouRuns(
  dc: ArrayLike<number>,
  ds: number,
  de: number,
  gc: ArrayLike<number>,
  gs: number,
  ge: number,
  crowd: boolean,
): number {
  let ca = dc[ds]!;
  let cb = gc[gs]!;
  const ka = de - ds;
  const kb = ge - gs;
  let va = false;
  let vb = false;
  let a = 1;
  let b = 1;
  let i = 0;
  let u = 0;
  let ct = 1;
  while (ct > 0) {
    const c = ca < cb ? ca : cb;
    if (va || vb) {
      u += c;
      if (va && vb) i += c;
    }
    ct = 0;
    ca -= c;
    if (!ca && a < ka) {
      ca = dc[ds + a++]!;
      va = !va;
    }
    ct += ca;
    cb -= c;
    if (!cb && b < kb) {
      cb = gc[gs + b++]!;
      vb = !vb;
    }
    ct += cb;
  }
  i = i >>> 0;
  u = u >>> 0;
  if (i === 0) u = 1;
  else if (crowd) u = rleArea(dc, ds, de);
  return i / u;
}

/** The IoU of two boxes [x, y, w, h] with COCO's conventions (w*h areas; crowd: over the dt area). */
export function boxIou(
  dx: number,
  dy: number,
  dw: number,
  dh: number,
  gx: number,
  gy: number,
  gw: number,
  gh: number,
  crowd: boolean,
): number {
  const w = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
  if (w <= 0) return 0;
  const hh = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
  if (hh <= 0) return 0;
  const i = w * hh;
  const da = dw * dh;
  const u = crowd ? da : da + gw * gh - i;
  return i / u;
}
