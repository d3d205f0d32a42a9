/**
 * Planar geometry of the simulator: oriented boxes (footprints) in the road frame, their overlap by
 * the separating axis theorem, and the free-space distance between two boxes.
 */

/** A footprint: centre (x, y), heading h (radians), full length and width, metres. */
export interface Obb {
  x: number;
  y: number;
  h: number;
  length: number;
  width: number;
}

/** The four corners of a footprint (front-left, front-right, rear-right, rear-left) into `out` (x0,y0,...,x3,y3). */
export function obbCorners(b: Obb, out: Float64Array = new Float64Array(8)): Float64Array {
  return cornersOf(b, Math.cos(b.h), Math.sin(b.h), out);
}

/** obbCorners with the heading's cosine and sine given. */
function cornersOf(b: Obb, c: number, s: number, out: Float64Array): Float64Array {
  const hl = b.length / 2;
  const hw = b.width / 2;
  out[0] = b.x + c * hl - s * hw;
  out[1] = b.y + s * hl + c * hw;
  out[2] = b.x + c * hl + s * hw;
  out[3] = b.y + s * hl - c * hw;
  out[4] = b.x - c * hl + s * hw;
  out[5] = b.y - s * hl - c * hw;
  out[6] = b.x - c * hl - s * hw;
  out[7] = b.y - s * hl + c * hw;
  return out;
}

/** Half the extent of a footprint (heading cosine c, sine s) projected on the unit axis (ax, ay). */
function radiusOn(b: Obb, c: number, s: number, ax: number, ay: number): number {
  return (Math.abs(c * ax + s * ay) * b.length) / 2 + (Math.abs(-s * ax + c * ay) * b.width) / 2;
}

/**
 * True when the two footprints overlap (touching counts as overlap), by the separating axis test
 * on the four face normals of the two boxes.
 */
export function obbOverlap(a: Obb, b: Obb): boolean {
  return overlapOf(a, b, Math.cos(a.h), Math.sin(a.h), Math.cos(b.h), Math.sin(b.h));
}

/**
 * obbOverlap with each heading's cosine and sine given (ca, sa of a; cb, sb of b): the axes a.h,
 * a.h + pi/2, b.h, b.h + pi/2, unrolled, each heading's trigonometry computed once per test.
 */
function overlapOf(a: Obb, b: Obb, ca: number, sa: number, cb: number, sb: number): boolean {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  if (separatedOn(a, b, ca, sa, cb, sb, dx, dy, ca, sa)) return false;
  const ta = a.h + Math.PI / 2;
  if (separatedOn(a, b, ca, sa, cb, sb, dx, dy, Math.cos(ta), Math.sin(ta))) return false;
  if (separatedOn(a, b, ca, sa, cb, sb, dx, dy, cb, sb)) return false;
  const tb = b.h + Math.PI / 2;
  return !separatedOn(a, b, ca, sa, cb, sb, dx, dy, Math.cos(tb), Math.sin(tb));
}

/** True when the unit axis (ax, ay) separates the two boxes (centre offset dx, dy). */
function separatedOn(
  a: Obb,
  b: Obb,
  ca: number,
  sa: number,
  cb: number,
  sb: number,
  dx: number,
  dy: number,
  ax: number,
  ay: number,
): boolean {
  const dist = Math.abs(dx * ax + dy * ay);
  return dist > radiusOn(a, ca, sa, ax, ay) + radiusOn(b, cb, sb, ax, ay);
}

function pointSegmentDist2(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const ex = bx - ax;
  const ey = by - ay;
  const len2 = ex * ex + ey * ey;
  let t = len2 > 0 ? ((px - ax) * ex + (py - ay) * ey) / len2 : 0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  const qx = ax + t * ex - px;
  const qy = ay + t * ey - py;
  return qx * qx + qy * qy;
}

const CA = new Float64Array(8);
const CB = new Float64Array(8);

/**
 * Free-space (closest-point) distance between two footprints, metres; 0 when they overlap.
 * For two convex polygons that do not intersect, the minimum is reached between a vertex of one
 * and an edge of the other.
 */
export function obbDistance(a: Obb, b: Obb): number {
  const ca = Math.cos(a.h);
  const sa = Math.sin(a.h);
  const cb = Math.cos(b.h);
  const sb = Math.sin(b.h);
  if (overlapOf(a, b, ca, sa, cb, sb)) return 0;
  cornersOf(a, ca, sa, CA);
  cornersOf(b, cb, sb, CB);
  let best = Infinity;
  for (let i = 0; i < 4; i++) {
    const j = (i + 1) % 4;
    for (let k = 0; k < 4; k++) {
      const d1 = pointSegmentDist2(
        CB[2 * k]!,
        CB[2 * k + 1]!,
        CA[2 * i]!,
        CA[2 * i + 1]!,
        CA[2 * j]!,
        CA[2 * j + 1]!,
      );
      const d2 = pointSegmentDist2(
        CA[2 * k]!,
        CA[2 * k + 1]!,
        CB[2 * i]!,
        CB[2 * i + 1]!,
        CB[2 * j]!,
        CB[2 * j + 1]!,
      );
      if (d1 < best) best = d1;
      if (d2 < best) best = d2;
    }
  }
  return Math.sqrt(best);
}

/** Wraps an angle to (-pi, pi]. */
export function wrapAngle(a: number): number {
  let r = a % (2 * Math.PI);
  if (r > Math.PI) r -= 2 * Math.PI;
  else if (r <= -Math.PI) r += 2 * Math.PI;
  return r;
}
