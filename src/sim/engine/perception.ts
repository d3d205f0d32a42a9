/**
 * Perception in the loop. Both modes produce the same thing for the controller: a list of objects
 * in the ego frame (nearest longitudinal point, lateral extent, absolute velocity).
 *
 * - Ground truth: every actor the camera could see (see `visibleActors`) with exact geometry and
 *   velocity; nothing is rendered.
 * - Model: the ego camera frame is rendered, the model detects, each detection's box bottom centre
 *   is put on the ground plane (distance and lateral position from the camera intrinsics), and a
 *   small tracker associates detections over time and filters position and velocity.
 */
import { SUBTYPE_SIZES } from '../../world/appearance.js';
import { groundPointFromPixel, pixelRayEgo } from '../../world/camera-model.js';
import { MAX_RENDER_DISTANCE } from '../../world/render/camera.js';
import type { ActorClass, Camera } from '../../world/types.js';
import type { Body } from './dynamics.js';
import type { EgoFrame } from './ego-frame.js';
import { iou, type Box } from '../../runtime/decode.js';

/** One perceived object, ego frame (origin under the rear axle, x forward, y left). */
export interface PerceivedObject {
  /** Track id (model mode) or body index (ground truth). */
  id: number;
  cls: ActorClass;
  /** Longitudinal position of the object's nearest point, metres. */
  x: number;
  /** Lateral centre and extent, metres. */
  y: number;
  halfWidth: number;
  /** Absolute velocity of the object in the ego frame's axes, m/s. */
  vx: number;
  vy: number;
  /** Standard deviation of the longitudinal velocity estimate, m/s (0 for ground truth). */
  speedSigma: number;
  /** True once the object has been seen moving (speed > MOVING_SPEED): ACC follows only such leads. */
  seenMoving: boolean;
  /**
   * True when the lateral velocity can be trusted for predicting the object into the ego path:
   * its lateral measurements fit the constant-velocity filter (averaged normalised innovation
   * squared below the chi-square 99 % bound). Ground truth: always.
   */
  lateralConsistent: boolean;
  /** Image box, pixels (model mode; ground truth: the projected box), or null. */
  box: Box | null;
}

const NEAR = 0.05;

/** Chi-square bound, 1 degree of freedom, 99 %. */
const CHI2_1DOF_99 = 6.63;

/** Speed above which an object counts as moving for ACC lead selection, m/s. */
export const MOVING_SPEED = 2;
const CORNERS = new Float64Array(8);

/**
 * The four corners of a body's footprint, (hl, hw), (hl, -hw), (-hl, -hw), (-hl, hw) in its own
 * frame, in the ego frame (toEgo's arithmetic) into `out` (x0, y0, ..., x3, y3): no allocation.
 */
function footprintInEgo(f: EgoFrame, b: Body, out: Float64Array): void {
  const c = Math.cos(b.h);
  const s = Math.sin(b.h);
  const hl = b.spec.size.length / 2;
  const hw = b.spec.size.width / 2;
  for (let i = 0; i < 4; i++) {
    const ka = i < 2 ? hl : -hl;
    const kb = i === 0 || i === 3 ? hw : -hw;
    const dx = b.x + c * ka - s * kb - f.rx;
    const dy = b.y + s * ka + c * kb - f.ry;
    out[2 * i] = f.c * dx + f.s * dy;
    out[2 * i + 1] = -f.s * dx + f.c * dy;
  }
}

/** Image-space box of a body's 3D box seen by the camera, or null when it is off the image or behind. */
export function projectBody(
  f: EgoFrame,
  cam: Camera,
  b: Body,
): { box: Box; depth: number; distance: number } | null {
  footprintInEgo(f, b, CORNERS);
  const sp = Math.sin(cam.pitch);
  const cp = Math.cos(cam.pitch);
  let u0 = Infinity;
  let v0 = Infinity;
  let u1 = -Infinity;
  let v1 = -Infinity;
  let minDepth = Infinity;
  let any = false;
  let behind = false;
  for (let i = 0; i < 4; i++) {
    const dx = CORNERS[2 * i]! - cam.position.x;
    const dy = CORNERS[2 * i + 1]! - cam.position.y;
    for (let zi = 0; zi < 2; zi++) {
      const dz = (zi === 0 ? 0 : b.spec.size.height) - cam.position.z;
      const xc = -dy;
      const yc = -sp * dx - cp * dz;
      const zc = cp * dx - sp * dz;
      if (zc <= NEAR) {
        behind = true;
        continue;
      }
      any = true;
      const u = cam.cx + (cam.fx * xc) / zc;
      const v = cam.cy + (cam.fy * yc) / zc;
      if (u < u0) u0 = u;
      if (u > u1) u1 = u;
      if (v < v0) v0 = v;
      if (v > v1) v1 = v;
      if (zc < minDepth) minDepth = zc;
    }
  }
  if (!any) return null;
  if (behind) {
    // part of the box is behind the camera: it extends to the image border on that side
    v1 = cam.height;
  }
  const cu0 = Math.max(0, u0);
  const cv0 = Math.max(0, v0);
  const cu1 = Math.min(cam.width, u1);
  const cv1 = Math.min(cam.height, v1);
  if (cu1 <= cu0 || cv1 <= cv0) return null;
  const dx = b.x - f.rx;
  const dy = b.y - f.ry;
  const distance = Math.hypot(
    f.c * dx + f.s * dy - cam.position.x,
    -f.s * dx + f.c * dy - cam.position.y,
    b.spec.size.height / 2 - cam.position.z,
  );
  return { box: [cu0, cv0, cu1 - cu0, cv1 - cv0], depth: minDepth, distance };
}

/**
 * The bodies the camera could see: in the field of view (their projected box meets the image),
 * within range (the renderer's MAX_RENDER_DISTANCE to the box centre, or less: `range`, the
 * meteorological visual range in fog), and not fully occluded (the
 * projected box is not contained in the box of a single nearer body). Returns them with their boxes.
 */
export function visibleActors(
  f: EgoFrame,
  cam: Camera,
  bodies: readonly Body[],
  egoIndex: number,
  range: number = MAX_RENDER_DISTANCE,
): Array<{ body: Body; box: Box; depth: number }> {
  const seen: Array<{ body: Body; box: Box; depth: number }> = [];
  const maxRange = Math.min(range, MAX_RENDER_DISTANCE);
  for (const b of bodies) {
    if (b.index === egoIndex) continue;
    const pr = projectBody(f, cam, b);
    if (pr === null || pr.distance > maxRange) continue;
    seen.push({ body: b, box: pr.box, depth: pr.depth });
  }
  const visible: Array<{ body: Body; box: Box; depth: number }> = [];
  for (const a of seen) if (!hidden(a, seen)) visible.push(a);
  return visible;
}

/** True when a nearer actor's box contains `a`'s box whole. */
function hidden(a: { box: Box; depth: number }, seen: ReadonlyArray<{ box: Box; depth: number }>): boolean {
  const x = a.box[0];
  const y = a.box[1];
  const w = a.box[2];
  const h = a.box[3];
  for (const o of seen) {
    if (o === a || o.depth >= a.depth) continue;
    const ob = o.box;
    if (x >= ob[0] && y >= ob[1] && x + w <= ob[0] + ob[2] && y + h <= ob[1] + ob[3]) return true;
  }
  return false;
}

/** Scratch extent of groundTruthObjects (read out at once; JS runs one call at a time per thread). */
const GT_EXTENT: EgoExtent = { xMin: 0, xMax: 0, yMin: 0, yMax: 0 };

/** Ground-truth objects: exact nearest point, lateral extent and velocity of every visible body. */
export function groundTruthObjects(
  f: EgoFrame,
  cam: Camera,
  bodies: readonly Body[],
  egoIndex: number,
  moved: Uint8Array,
  range: number = MAX_RENDER_DISTANCE,
): PerceivedObject[] {
  const out: PerceivedObject[] = [];
  const ext = GT_EXTENT;
  for (const { body: b, box } of visibleActors(f, cam, bodies, egoIndex, range)) {
    egoExtent(f, b, ext);
    // the body's road-frame velocity rotated into the ego frame
    const wx = b.v * Math.cos(b.h);
    const wy = b.v * Math.sin(b.h);
    if (b.v > MOVING_SPEED) moved[b.index] = 1;
    out.push({
      id: b.index,
      cls: b.spec.cls,
      x: ext.xMin,
      y: (ext.yMin + ext.yMax) / 2,
      halfWidth: (ext.yMax - ext.yMin) / 2,
      vx: f.c * wx + f.s * wy,
      vy: -f.s * wx + f.c * wy,
      speedSigma: 0,
      seenMoving: moved[b.index] === 1,
      lateralConsistent: true,
      box,
    });
  }
  return out;
}

/** Extent of a footprint in the ego frame (egoExtent's result). */
export interface EgoExtent {
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
}

/**
 * Extent of a body's footprint in the ego frame. With `out`, the extent is written there and
 * `out` returned (the metrics loop reuses one object per run instead of allocating per body and step).
 */
export function egoExtent(f: EgoFrame, b: Body, out?: EgoExtent): EgoExtent {
  footprintInEgo(f, b, CORNERS);
  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (let k = 0; k < 4; k++) {
    const px = CORNERS[2 * k]!;
    const py = CORNERS[2 * k + 1]!;
    if (px < xMin) xMin = px;
    if (px > xMax) xMax = px;
    if (py < yMin) yMin = py;
    if (py > yMax) yMax = py;
  }
  if (out === undefined) return { xMin, xMax, yMin, yMax };
  out.xMin = xMin;
  out.xMax = xMax;
  out.yMin = yMin;
  out.yMax = yMax;
  return out;
}

/** A detection as the tracker takes it: image box, class, score. */
export interface TrackerDetection {
  box: Box;
  cls: ActorClass;
  score: number;
}

/** Tracker parameters. */
export interface TrackerParams {
  /**
   * Ranged hits (plausible, untruncated boxes inside the range gate), none of its frames missed,
   * before a track is confirmed and handed to the controller.
   */
  confirmHits: number;
  /**
   * Frames a confirmed track coasts without a detection before it is dropped: `coastFrames`, plus
   * one per 3 hits (object permanence of well-established tracks), at most `maxCoastFrames`.
   */
  coastFrames: number;
  maxCoastFrames: number;
  /** IoU above which a detection may continue a track. */
  iouGate: number;
  /** Ground-position gate: longitudinal (fraction of range, at least `gateMinX` m) and lateral, metres. */
  gateFracX: number;
  gateMinX: number;
  gateY: number;
  /** Standard deviation of the box edge in pixels (measurement noise of the ground-plane ranging). */
  pixelSigma: number;
  /** White-acceleration process noise of tracked objects, m/s^2. */
  accelSigma: number;
  /** Prior on a new track's velocity: stationary in the world, with this standard deviation (m/s). */
  initialSpeedSigma: number;
  /** Detections beyond this ground range are ignored, metres. */
  maxRange: number;
  /**
   * A box whose bottom lies within this many pixels of the image's bottom edge is truncated: its
   * bottom is not the ground contact, so it gives no range (the track dead-reckons), only bearing.
   */
  truncationPx: number;
  /**
   * Detections of different classes overlapping more than this IoU are one object (the model's NMS
   * is per class): the best-scoring one is kept.
   */
  nmsIou: number;
  /**
   * Size plausibility: a box is trusted for range only when the object height it implies at its
   * ground-plane range is within [sizeTolLow x, sizeTolHigh x] the class's nominal height range
   * (and, when not cut by a side border, its width within the same factors of the class's
   * footprint range, width to diagonal).
   */
  sizeTolLow: number;
  sizeTolHigh: number;
  /** A box edge within this many pixels of an image border touches the border. */
  borderPx: number;
  /**
   * Consecutive ranged measurements outside a track's range validation gate (chi-square 99 %)
   * after which the track is re-initialised at the measured range (unconfirmed again).
   */
  maxGateMisses: number;
  /** Range validation gate on the normalised innovation squared (chi-square, 1 dof, 99 %). */
  rangeGate: number;
}

/** Default tracker parameters (see docs/decisions.md#simulation-engine-6). */
export const DEFAULT_TRACKER: TrackerParams = {
  confirmHits: 3,
  coastFrames: 3,
  maxCoastFrames: 10,
  iouGate: 0.2,
  gateFracX: 0.25,
  gateMinX: 2.5,
  gateY: 1.2,
  pixelSigma: 0.5,
  accelSigma: 4,
  initialSpeedSigma: 5,
  maxRange: 150,
  truncationPx: 8,
  nmsIou: 0.5,
  sizeTolLow: 0.5,
  sizeTolHigh: 1.6,
  borderPx: 2,
  maxGateMisses: 2,
  rangeGate: CHI2_1DOF_99,
};

/**
 * Nominal size ranges per class (metres), from src/world's SUBTYPE_SIZES over the subtypes the
 * world draws for the class (its per-region mixes), widened by the +-6 % per-actor jitter.
 */
export const CLASS_SIZE_RANGES: Record<
  ActorClass,
  { minHeight: number; maxHeight: number; minWidth: number; maxDiagonal: number }
> = {
  car: sizeRange(['hatchback', 'sedan', 'wagon', 'suv', 'minivan', 'van', 'kei', 'taxi']),
  truck: sizeRange(['pickup', 'box_truck', 'flatbed', 'semi', 'kei_truck']),
  pedestrian: sizeRange(['adult', 'child']),
  cyclist: sizeRange(['bicycle', 'scooter']),
  unknown: sizeRange(['debris_box', 'debris_tire', 'deer', 'boar', 'dog', 'cow']),
};

function sizeRange(subtypes: readonly string[]): {
  minHeight: number;
  maxHeight: number;
  minWidth: number;
  maxDiagonal: number;
} {
  let minHeight = Infinity;
  let maxHeight = 0;
  let minWidth = Infinity;
  let maxDiagonal = 0;
  for (const st of subtypes) {
    const n = SUBTYPE_SIZES[st];
    if (n === undefined) continue;
    minHeight = Math.min(minHeight, n.height * 0.94);
    maxHeight = Math.max(maxHeight, n.height * 1.06);
    minWidth = Math.min(minWidth, Math.min(n.width, n.length) * 0.94);
    maxDiagonal = Math.max(maxDiagonal, Math.hypot(n.width, n.length) * 1.06);
  }
  return { minHeight, maxHeight, minWidth, maxDiagonal };
}

/** Class-agnostic greedy NMS (highest score first; ties keep input order). */
export function classAgnosticNms(dets: readonly TrackerDetection[], threshold: number): TrackerDetection[] {
  const order = dets.map((_, i) => i).sort((a, b) => dets[b]!.score - dets[a]!.score || a - b);
  const kept: TrackerDetection[] = [];
  for (const i of order) {
    const d = dets[i]!;
    if (!kept.some((k) => iou(k.box, d.box) > threshold)) kept.push(d);
  }
  return kept;
}

/** A 2-state (position, velocity) Kalman filter along one axis. */
class Kf1 {
  p = 0;
  v = 0;
  ppp = 0;
  ppv = 0;
  pvv = 0;

  init(p: number, r: number, v: number, vSigma: number): void {
    this.p = p;
    this.v = v;
    this.ppp = r;
    this.ppv = 0;
    this.pvv = vSigma * vSigma;
  }

  /** Predicts over dt; `shift` is the frame's own displacement along the axis (subtracted). */
  predict(dt: number, shift: number, q: number): void {
    this.p += this.v * dt - shift;
    const ppp = this.ppp + 2 * dt * this.ppv + dt * dt * this.pvv + (q * dt ** 4) / 4;
    const ppv = this.ppv + dt * this.pvv + (q * dt ** 3) / 2;
    const pvv = this.pvv + q * dt * dt;
    this.ppp = ppp;
    this.ppv = ppv;
    this.pvv = pvv;
  }

  /** Exponential average of the normalised innovation squared (1 for a consistent filter). */
  nis = 1;

  update(z: number, r: number): void {
    const s = this.ppp + r;
    const kp = this.ppp / s;
    const kv = this.ppv / s;
    const y = z - this.p;
    this.nis = 0.6 * this.nis + 0.4 * ((y * y) / s);
    this.p += kp * y;
    this.v += kv * y;
    const ppp = (1 - kp) * this.ppp;
    const ppv = (1 - kp) * this.ppv;
    const pvv = this.pvv - kv * this.ppv;
    this.ppp = ppp;
    this.ppv = ppv;
    this.pvv = pvv;
  }
}

interface Track {
  id: number;
  cls: ActorClass;
  box: Box;
  halfWidth: number;
  lon: Kf1;
  lat: Kf1;
  hits: number;
  /** Ranged hits inside the range gate (confirmation counter). */
  rangedHits: number;
  /** Consecutive ranged measurements outside the range gate. */
  gateMisses: number;
  misses: number;
  confirmed: boolean;
  seenMoving: boolean;
}

/** A measurement of a detection on the ground plane. */
interface Measurement {
  det: TrackerDetection;
  x: number;
  y: number;
  halfWidth: number;
  rx: number;
  ry: number;
  /**
   * True when the box gives a trusted range: its bottom is not cut by the image bottom and its
   * size is plausible for its class at that range.
   */
  ranged: boolean;
  /** True when the box touches an image border (its extent is cut): it cannot start a track. */
  atBorder: boolean;
}

/**
 * The multi-object tracker of model mode: ground-plane measurement of each detection, greedy
 * association by IoU or position gate, confirmation after k hits, coasting, and per-axis
 * constant-velocity Kalman filters in the ego frame (the ego's own motion is subtracted).
 */
export class Tracker {
  private tracks: Track[] = [];
  private nextId = 1;

  constructor(
    private readonly cam: Camera,
    private readonly params: TrackerParams = DEFAULT_TRACKER,
  ) {}

  /** Measures a detection on the ground plane, or null when its bottom is at/above the horizon or too far. */
  measure(det: TrackerDetection): Measurement | null {
    const cam = this.cam;
    const u = det.box[0] + det.box[2] / 2;
    const v = det.box[1] + det.box[3];
    const gp = groundPointFromPixel(cam, u, v);
    if (gp === null) return null;
    const d = gp.x - cam.position.x;
    if (!(d > 0.5) || d > this.params.maxRange) return null;
    const p = this.params;
    const sigX = (p.pixelSigma * d * d) / (cam.fy * cam.position.z);
    const sigY = (p.pixelSigma * d) / cam.fx;
    const [bx, by, bw] = det.box;
    const cutLeft = bx <= p.borderPx;
    const cutRight = bx + bw >= cam.width - p.borderPx;
    const cutTop = by <= p.borderPx;
    const cutBottom = v >= cam.height - p.truncationPx;
    return {
      det,
      x: gp.x,
      y: gp.y,
      halfWidth: (bw * d) / cam.fx / 2,
      rx: sigX * sigX + 0.04,
      ry: sigY * sigY + 0.01,
      ranged: !cutBottom && plausibleSize(cam, det, gp.x, cutTop, cutLeft || cutRight, p),
      atBorder: cutLeft || cutRight || cutTop || cutBottom,
    };
  }

  /**
   * Advances the tracks by `dt` seconds (the ego moved `egoShift` metres forward meanwhile) and
   * updates them with this frame's detections. Returns the confirmed tracks as objects.
   */
  update(detections: readonly TrackerDetection[], dt: number, egoShift: number): PerceivedObject[] {
    const p = this.params;
    const q = p.accelSigma * p.accelSigma;
    for (const t of this.tracks) {
      t.lon.predict(dt, egoShift, q);
      t.lat.predict(dt, 0, q);
    }
    const meas: Measurement[] = [];
    for (const d of classAgnosticNms(detections, p.nmsIou)) {
      const m = this.measure(d);
      if (m !== null) meas.push(m);
    }
    // candidate pairs, best first
    const pairs: Array<{ t: number; m: number; score: number }> = [];
    for (let ti = 0; ti < this.tracks.length; ti++) {
      const t = this.tracks[ti]!;
      for (let mi = 0; mi < meas.length; mi++) {
        const m = meas[mi]!;
        const o = iou(t.box, m.det.box);
        const gx = Math.max(p.gateMinX, p.gateFracX * Math.max(0, t.lon.p));
        const near = Math.abs(m.x - t.lon.p) < gx && Math.abs(m.y - t.lat.p) < p.gateY;
        if (o < p.iouGate && !near) continue;
        pairs.push({ t: ti, m: mi, score: o + (near ? 0.5 : 0) + (m.det.cls === t.cls ? 0.05 : 0) });
      }
    }
    pairs.sort((a, b) => b.score - a.score || a.t - b.t || a.m - b.m);
    const usedT = new Uint8Array(this.tracks.length);
    const usedM = new Uint8Array(meas.length);
    for (const pr of pairs) {
      if (usedT[pr.t] === 1 || usedM[pr.m] === 1) continue;
      usedT[pr.t] = 1;
      usedM[pr.m] = 1;
      const t = this.tracks[pr.t]!;
      const m = meas[pr.m]!;
      if (m.ranged) {
        // range validation gate: a range far from the track's prediction is not averaged in
        const y = m.x - t.lon.p;
        if ((y * y) / (t.lon.ppp + m.rx) <= p.rangeGate) {
          t.lon.update(m.x, m.rx);
          t.rangedHits++;
          t.gateMisses = 0;
        } else if (++t.gateMisses >= p.maxGateMisses) {
          // the measurements persistently disagree with the track: start its range afresh
          t.lon.init(m.x, m.rx, 0, p.initialSpeedSigma);
          t.rangedHits = 1;
          t.gateMisses = 0;
          t.confirmed = false;
          t.seenMoving = false;
        }
      }
      t.lat.update(m.y, m.ry);
      t.box = m.det.box;
      t.cls = m.det.cls;
      t.halfWidth = 0.7 * t.halfWidth + 0.3 * m.halfWidth;
      t.hits++;
      t.misses = 0;
      if (t.rangedHits >= p.confirmHits) t.confirmed = true;
      if (t.confirmed && Math.abs(t.lon.v) > MOVING_SPEED && t.lon.pvv < 1) t.seenMoving = true;
    }
    const kept: Track[] = [];
    for (let ti = 0; ti < this.tracks.length; ti++) {
      const t = this.tracks[ti]!;
      if (usedT[ti] !== 1) t.misses++;
      const limit = t.confirmed ? Math.min(p.maxCoastFrames, p.coastFrames + Math.floor(t.hits / 3)) : 0;
      if (t.misses <= limit) kept.push(t);
    }
    for (let mi = 0; mi < meas.length; mi++) {
      if (usedM[mi] === 1) continue;
      const m = meas[mi]!;
      // a new object needs a trusted range and its whole extent: a box cut by an image border or
      // of implausible size for its class cannot place one
      if (!m.ranged || m.atBorder) continue;
      const lon = new Kf1();
      lon.init(m.x, m.rx, 0, p.initialSpeedSigma);
      const lat = new Kf1();
      lat.init(m.y, m.ry, 0, p.initialSpeedSigma / 4);
      kept.push({
        id: this.nextId++,
        cls: m.det.cls,
        box: m.det.box,
        halfWidth: m.halfWidth,
        lon,
        lat,
        hits: 1,
        rangedHits: 1,
        gateMisses: 0,
        misses: 0,
        confirmed: p.confirmHits <= 1,
        seenMoving: false,
      });
    }
    this.tracks = kept;
    return this.confirmed();
  }

  /** The confirmed tracks as perceived objects (velocity absolute: the filter tracks world motion). */
  confirmed(): PerceivedObject[] {
    return this.tracks
      .filter((t) => t.confirmed)
      .map((t) => ({
        id: t.id,
        cls: t.cls,
        x: t.lon.p,
        y: t.lat.p,
        halfWidth: t.halfWidth,
        vx: t.lon.v,
        vy: t.lat.v,
        speedSigma: Math.sqrt(Math.max(0, t.lon.pvv)),
        seenMoving: t.seenMoving,
        lateralConsistent: t.lat.nis <= CHI2_1DOF_99,
        box: t.box,
      }));
  }
}

/**
 * True when a box's size is plausible for its class at ground-plane range `x` (ego frame): the
 * object height implied by the box top (the top pixel's ray met at that range) and, unless the box
 * is cut by a side border, the implied width lie within the tolerance factors of the class's
 * nominal ranges (CLASS_SIZE_RANGES). A box cut by the top border only has to be tall enough.
 */
export function plausibleSize(
  cam: Camera,
  det: TrackerDetection,
  x: number,
  cutTop: boolean,
  cutSide: boolean,
  p: Pick<TrackerParams, 'sizeTolLow' | 'sizeTolHigh'>,
): boolean {
  const r = CLASS_SIZE_RANGES[det.cls];
  const depth = x - cam.position.x;
  const ray = pixelRayEgo(cam, det.box[0] + det.box[2] / 2, det.box[1]);
  if (!(ray.x > 0) || !(depth > 0)) return false;
  const height = cam.position.z + (ray.z / ray.x) * depth;
  if (height < p.sizeTolLow * r.minHeight) return false;
  if (!cutTop && height > p.sizeTolHigh * r.maxHeight) return false;
  if (cutSide) return true;
  const width = (det.box[2] * depth) / cam.fx;
  return width >= p.sizeTolLow * r.minWidth && width <= p.sizeTolHigh * r.maxDiagonal;
}
