/**
 * The reference camera renderer: a small software rasterizer that draws a WorldState as the ego
 * camera sees it, with exact ground truth from the same geometry.
 *
 * Pipeline per frame (all buffers typed arrays, reused through a RenderContext):
 * 1. ground and sky, row by row: each pixel's ray meets the ground plane at a distance that depends
 *    only on the row, so the road (lanes, dashed/solid markings with anti-aliased coverage, shoulder,
 *    ground texture) is classified along a row with linear arithmetic; sky is a gradient by elevation.
 * 2. roadside scenery and actors as boxes ("parts", see appearance.ts): each visible face is clipped
 *    against the near plane, projected, and scan-converted with a per-pixel depth test (1/z is
 *    affine in screen space for a plane), shaded per face by the sun and per pixel by its material.
 *    The depth buffer gives exact occlusion; a per-actor stamp buffer counts the actor's own
 *    projected pixels whatever covers them.
 *    Before the actors, each casts a contact shadow on the visible ground (by day and at dusk).
 * 3. lamps (vehicle head/tail lights, street lamps) glow additively where not hidden.
 * 4. fog (exp(-density * distance) blend to the fog colour), rain streaks or snow flakes, sensor
 *    noise seeded by state.renderSeed, quantization to bytes.
 */
import { actorAppearance, lightingFor, MAT, type Lamp, type Lighting, type Part } from './parts.js';
import {
  dashCoverage,
  LAMP_SPACING,
  laneCenterY,
  placeScenery,
  roadEdges,
  roadHeading,
  sceneryTemplates,
  type SceneryTemplate,
} from './road.js';
import { expNeg as expNegImported, hash3 as hash3Imported } from './rng.js';
import { Rng } from '../random.js';
import type {
  Actor,
  ActorVisibility,
  Camera,
  CameraFrame,
  Rgb,
  Road,
  SemanticClass,
  Vec3,
  WorldState,
} from '../types.js';
import { SEMANTIC_CLASSES } from '../types.js';

// Local aliases of hot imported functions and constants (keeps per-pixel calls free of module
// binding indirection under every loader).
const hash3 = hash3Imported;
const expNeg = expNegImported;
const M_PLAIN: number = MAT.plain;
const M_BODY_SIDE: number = MAT.bodySide;
const M_BODY_FRONT: number = MAT.bodyFront;
const M_BODY_REAR: number = MAT.bodyRear;
const M_GLASS_SIDE: number = MAT.glassSide;
const M_GLASS_END: number = MAT.glassEnd;
const M_HEAD: number = MAT.head;
const M_BIKE_SIDE: number = MAT.bikeSide;
const M_BUILDING: number = MAT.building;
const M_FOLIAGE: number = MAT.foliage;
const M_CARGO_SIDE: number = MAT.cargoSide;
const M_LAMP_HEAD: number = MAT.lampHead;
const LAMP_STEP: number = LAMP_SPACING;
const SIGMA_LAMP = 6.5;
/** Fog factor table resolution (entries per metre) and last index (covers 4 km). */
const FOG_STEPS_PER_M = 4;
const FOG_TABLE_LAST = 4 * 4096 - 1;

/** Actors (and scenery) farther than this from the camera, metres, are culled. */
export const MAX_RENDER_DISTANCE = 120;
/** Near clipping plane, metres (camera z). */
export const NEAR_PLANE = 0.05;

const SEM_BACKGROUND = SEMANTIC_CLASSES.indexOf('background');
const SEM_ROAD = SEMANTIC_CLASSES.indexOf('road');
const SEM_MARKING = SEMANTIC_CLASSES.indexOf('lane_marking');

const SEM: Record<SemanticClass, number> = Object.fromEntries(
  SEMANTIC_CLASSES.map((c, i) => [c, i]),
) as Record<SemanticClass, number>;

/** Options of one render. */
export interface RenderOptions {
  /** Draw roadside scenery (buildings, lamps, trees); default true. */
  scenery?: boolean;
  /** Apply sensor noise (conditions.noiseSigma); default true. */
  noise?: boolean;
  /** Draw rain streaks / snow flakes; default true. */
  precipitation?: boolean;
  /**
   * Return rgb/semantic/instance arrays owned by the RenderContext (overwritten by its next render)
   * instead of fresh ones; default false. For per-tick callers that consume the frame at once: it
   * avoids allocating ~110 KB of typed arrays per 192x96 frame and the garbage collection they cause.
   */
  reuseOutput?: boolean;
}

/**
 * Reusable buffers of the renderer (one per image size). Pass the same context to successive
 * renderCamera calls to avoid reallocating; a context is not safe to share between threads.
 */
export class RenderContext {
  width = 0;
  height = 0;
  private camKey = '';
  /** Normalised image coordinates of pixel centres: (i + 0.5 - cx) / fx, (j + 0.5 - cy) / fy. */
  xn = new Float64Array(0);
  yn = new Float64Array(0);
  /** Length of the camera ray (xn, yn, 1) per pixel: distance = rayLen / invZ. */
  rayLen = new Float32Array(0);
  r = new Float32Array(0);
  g = new Float32Array(0);
  b = new Float32Array(0);
  /** 1 / camera z of the nearest surface per pixel (0 for sky). */
  invZ = new Float32Array(0);
  sem = new Uint8Array(0);
  /** Index of the actor drawn at the pixel (into state.actors), or -1. */
  owner = new Int32Array(0);
  /** Per-actor stamp, for counting each actor's own projected pixels once. */
  stamp = new Int32Array(0);
  /** Per-actor scratch (own pixels, drawn flag, distance, visible pixels), grown as needed. */
  selfCount = new Int32Array(0);
  drawn = new Uint8Array(0);
  distances = new Float64Array(0);
  visible = new Int32Array(0);

  /** Makes the per-actor scratch arrays hold at least `count` actors, zeroed. */
  ensureActors(count: number): void {
    if (this.selfCount.length < count) {
      const size = Math.max(count, 64);
      this.selfCount = new Int32Array(size);
      this.drawn = new Uint8Array(size);
      this.distances = new Float64Array(size);
      this.visible = new Int32Array(size);
    } else {
      this.selfCount.fill(0, 0, count);
      this.drawn.fill(0, 0, count);
      this.distances.fill(0, 0, count);
      this.visible.fill(0, 0, count);
    }
  }

  /** Output buffers for options.reuseOutput. */
  outRgb = new Uint8Array(0);
  outSem = new Uint8Array(0);
  outInst = new Uint16Array(0);

  private sceneryKey = '';
  private readonly sceneryWindows = new Map<number, SceneryTemplate[]>();
  /** Reusable placement of one scenery item (ego frame). */
  readonly placed = { position: { x: 0, y: 0, z: 0 }, yaw: 0 };

  /**
   * The scenery templates of `road` whose units start within the 256 m windows covering
   * [sMin, sMax] along the road, appended to `out`; generated once per road look and window.
   */
  sceneryNear(road: Road, sMin: number, sMax: number, out: SceneryTemplate[][]): void {
    const key = [
      road.type,
      road.laneCount,
      road.laneWidth,
      road.egoLane,
      road.shoulderWidth,
      road.surface[0],
      road.ground[0],
      road.ground[1],
    ].join('|');
    if (key !== this.sceneryKey || this.sceneryWindows.size > 64) {
      this.sceneryKey = key;
      this.sceneryWindows.clear();
    }
    for (let w = Math.floor(sMin / SCENERY_WINDOW); w <= Math.floor(sMax / SCENERY_WINDOW); w++) {
      let list = this.sceneryWindows.get(w);
      if (list === undefined) {
        list = sceneryTemplates(road, w * SCENERY_WINDOW, (w + 1) * SCENERY_WINDOW);
        this.sceneryWindows.set(w, list);
      }
      out.push(list);
    }
  }

  private readonly looks = new Map<number, { actor: Actor; app: ReturnType<typeof actorAppearance> }>();

  /** The parts and lamps of an actor, cached by id while its class, subtype, size and colour stay the same. */
  appearance(a: Actor): ReturnType<typeof actorAppearance> {
    const hit = this.looks.get(a.id);
    if (hit !== undefined) {
      const b = hit.actor;
      if (
        b.cls === a.cls &&
        b.subtype === a.subtype &&
        b.size.length === a.size.length &&
        b.size.width === a.size.width &&
        b.size.height === a.size.height &&
        b.color[0] === a.color[0] &&
        b.color[1] === a.color[1] &&
        b.color[2] === a.color[2]
      ) {
        return hit.app;
      }
    }
    if (this.looks.size > 1024) this.looks.clear();
    const app = actorAppearance(a);
    this.looks.set(a.id, { actor: { ...a, size: { ...a.size }, color: [...a.color] }, app });
    return app;
  }

  private fogDensity = -1;
  private fogK = new Float32Array(FOG_TABLE_LAST + 1);

  /** exp(-density * d) for d = i / FOG_STEPS_PER_M metres (cached for the last density). */
  fogTable(density: number): Float32Array {
    if (density !== this.fogDensity) {
      for (let i = 0; i <= FOG_TABLE_LAST; i++)
        this.fogK[i] = Math.exp((-density * (i + 0.5)) / FOG_STEPS_PER_M);
      this.fogDensity = density;
    }
    return this.fogK;
  }

  /** Sizes the buffers and the per-camera tables for `cam` (cheap when nothing changed). */
  prepare(cam: Camera): void {
    const key = `${cam.width}x${cam.height}:${cam.fx}:${cam.fy}:${cam.cx}:${cam.cy}`;
    if (key === this.camKey) return;
    const { width, height } = cam;
    const n = width * height;
    if (n !== this.width * this.height) {
      this.r = new Float32Array(n);
      this.g = new Float32Array(n);
      this.b = new Float32Array(n);
      this.invZ = new Float32Array(n);
      this.sem = new Uint8Array(n);
      this.owner = new Int32Array(n);
      this.stamp = new Int32Array(n);
      this.rayLen = new Float32Array(n);
      this.outRgb = new Uint8Array(n * 3);
      this.outSem = new Uint8Array(n);
      this.outInst = new Uint16Array(n);
    }
    this.width = width;
    this.height = height;
    this.xn = new Float64Array(width);
    this.yn = new Float64Array(height);
    for (let i = 0; i < width; i++) this.xn[i] = (i + 0.5 - cam.cx) / cam.fx;
    for (let j = 0; j < height; j++) this.yn[j] = (j + 0.5 - cam.cy) / cam.fy;
    for (let j = 0; j < height; j++) {
      for (let i = 0; i < width; i++) {
        const x = this.xn[i]!;
        const y = this.yn[j]!;
        this.rayLen[j * width + i] = Math.sqrt(x * x + y * y + 1);
      }
    }
    this.camKey = key;
  }
}

/** Creates a reusable render context (buffers are sized on first use). */
export function createRenderContext(): RenderContext {
  return new RenderContext();
}

const defaultContext = new RenderContext();
const SCENERY_WINDOW = 256;

// ---------------------------------------------------------------------------------------------
// Per-frame constants (module scope: the renderer is synchronous and not re-entrant).

interface Frame {
  cam: Camera;
  ctx: RenderContext;
  light: Lighting;
  sinP: number;
  cosP: number;
  /** Ego headlights on (dusk/night), and their strength. */
  egoBeam: number;
  /** Street lamps lit (urban, low light). */
  lampLight: number;
  road: WorldState['road'];
  odometer: number;
  roadRight: number;
  roadLeft: number;
  skyAvg: Rgb;
  /** Pools of light on the road ahead of vehicles with lights on (low light): ego-frame centres. */
  poolX: Float64Array;
  poolY: Float64Array;
  poolCount: number;
}

/** Most headlight pools drawn per frame (the nearest vehicles with lights on). */
const MAX_POOLS = 6;
/** Headlight pool: distance ahead of the vehicle's front, gaussian radius and strength. */
const POOL_AHEAD = 5;
const POOL_SIGMA = 3.5;
const POOL_STRENGTH = 0.55;

/** Ego-frame point -> camera frame into out[0..2]. */
function toCam(f: Frame, x: number, y: number, z: number, out: Float64Array, o: number): void {
  const dx = x - f.cam.position.x;
  const dy = y - f.cam.position.y;
  const dz = z - f.cam.position.z;
  out[o] = -dy;
  out[o + 1] = -f.sinP * dx - f.cosP * dz;
  out[o + 2] = f.cosP * dx - f.sinP * dz;
}

/** Illumination (multiplier) from the ego's low beams at an ego-frame point. */
function egoBeamAt(f: Frame, x: number, y: number): number {
  if (f.egoBeam === 0 || x < 1.8) return 0;
  const d = x - 1.8;
  const spread = 0.28 * d + 1.1;
  const lat = y / spread;
  return (f.egoBeam * expNeg(lat * lat)) / (1 + (d / 17) * (d / 17));
}

/** Along-road offset (metres) from x to the nearest street lamp on one side (0 right, 1 left). */
function lampDx(f: Frame, x: number, side: number): number {
  const s = x + f.odometer - (side === 0 ? 0 : LAMP_STEP / 2);
  return s - Math.round(s / LAMP_STEP) * LAMP_STEP;
}

/** Lateral road coordinate of the street lamps' heads on one side (0 right, 1 left). */
function lampLateral(f: Frame, side: number): number {
  return side === 1
    ? f.roadLeft + f.road.shoulderWidth * 0.7 - 0.9
    : f.roadRight - f.road.shoulderWidth * 0.7 + 0.9;
}

/** Illumination from the nearest street lamps at an ego-frame point (urban, low light). */
function lampLightAt(f: Frame, x: number, lateral: number): number {
  if (f.lampLight === 0) return 0;
  const k = 1 / (2 * SIGMA_LAMP * SIGMA_LAMP);
  const dx0 = lampDx(f, x, 0);
  const dx1 = lampDx(f, x, 1);
  const dl0 = lateral - lampLateral(f, 0);
  const dl1 = lateral - lampLateral(f, 1);
  return f.lampLight * (expNeg((dx0 * dx0 + dl0 * dl0) * k) + expNeg((dx1 * dx1 + dl1 * dl1) * k));
}

/** Picks the nearest vehicles with lights on (up to MAX_POOLS) and places their headlight pools. */
function collectPools(fr: Frame, actors: readonly Actor[]): void {
  let count = 0;
  const dist = new Float64Array(MAX_POOLS);
  for (const a of actors) {
    if (!a.lightsOn || (a.cls !== 'car' && a.cls !== 'truck')) continue;
    const d = a.position.x - fr.cam.position.x;
    if (d < -5 || d > 80) continue;
    const range = Math.hypot(d, a.position.y);
    // Insert by range, keeping the nearest MAX_POOLS.
    let k = count < MAX_POOLS ? count++ : MAX_POOLS - 1;
    if (k === MAX_POOLS - 1 && count === MAX_POOLS && range >= dist[k]! && dist[k]! > 0) continue;
    while (k > 0 && dist[k - 1]! > range) {
      dist[k] = dist[k - 1]!;
      fr.poolX[k] = fr.poolX[k - 1]!;
      fr.poolY[k] = fr.poolY[k - 1]!;
      k--;
    }
    const reach = a.size.length / 2 + POOL_AHEAD;
    dist[k] = range;
    fr.poolX[k] = a.position.x + Math.cos(a.yaw) * reach;
    fr.poolY[k] = a.position.y + Math.sin(a.yaw) * reach;
  }
  fr.poolCount = count;
}

// ---------------------------------------------------------------------------------------------
// 1. Ground and sky.

function drawBackground(f: Frame): void {
  const { ctx, cam, road, light } = f;
  const W = ctx.width;
  const H = ctx.height;
  const { r, g, b, invZ, sem, owner } = ctx;
  const h = cam.position.z;
  const surf = road.surface;
  const gr = road.ground;
  const snow = light.snowCover;
  const wetK = 1 - 0.28 * light.wet;
  // Surface colours after weather.
  const roadC: Rgb = [
    (surf[0] + (205 - surf[0]) * snow * 0.45) * wetK,
    (surf[1] + (208 - surf[1]) * snow * 0.45) * wetK,
    (surf[2] + (214 - surf[2]) * snow * 0.45) * wetK,
  ];
  const shoulderBase: Rgb =
    road.type === 'urban'
      ? [150, 148, 142]
      : road.type === 'highway'
        ? [surf[0] * 1.15, surf[1] * 1.15, surf[2] * 1.12]
        : [128, 118, 98];
  const shoulderC: Rgb = [
    (shoulderBase[0] + (225 - shoulderBase[0]) * snow * 0.8) * wetK,
    (shoulderBase[1] + (228 - shoulderBase[1]) * snow * 0.8) * wetK,
    (shoulderBase[2] + (234 - shoulderBase[2]) * snow * 0.8) * wetK,
  ];
  const groundC: Rgb = [
    gr[0] + (232 - gr[0]) * snow,
    gr[1] + (235 - gr[1]) * snow,
    gr[2] + (240 - gr[2]) * snow,
  ];
  const markFade = 1 - 0.5 * snow;
  const mc = road.marking.color;
  const cc = road.marking.centerColor;
  const markC: Rgb = [
    roadC[0] + (mc[0] - roadC[0]) * markFade,
    roadC[1] + (mc[1] - roadC[1]) * markFade,
    roadC[2] + (mc[2] - roadC[2]) * markFade,
  ];
  const centreC: Rgb = [
    roadC[0] + (cc[0] - roadC[0]) * markFade,
    roadC[1] + (cc[1] - roadC[1]) * markFade,
    roadC[2] + (cc[2] - roadC[2]) * markFade,
  ];
  const groundLight = light.ambient * (1 - light.directional + light.directional * 1.5 * light.sun[2]);
  const right = f.roadRight;
  const left = f.roadLeft;
  const laneW = road.laneWidth;
  const lanes = road.laneCount;
  // The boundary drawn in the centre colour: between the directions, or the left edge of a one-way road.
  const oncoming = Math.max(0, Math.min(lanes, road.oncomingLanes ?? 0));
  const centreK = oncoming > 0 ? lanes - oncoming : lanes;
  const hwMark = road.marking.width / 2;
  const shoulderW = road.shoulderWidth;
  const dash = road.marking.dashLength;
  const gap = road.marking.gapLength;
  const { sinP, cosP } = f;
  const zen = light.skyZenith;
  const hor = light.skyHorizon;
  const lampK = 1 / (2 * SIGMA_LAMP * SIGMA_LAMP);
  const lampLat0 = lampLateral(f, 0);
  const lampLat1 = lampLateral(f, 1);
  const poolK = 1 / (2 * POOL_SIGMA * POOL_SIGMA);
  const rowPoolY = new Float64Array(MAX_POOLS);
  const rowPoolA = new Float64Array(MAX_POOLS);
  for (let j = 0; j < H; j++) {
    const yn = ctx.yn[j]!;
    const dz = -cosP * yn - sinP; // ego z of the ray (x_cam = 0)
    const row = j * W;
    if (dz >= -1e-6) {
      // Sky: gradient by elevation of the ray.
      const dxr = -sinP * yn + cosP;
      const elev = dz / Math.sqrt(dxr * dxr + dz * dz);
      const t = Math.pow(Math.min(1, elev / 0.45), 0.6);
      const sr = hor[0] + (zen[0] - hor[0]) * t;
      const sg = hor[1] + (zen[1] - hor[1]) * t;
      const sb = hor[2] + (zen[2] - hor[2]) * t;
      r.fill(sr, row, row + W);
      g.fill(sg, row, row + W);
      b.fill(sb, row, row + W);
      invZ.fill(0, row, row + W);
      sem.fill(SEM.background, row, row + W);
      owner.fill(-1, row, row + W);
      continue;
    }
    const t = h / -dz; // camera z of the ground point
    const x = cam.position.x + t * (-sinP * yn + cosP);
    // Row footprint along the road (for dashes): x at the row's top and bottom edges.
    const ynTop = (j - cam.cy) / cam.fy;
    const ynBot = (j + 1 - cam.cy) / cam.fy;
    const dzTop = -cosP * ynTop - sinP;
    const xBot = cam.position.x + (h / (cosP * ynBot + sinP)) * (-sinP * ynBot + cosP);
    const xTop = dzTop < -1e-6 ? cam.position.x + (h / -dzTop) * (-sinP * ynTop + cosP) : x + 1000;
    const s0 = xBot + f.odometer;
    const s1 = xTop + f.odometer;
    const dashFrac =
      s1 - s0 > 1e-6 ? (dashCoverage(s1, dash, gap) - dashCoverage(s0, dash, gap)) / (s1 - s0) : 1;
    const yc = laneCenterY(road, x);
    const cosH = Math.cos(roadHeading(road, x));
    // Lateral coordinate l = (y - yc) * cosH with y = camY - t * xn[i]: linear in i.
    const foot = (t / cam.fx) * cosH; // metres per pixel across
    const half = foot / 2;
    const texAmp = foot < 0.6 ? 0.07 : 0.07 * (0.6 / foot);
    const texOn = texAmp > 0.01;
    const xHash = Math.imul(Math.floor(x * 0.8), 0x27d4eb2d);
    invZ.fill(1 / t, row, row + W);
    owner.fill(-1, row, row + W);
    // y and l are linear in i.
    const yStep = -t / cam.fx;
    const y0 = cam.position.y - t * ctx.xn[0]!;
    const l0 = (y0 - yc) * cosH;
    const lStep = yStep * cosH;
    // Artificial light of the row: ego beams (lateral profile per pixel), street lamps (per side).
    let beamFall = 0;
    let beamInvSpread = 0;
    if (f.egoBeam > 0 && x >= 1.8) {
      const d = x - 1.8;
      beamFall = (1.1 * f.egoBeam) / (1 + (d / 17) * (d / 17));
      beamInvSpread = 1 / (0.28 * d + 1.1);
    }
    let lampA = 0;
    let lampB = 0;
    if (f.lampLight > 0) {
      const dx0 = lampDx(f, x, 0);
      const dx1 = lampDx(f, x, 1);
      lampA = f.lampLight * expNeg(dx0 * dx0 * lampK);
      lampB = f.lampLight * expNeg(dx1 * dx1 * lampK);
      if (lampA < 1e-4) lampA = 0;
      if (lampB < 1e-4) lampB = 0;
    }
    // Headlight pools of other vehicles that reach this row.
    let pools = 0;
    for (let q = 0; q < f.poolCount; q++) {
      const dx = x - f.poolX[q]!;
      if (dx * dx > 9 * POOL_SIGMA * POOL_SIGMA) continue;
      rowPoolY[pools] = f.poolY[q]!;
      rowPoolA[pools] = POOL_STRENGTH * f.egoBeam * expNeg(dx * dx * poolK);
      pools++;
    }
    const lit = beamFall > 0 || lampA > 0 || lampB > 0 || pools > 0;
    for (let i = 0; i < W; i++) {
      const p = row + i;
      const l = l0 + lStep * i;
      let cr: number;
      let cg: number;
      let cb: number;
      let cls: number = SEM_BACKGROUND;
      if (l >= right - hwMark - half && l <= left + hwMark + half) {
        // Road (with markings).
        const k = Math.max(0, Math.min(lanes, Math.round((l - right) / laneW)));
        const d = Math.abs(l - right - k * laneW);
        // Coverage of the marking [-hw, hw] by the pixel footprint [d - half, d + half].
        let cov = (Math.min(d + half, hwMark) - Math.max(d - half, -hwMark)) / foot;
        cov = cov < 0 ? 0 : cov > 1 ? 1 : cov;
        if (k > 0 && k < lanes && k !== centreK) cov *= dashFrac;
        const inRoad = l >= right && l <= left;
        const br = inRoad ? roadC : shoulderC;
        const mk = k === centreK ? centreC : markC;
        cr = br[0] + (mk[0] - br[0]) * cov;
        cg = br[1] + (mk[1] - br[1]) * cov;
        cb = br[2] + (mk[2] - br[2]) * cov;
        cls = cov >= 0.5 ? SEM_MARKING : inRoad ? SEM_ROAD : SEM_BACKGROUND;
      } else if (l >= right - shoulderW && l <= left + shoulderW) {
        cr = shoulderC[0];
        cg = shoulderC[1];
        cb = shoulderC[2];
      } else if (texOn) {
        // Faint ground texture: a hash of the 1.25 m cell the pixel's ground point falls in.
        let h = Math.imul(xHash ^ Math.floor(l * 0.8), 0x85ebca6b);
        h ^= h >>> 15;
        h = Math.imul(h, 0xc2b2ae35);
        const k = 1 + texAmp * ((((h >>> 16) & 0xff) - 128) / 128);
        cr = groundC[0] * k;
        cg = groundC[1] * k;
        cb = groundC[2] * k;
      } else {
        cr = groundC[0];
        cg = groundC[1];
        cb = groundC[2];
      }
      let L = groundLight;
      if (lit) {
        if (beamFall > 0) {
          const lat = (y0 + yStep * i) * beamInvSpread;
          L += beamFall * expNeg(lat * lat);
        }
        if (lampA > 0) {
          const dl = l - lampLat0;
          L += lampA * expNeg(dl * dl * lampK);
        }
        if (lampB > 0) {
          const dl = l - lampLat1;
          L += lampB * expNeg(dl * dl * lampK);
        }
        if (pools > 0) {
          const y = y0 + yStep * i;
          for (let q = 0; q < pools; q++) {
            const dy = y - rowPoolY[q]!;
            L += rowPoolA[q]! * expNeg(dy * dy * poolK);
          }
        }
      }
      r[p] = cr * L;
      g[p] = cg * L;
      b[p] = cb * L;
      sem[p] = cls;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Boxes.

/** The face being rasterized (module scratch, reused). */
const face = {
  mat: 0,
  // lit base and alternate colours
  r: 0,
  g: 0,
  b: 0,
  ar: 0,
  ag: 0,
  ab: 0,
  light: 0,
  emissive: false,
  sem: 0,
  owner: -1,
  stampVal: 0,
  // plane: invZ = pa * u + pb * v + pc (pixel-centre coordinates)
  pa: 0,
  pb: 0,
  pc: 0,
  // face coordinates: a = (P - O) . A, b = (P - O) . B (0..1 across the face)
  ox: 0,
  oy: 0,
  oz: 0,
  ax: 0,
  ay: 0,
  az: 0,
  bx: 0,
  by: 0,
  bz: 0,
  fw: 1,
  fh: 1,
  salt: 0,
};

// Polygon scratch: up to 8 vertices (camera frame and screen).
const polyC = new Float64Array(8 * 3);
const polyT = new Float64Array(8 * 3);
const polyS = new Float64Array(8 * 2);
const corners = new Float64Array(8 * 3);

// Faces as corner indices (v0 bottom-left, v1 bottom-right, v2 top-right, v3 top-left), corner order
// as boxCorners: 0 FL, 1 FR, 2 RR, 3 RL at the bottom, +4 on top.
const FACES: ReadonlyArray<readonly [number, number, number, number]> = [
  [0, 1, 5, 4], // front (+x), seen from the front: left to right
  [2, 3, 7, 6], // rear (-x)
  [3, 0, 4, 7], // left (+y)
  [1, 2, 6, 5], // right (-y)
  [7, 4, 5, 6], // top: a from rear to front, b from left to right
];

/** Shading result of the current fragment (module scratch). */
let SR = 0;
let SG = 0;
let SB = 0;

const GLASS: Rgb = [32, 40, 52];

/** Per-pixel material: sets SR/SG/SB; returns false to discard the fragment. */
function shade(fr: Frame, a: number, bb: number): boolean {
  const fc = face;
  switch (fc.mat) {
    case M_BODY_SIDE:
      if (bb < 0.52 && ((a > 0.1 && a < 0.27) || (a > 0.73 && a < 0.9))) {
        SR = fc.ar;
        SG = fc.ag;
        SB = fc.ab;
      } else if (bb < 0.12) {
        SR = fc.r * 0.5;
        SG = fc.g * 0.5;
        SB = fc.b * 0.5;
      } else {
        const k = bb > 0.45 && bb < 0.5 ? 0.8 : 1; // a crease line
        SR = fc.r * k;
        SG = fc.g * k;
        SB = fc.b * k;
      }
      return true;
    case M_BODY_FRONT:
      if (bb > 0.55 && bb < 0.85 && ((a > 0.05 && a < 0.25) || (a > 0.75 && a < 0.95))) {
        if (fc.emissive) {
          SR = 255;
          SG = 245;
          SB = 215;
        } else {
          SR = 215 * fc.light;
          SG = 215 * fc.light;
          SB = 220 * fc.light;
        }
      } else if (bb > 0.22 && bb < 0.5 && a > 0.28 && a < 0.72) {
        SR = 38 * fc.light;
        SG = 38 * fc.light;
        SB = 42 * fc.light;
      } else if (bb < 0.14) {
        SR = fc.r * 0.55;
        SG = fc.g * 0.55;
        SB = fc.b * 0.55;
      } else {
        SR = fc.r;
        SG = fc.g;
        SB = fc.b;
      }
      return true;
    case M_BODY_REAR:
      if (bb > 0.55 && bb < 0.85 && ((a > 0.03 && a < 0.22) || (a > 0.78 && a < 0.97))) {
        if (fc.emissive) {
          SR = 255;
          SG = 45;
          SB = 30;
        } else {
          SR = 150 * fc.light;
          SG = 25 * fc.light;
          SB = 25 * fc.light;
        }
      } else if (bb > 0.22 && bb < 0.45 && a > 0.38 && a < 0.62) {
        SR = 225 * fc.light;
        SG = 225 * fc.light;
        SB = 215 * fc.light;
      } else if (bb < 0.14) {
        SR = fc.r * 0.55;
        SG = fc.g * 0.55;
        SB = fc.b * 0.55;
      } else {
        SR = fc.r;
        SG = fc.g;
        SB = fc.b;
      }
      return true;
    case M_GLASS_SIDE:
      if (bb > 0.1 && bb < 0.9 && a > 0.06 && a < 0.94 && (a < 0.47 || a > 0.53)) {
        SR = GLASS[0] * fc.light + fr.skyAvg[0] * 0.22;
        SG = GLASS[1] * fc.light + fr.skyAvg[1] * 0.22;
        SB = GLASS[2] * fc.light + fr.skyAvg[2] * 0.22;
      } else {
        SR = fc.r;
        SG = fc.g;
        SB = fc.b;
      }
      return true;
    case M_GLASS_END:
      if (bb > 0.08 && bb < 0.92 && a > 0.07 && a < 0.93) {
        SR = GLASS[0] * fc.light + fr.skyAvg[0] * 0.3;
        SG = GLASS[1] * fc.light + fr.skyAvg[1] * 0.3;
        SB = GLASS[2] * fc.light + fr.skyAvg[2] * 0.3;
      } else {
        SR = fc.r;
        SG = fc.g;
        SB = fc.b;
      }
      return true;
    case M_HEAD:
      if (bb > 0.6) {
        SR = fc.ar;
        SG = fc.ag;
        SB = fc.ab;
      } else {
        SR = fc.r;
        SG = fc.g;
        SB = fc.b;
      }
      return true;
    case M_BIKE_SIDE: {
      const am = a * fc.fw;
      const bm = bb * fc.fh;
      const rw = Math.min(0.34, fc.fh * 0.42);
      const c1 = rw + 0.02;
      const c2 = fc.fw - rw - 0.02;
      const d1 = Math.hypot(am - c1, bm - rw);
      const d2 = Math.hypot(am - c2, bm - rw);
      if ((d1 > rw * 0.62 && d1 < rw) || (d2 > rw * 0.62 && d2 < rw)) {
        SR = fc.r * 0.6;
        SG = fc.g * 0.6;
        SB = fc.b * 0.6;
        return true;
      }
      if (
        (am > c1 && am < c2 && bm > rw * 0.9 && bm < rw * 1.35) ||
        (am > c2 - 0.12 && am < c2 - 0.02 && bm > rw && bm < fc.fh)
      ) {
        SR = fc.ar;
        SG = fc.ag;
        SB = fc.ab;
        return true;
      }
      return false;
    }
    case M_BUILDING: {
      const am = a * fc.fw;
      const bm = bb * fc.fh;
      const ca = am / 3.2;
      const cb = (bm - 0.6) / 3.1;
      const ia = Math.floor(ca);
      const ib = Math.floor(cb);
      const fa = ca - ia;
      const fb = cb - ib;
      if (bm > 1 && bm < fc.fh - 0.7 && fa > 0.22 && fa < 0.78 && fb > 0.25 && fb < 0.78) {
        if (fr.lampLight > 0 && (hash3(ia, ib, fc.salt) & 3) === 0) {
          SR = 235;
          SG = 195;
          SB = 120;
        } else {
          SR = 55 * fc.light + fr.skyAvg[0] * 0.15;
          SG = 62 * fc.light + fr.skyAvg[1] * 0.15;
          SB = 75 * fc.light + fr.skyAvg[2] * 0.15;
        }
      } else {
        SR = fc.r;
        SG = fc.g;
        SB = fc.b;
      }
      return true;
    }
    case M_FOLIAGE: {
      const hsh = hash3(Math.floor(a * fc.fw * 2.5), Math.floor(bb * fc.fh * 2.5), fc.salt) & 0xff;
      const k = 0.75 + hsh / 640;
      SR = fc.r * k;
      SG = fc.g * k;
      SB = fc.b * k;
      return true;
    }
    case M_CARGO_SIDE:
      if (bb < 0.12 || (bb > 0.55 && bb < 0.63)) {
        SR = fc.ar;
        SG = fc.ag;
        SB = fc.ab;
      } else {
        SR = fc.r;
        SG = fc.g;
        SB = fc.b;
      }
      return true;
    case M_LAMP_HEAD:
      if (fr.lampLight > 0) {
        SR = 255;
        SG = 235;
        SB = 180;
      } else {
        SR = fc.r;
        SG = fc.g;
        SB = fc.b;
      }
      return true;
    default:
      SR = fc.r;
      SG = fc.g;
      SB = fc.b;
      return true;
  }
}

/** Scan-converts the projected convex polygon in polyS (n vertices) with the current face. */
function rasterPolygon(fr: Frame, n: number, selfCount: Int32Array | null): void {
  const ctx = fr.ctx;
  const W = ctx.width;
  const H = ctx.height;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (let k = 0; k < n; k++) {
    const y = polyS[2 * k + 1]!;
    if (y < ymin) ymin = y;
    if (y > ymax) ymax = y;
  }
  const j0 = Math.max(0, Math.ceil(ymin - 0.5));
  const j1 = Math.min(H - 1, Math.ceil(ymax - 0.5) - 1);
  const { r, g, b, invZ, sem, owner, stamp, xn, yn } = ctx;
  const fc = face;
  const needCoords = fc.mat !== M_PLAIN;
  const canDiscard = fc.mat === M_BIKE_SIDE;
  for (let j = j0; j <= j1; j++) {
    const yc = j + 0.5;
    let xl = Infinity;
    let xr = -Infinity;
    for (let k = 0; k < n; k++) {
      const k2 = k + 1 === n ? 0 : k + 1;
      const x0 = polyS[2 * k]!;
      const y0 = polyS[2 * k + 1]!;
      const x1 = polyS[2 * k2]!;
      const y1 = polyS[2 * k2 + 1]!;
      if ((yc >= y0 && yc < y1) || (yc >= y1 && yc < y0)) {
        const x = x0 + ((yc - y0) * (x1 - x0)) / (y1 - y0);
        if (x < xl) xl = x;
        if (x > xr) xr = x;
      }
    }
    if (!(xl <= xr)) continue;
    const i0 = Math.max(0, Math.ceil(xl - 0.5));
    const i1 = Math.min(W - 1, Math.ceil(xr - 0.5) - 1);
    if (i0 > i1) continue;
    const ynj = yn[j]!;
    let iz = fc.pa * (i0 + 0.5) + fc.pb * yc + fc.pc;
    const row = j * W;
    for (let i = i0; i <= i1; i++, iz += fc.pa) {
      const p = row + i;
      if (iz <= 0) continue;
      const pass = iz > invZ[p]!;
      if (!pass && !canDiscard) {
        // Hidden: only count it as the owner's own projected pixel.
        if (selfCount !== null && stamp[p] !== fc.stampVal) {
          stamp[p] = fc.stampVal;
          selfCount[fc.owner]!++;
        }
        continue;
      }
      if (needCoords) {
        const z = 1 / iz;
        const dx = xn[i]! * z - fc.ox;
        const dy = ynj * z - fc.oy;
        const dz = z - fc.oz;
        let a = dx * fc.ax + dy * fc.ay + dz * fc.az;
        let bb = dx * fc.bx + dy * fc.by + dz * fc.bz;
        a = a < 0 ? 0 : a > 1 ? 1 : a;
        bb = bb < 0 ? 0 : bb > 1 ? 1 : bb;
        if (!shade(fr, a, bb)) continue;
      } else {
        SR = fc.r;
        SG = fc.g;
        SB = fc.b;
      }
      if (selfCount !== null && stamp[p] !== fc.stampVal) {
        stamp[p] = fc.stampVal;
        selfCount[fc.owner]!++;
      }
      if (pass) {
        invZ[p] = iz;
        r[p] = SR;
        g[p] = SG;
        b[p] = SB;
        sem[p] = fc.sem;
        owner[p] = fc.owner;
      }
    }
  }
}

/**
 * Darkens the ground under an actor (a contact shadow: its footprint grown by 0.15 m, pushed a
 * little away from the sun) by `factor`, only where the ground is the visible surface.
 */
function drawShadow(fr: Frame, a: Actor, factor: number): void {
  const cam = fr.cam;
  const ctx = fr.ctx;
  const c = Math.cos(a.yaw);
  const s = Math.sin(a.yaw);
  const hl = a.size.length / 2 + 0.15;
  const hw = a.size.width / 2 + 0.15;
  const sun = fr.light.sun;
  const horiz = Math.hypot(sun[0], sun[1]);
  const push = horiz > 1e-6 ? Math.min(0.6, (0.25 * a.size.height * horiz) / Math.max(0.2, sun[2])) : 0;
  const ox = a.position.x - (horiz > 1e-6 ? (sun[0] / horiz) * push : 0);
  const oy = a.position.y - (horiz > 1e-6 ? (sun[1] / horiz) * push : 0);
  // Footprint corners -> camera frame, near-clipped.
  let n = 0;
  for (let k = 0; k < 4; k++) {
    const u = k === 0 || k === 1 ? hl : -hl;
    const v = k === 0 || k === 3 ? hw : -hw;
    toCam(fr, ox + c * u - s * v, oy + s * u + c * v, 0, corners, 3 * k);
  }
  for (let k = 0; k < 4; k++) {
    const ia = 3 * k;
    const ib = 3 * ((k + 1) & 3);
    const za = corners[ia + 2]!;
    const zb = corners[ib + 2]!;
    if (za >= NEAR_PLANE) {
      polyC[3 * n] = corners[ia]!;
      polyC[3 * n + 1] = corners[ia + 1]!;
      polyC[3 * n + 2] = za;
      n++;
    }
    if (za >= NEAR_PLANE !== zb >= NEAR_PLANE) {
      const t = (NEAR_PLANE - za) / (zb - za);
      polyC[3 * n] = corners[ia]! + t * (corners[ib]! - corners[ia]!);
      polyC[3 * n + 1] = corners[ia + 1]! + t * (corners[ib + 1]! - corners[ia + 1]!);
      polyC[3 * n + 2] = NEAR_PLANE;
      n++;
    }
  }
  if (n < 3) return;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (let k = 0; k < n; k++) {
    const z = polyC[3 * k + 2]!;
    polyS[2 * k] = cam.cx + (cam.fx * polyC[3 * k]!) / z;
    const y = cam.cy + (cam.fy * polyC[3 * k + 1]!) / z;
    polyS[2 * k + 1] = y;
    if (y < ymin) ymin = y;
    if (y > ymax) ymax = y;
  }
  const W = ctx.width;
  const j0 = Math.max(0, Math.ceil(ymin - 0.5));
  const j1 = Math.min(ctx.height - 1, Math.ceil(ymax - 0.5) - 1);
  const { r, g, b, invZ, owner } = ctx;
  for (let j = j0; j <= j1; j++) {
    const yc = j + 0.5;
    let xl = Infinity;
    let xr = -Infinity;
    for (let k = 0; k < n; k++) {
      const k2 = k + 1 === n ? 0 : k + 1;
      const y0 = polyS[2 * k + 1]!;
      const y1 = polyS[2 * k2 + 1]!;
      if ((yc >= y0 && yc < y1) || (yc >= y1 && yc < y0)) {
        const x = polyS[2 * k]! + ((yc - y0) * (polyS[2 * k2]! - polyS[2 * k]!)) / (y1 - y0);
        if (x < xl) xl = x;
        if (x > xr) xr = x;
      }
    }
    if (!(xl <= xr)) continue;
    const i0 = Math.max(0, Math.ceil(xl - 0.5));
    const i1 = Math.min(W - 1, Math.ceil(xr - 0.5) - 1);
    // The ground's 1/z on this row (see drawBackground): the same for every pixel of the row.
    const izGround = (fr.cosP * ctx.yn[j]! + fr.sinP) / cam.position.z;
    for (let i = i0; i <= i1; i++) {
      const p = j * W + i;
      if (owner[p] !== -1 || Math.abs(invZ[p]! - izGround) > 1e-4 * izGround) continue;
      r[p] = r[p]! * factor;
      g[p] = g[p]! * factor;
      b[p] = b[p]! * factor;
    }
  }
}

interface Placed {
  position: Vec3;
  yaw: number;
}

/** Draws one part of an owner (actor or scenery). */
function drawPart(
  fr: Frame,
  owner: Placed,
  p: Part,
  ownerIdx: number,
  semCls: number,
  emissive: boolean,
  salt: number,
  selfCount: Int32Array | null,
): void {
  const cy = Math.cos(owner.yaw);
  const sy = Math.sin(owner.yaw);
  const hl = p.length / 2;
  const hw = p.width / 2;
  // Corners in the ego frame -> camera frame.
  let anyFront = false;
  for (let k = 0; k < 8; k++) {
    const lx = p.x + (k === 0 || k === 1 || k === 4 || k === 5 ? hl : -hl);
    const ly = p.y + (k === 0 || k === 3 || k === 4 || k === 7 ? hw : -hw);
    const lz = p.z + (k >= 4 ? p.height : 0);
    const ex = owner.position.x + cy * lx - sy * ly;
    const ey = owner.position.y + sy * lx + cy * ly;
    toCam(fr, ex, ey, owner.position.z + lz, corners, 3 * k);
    if (corners[3 * k + 2]! > NEAR_PLANE) anyFront = true;
  }
  if (!anyFront) return;
  // Whole-part frustum test: skip parts entirely left, right, above or below the view.
  {
    const cam = fr.cam;
    const tl = -cam.cx / cam.fx;
    const tr = (cam.width - cam.cx) / cam.fx;
    const tt = -cam.cy / cam.fy;
    const tb = (cam.height - cam.cy) / cam.fy;
    let left = 0;
    let right = 0;
    let above = 0;
    let below = 0;
    for (let k = 0; k < 8; k++) {
      const x = corners[3 * k]!;
      const y = corners[3 * k + 1]!;
      const z = corners[3 * k + 2]!;
      if (x < tl * z) left++;
      if (x > tr * z) right++;
      if (y < tt * z) above++;
      if (y > tb * z) below++;
    }
    if (left === 8 || right === 8 || above === 8 || below === 8) return;
  }
  // Part centre (camera frame) for normal orientation.
  let mx = 0;
  let my = 0;
  let mz = 0;
  for (let k = 0; k < 8; k++) {
    mx += corners[3 * k]! / 8;
    my += corners[3 * k + 1]! / 8;
    mz += corners[3 * k + 2]! / 8;
  }
  const light = fr.light;
  const cam = fr.cam;
  for (let fi = 0; fi < 5; fi++) {
    const fv = FACES[fi]!;
    const v0 = 3 * fv[0];
    const v1 = 3 * fv[1];
    const v3 = 3 * fv[3];
    const ox = corners[v0]!;
    const oy = corners[v0 + 1]!;
    const oz = corners[v0 + 2]!;
    const ex = corners[v1]! - ox;
    const ey = corners[v1 + 1]! - oy;
    const ez = corners[v1 + 2]! - oz;
    const ux = corners[v3]! - ox;
    const uy = corners[v3 + 1]! - oy;
    const uz = corners[v3 + 2]! - oz;
    let nx = ey * uz - ez * uy;
    let ny = ez * ux - ex * uz;
    let nz = ex * uy - ey * ux;
    // Outward: away from the part centre.
    if (nx * (ox - mx) + ny * (oy - my) + nz * (oz - mz) < 0) {
      nx = -nx;
      ny = -ny;
      nz = -nz;
    }
    const dpl = nx * ox + ny * oy + nz * oz;
    if (dpl >= -1e-12) continue; // back-facing (camera at the origin)
    // Near-plane clipping (Sutherland-Hodgman on z >= NEAR_PLANE).
    let n = 0;
    for (let k = 0; k < 4; k++) {
      const a = 3 * fv[k]!;
      const bIdx = 3 * fv[(k + 1) & 3]!;
      const za = corners[a + 2]!;
      const zb = corners[bIdx + 2]!;
      const ina = za >= NEAR_PLANE;
      const inb = zb >= NEAR_PLANE;
      if (ina) {
        polyC[3 * n] = corners[a]!;
        polyC[3 * n + 1] = corners[a + 1]!;
        polyC[3 * n + 2] = za;
        n++;
      }
      if (ina !== inb) {
        const t = (NEAR_PLANE - za) / (zb - za);
        polyC[3 * n] = corners[a]! + t * (corners[bIdx]! - corners[a]!);
        polyC[3 * n + 1] = corners[a + 1]! + t * (corners[bIdx + 1]! - corners[a + 1]!);
        polyC[3 * n + 2] = NEAR_PLANE;
        n++;
      }
    }
    if (n < 3) continue;
    let minx = Infinity;
    let maxx = -Infinity;
    let miny = Infinity;
    let maxy = -Infinity;
    for (let k = 0; k < n; k++) {
      const z = polyC[3 * k + 2]!;
      const sx = cam.cx + (cam.fx * polyC[3 * k]!) / z;
      const sy2 = cam.cy + (cam.fy * polyC[3 * k + 1]!) / z;
      polyS[2 * k] = sx;
      polyS[2 * k + 1] = sy2;
      if (sx < minx) minx = sx;
      if (sx > maxx) maxx = sx;
      if (sy2 < miny) miny = sy2;
      if (sy2 > maxy) maxy = sy2;
    }
    if (maxx < 0 || minx > fr.ctx.width || maxy < 0 || miny > fr.ctx.height) continue;
    // Lighting of the face: sun (normal in the ego frame), ego beams, street lamps.
    const nl = Math.hypot(nx, ny, nz);
    const cnx = nx / nl;
    const cny = ny / nl;
    const cnz = nz / nl;
    // camera -> ego direction: ego = (-s*y + c*z, -x, -c*y - s*z)
    const enx = -fr.sinP * cny + fr.cosP * cnz;
    const eny = -cnx;
    const enz = -fr.cosP * cny - fr.sinP * cnz;
    const sunDot = Math.max(0, enx * light.sun[0] + eny * light.sun[1] + enz * light.sun[2]);
    let L = light.ambient * (1 - light.directional + light.directional * 1.5 * sunDot);
    if (fr.egoBeam > 0 || fr.lampLight > 0) {
      // Face centre in the ego frame (approximate: mean of v0 and the opposite corner).
      const v2 = 3 * fv[2];
      const ccx = (ox + corners[v2]!) / 2;
      const ccy = (oy + corners[v2 + 1]!) / 2;
      const ccz = (oz + corners[v2 + 2]!) / 2;
      const gx = cam.position.x - fr.sinP * ccy + fr.cosP * ccz;
      const gy = cam.position.y - ccx;
      const facing = Math.max(0, -enx) * 0.8 + 0.2;
      L += egoBeamAt(fr, gx, gy) * facing * 1.2;
      if (fr.lampLight > 0)
        L += lampLightAt(fr, gx, gy - laneCenterY(fr.road, gx)) * (0.5 + 0.5 * Math.max(0, enz));
    }
    const isTop = fi === 4;
    let mat = fi === 0 ? p.front : fi === 1 ? p.rear : fi === 4 ? p.top : p.side;
    let base = p.color;
    if (isTop && mat === M_HEAD) {
      mat = M_PLAIN;
      base = p.alt;
    }
    const fc = face;
    fc.mat = mat;
    fc.light = L;
    fc.r = base[0] * L;
    fc.g = base[1] * L;
    fc.b = base[2] * L;
    fc.ar = p.alt[0] * L;
    fc.ag = p.alt[1] * L;
    fc.ab = p.alt[2] * L;
    fc.emissive = emissive;
    fc.sem = semCls;
    fc.owner = ownerIdx;
    fc.stampVal = ownerIdx + 1;
    fc.salt = salt;
    // Plane: invZ(u, v) = (n . (xn, yn, 1)) / dpl, xn = (u - cx) / fx.
    fc.pa = nx / cam.fx / dpl;
    fc.pb = ny / cam.fy / dpl;
    fc.pc = (nz - (nx * cam.cx) / cam.fx - (ny * cam.cy) / cam.fy) / dpl;
    fc.ox = ox;
    fc.oy = oy;
    fc.oz = oz;
    const e2 = ex * ex + ey * ey + ez * ez;
    const u2 = ux * ux + uy * uy + uz * uz;
    fc.ax = ex / e2;
    fc.ay = ey / e2;
    fc.az = ez / e2;
    fc.bx = ux / u2;
    fc.by = uy / u2;
    fc.bz = uz / u2;
    fc.fw = Math.sqrt(e2);
    fc.fh = Math.sqrt(u2);
    rasterPolygon(fr, n, selfCount);
  }
}

const BOX_EDGES: ReadonlyArray<readonly [number, number]> = [
  [0, 1],
  [1, 2],
  [2, 3],
  [3, 0],
  [4, 5],
  [5, 6],
  [6, 7],
  [7, 4],
  [0, 4],
  [1, 5],
  [2, 6],
  [3, 7],
];

/** Near-clipped projected 2D extent of an actor's full 3D box: [minU, minV, maxU, maxV] or null. */
function projectedExtent(fr: Frame, a: Actor): [number, number, number, number] | null {
  const cy = Math.cos(a.yaw);
  const sy = Math.sin(a.yaw);
  const hl = a.size.length / 2;
  const hw = a.size.width / 2;
  for (let k = 0; k < 8; k++) {
    const lx = k === 0 || k === 1 || k === 4 || k === 5 ? hl : -hl;
    const ly = k === 0 || k === 3 || k === 4 || k === 7 ? hw : -hw;
    const lz = k >= 4 ? a.size.height : 0;
    toCam(
      fr,
      a.position.x + cy * lx - sy * ly,
      a.position.y + sy * lx + cy * ly,
      a.position.z + lz,
      polyT,
      3 * k,
    );
  }
  const cam = fr.cam;
  let minU = Infinity;
  let maxU = -Infinity;
  let minV = Infinity;
  let maxV = -Infinity;
  const add = (x: number, y: number, z: number) => {
    const u = cam.cx + (cam.fx * x) / z;
    const v = cam.cy + (cam.fy * y) / z;
    if (u < minU) minU = u;
    if (u > maxU) maxU = u;
    if (v < minV) minV = v;
    if (v > maxV) maxV = v;
  };
  // Corners in front, and the near-plane crossings of the 12 edges.
  for (let k = 0; k < 8; k++) {
    const z = polyT[3 * k + 2]!;
    if (z >= NEAR_PLANE) add(polyT[3 * k]!, polyT[3 * k + 1]!, z);
  }
  for (const [k0, k1] of BOX_EDGES) {
    const z0 = polyT[3 * k0 + 2]!;
    const z1 = polyT[3 * k1 + 2]!;
    if (z0 >= NEAR_PLANE !== z1 >= NEAR_PLANE) {
      const t = (NEAR_PLANE - z0) / (z1 - z0);
      add(
        polyT[3 * k0]! + t * (polyT[3 * k1]! - polyT[3 * k0]!),
        polyT[3 * k0 + 1]! + t * (polyT[3 * k1 + 1]! - polyT[3 * k0 + 1]!),
        NEAR_PLANE,
      );
    }
  }
  return minU === Infinity ? null : [minU, minV, maxU, maxV];
}

// ---------------------------------------------------------------------------------------------
// 3. Lamps.

function drawGlow(fr: Frame, owner: Placed, lamp: Lamp, strength: number): void {
  const cy = Math.cos(owner.yaw);
  const sy = Math.sin(owner.yaw);
  const ex = owner.position.x + cy * lamp.x - sy * lamp.y;
  const ey = owner.position.y + sy * lamp.x + cy * lamp.y;
  toCam(fr, ex, ey, owner.position.z + lamp.z, polyT, 0);
  const z = polyT[2]!;
  if (z < 0.5) return;
  const cam = fr.cam;
  const ctx = fr.ctx;
  const u = cam.cx + (cam.fx * polyT[0]!) / z;
  const v = cam.cy + (cam.fy * polyT[1]!) / z;
  const i = Math.floor(u);
  const j = Math.floor(v);
  if (i < 0 || j < 0 || i >= ctx.width || j >= ctx.height) return;
  // Hidden if something is clearly nearer than the lamp at its centre pixel.
  const izBuf = ctx.invZ[j * ctx.width + i]!;
  if (izBuf > 0 && 1 / izBuf < z - 0.35) return;
  const R = Math.max(1.1, (lamp.radius * 2.2 * cam.fx) / z);
  const i0 = Math.max(0, Math.floor(u - R));
  const i1 = Math.min(ctx.width - 1, Math.ceil(u + R));
  const j0 = Math.max(0, Math.floor(v - R));
  const j1 = Math.min(ctx.height - 1, Math.ceil(v + R));
  const [lr, lg, lb] = lamp.color;
  for (let jj = j0; jj <= j1; jj++) {
    for (let ii = i0; ii <= i1; ii++) {
      const du = ii + 0.5 - u;
      const dv = jj + 0.5 - v;
      const q = 1 - (du * du + dv * dv) / (R * R);
      if (q <= 0) continue;
      const w = q * q * strength;
      const p = jj * ctx.width + ii;
      ctx.r[p] = ctx.r[p]! + lr * w;
      ctx.g[p] = ctx.g[p]! + lg * w;
      ctx.b[p] = ctx.b[p]! + lb * w;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Fog, precipitation, noise.

/** Standard-normal quantiles at the centres of 1024 equal-probability bins (noise by table lookup). */
const GAUSS_QUANTILES = (() => {
  // Inverse of the normal CDF by bisection; the CDF by a polynomial approximation.
  const phi = (x: number): number => {
    // Abramowitz-Stegun 26.2.17 (|error| < 7.5e-8).
    const t = 1 / (1 + 0.2316419 * Math.abs(x));
    const d = 0.3989422804014327 * Math.exp((-x * x) / 2);
    const p =
      d * t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
    return x >= 0 ? 1 - p : p;
  };
  const q = new Float32Array(1024);
  for (let i = 0; i < 1024; i++) {
    const target = (i + 0.5) / 1024;
    let lo = -6;
    let hi = 6;
    for (let it = 0; it < 60; it++) {
      const mid = (lo + hi) / 2;
      if (phi(mid) < target) lo = mid;
      else hi = mid;
    }
    q[i] = (lo + hi) / 2;
  }
  return q;
})();

/**
 * Fog, sensor noise and quantization in one pass over the float buffers into `out` (RGB bytes).
 * Fog: c' = c * k + fog * (1 - k), k = exp(-density * distance); a light haze (0.0025/m, towards the
 * horizon colour) applies in clear weather. The sky counts as 300 m away for the fog.
 * Noise: Gaussian, sigma in 0..255 units, from a fixed table walked with a seed-dependent start and stride.
 */
function finish(fr: Frame, density: number, sigma: number, seed: number, out: Uint8Array): void {
  const ctx = fr.ctx;
  const { r, g, b, invZ, rayLen } = ctx;
  const fogged = density > 0.003;
  const haze = Math.max(density, 0.0025);
  const hc = fogged ? fr.light.fogColor : fr.light.skyHorizon;
  const hR = hc[0];
  const hG = hc[1];
  const hB = hc[2];
  const skyK = density > 0 ? Math.exp(-density * 300) : 1;
  const skyR = fr.light.fogColor[0] * (1 - skyK);
  const skyG = fr.light.fogColor[1] * (1 - skyK);
  const skyB = fr.light.fogColor[2] * (1 - skyK);
  const n = ctx.width * ctx.height;
  const table = GAUSS_QUANTILES;
  const fogTable = ctx.fogTable(haze);
  // Clamping and rounding (half to even) by the typed array itself.
  const oc = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
  // One xorshift32 step per pixel; three 10-bit fields pick a normal quantile per channel.
  let x = hash3(seed, 0x40153, 9) | 1;
  const sg = sigma > 0 ? sigma : 0;
  for (let p = 0, q = 0; p < n; p++, q += 3) {
    const iz = invZ[p]!;
    let v0 = r[p]!;
    let v1 = g[p]!;
    let v2 = b[p]!;
    if (iz > 0) {
      const dq = (rayLen[p]! * FOG_STEPS_PER_M) / iz;
      const k = dq < FOG_TABLE_LAST ? fogTable[dq | 0]! : fogTable[FOG_TABLE_LAST]!;
      const k1 = 1 - k;
      v0 = v0 * k + hR * k1;
      v1 = v1 * k + hG * k1;
      v2 = v2 * k + hB * k1;
    } else if (skyK < 1) {
      v0 = v0 * skyK + skyR;
      v1 = v1 * skyK + skyG;
      v2 = v2 * skyK + skyB;
    }
    if (sg > 0) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      v0 += sg * table[x >>> 22]!;
      v1 += sg * table[(x >>> 12) & 1023]!;
      v2 += sg * table[(x >>> 2) & 1023]!;
    }
    oc[q] = v0;
    oc[q + 1] = v1;
    oc[q + 2] = v2;
  }
}

/** Blends colour (cr, cg, cb) with weight `alpha` into the RGB byte at pixel p. */
function blendByte(out: Uint8Array, p: number, cr: number, cg: number, cb: number, alpha: number): void {
  const q = 3 * p;
  out[q] = (out[q]! + (cr - out[q]!) * alpha + 0.5) | 0;
  out[q + 1] = (out[q + 1]! + (cg - out[q + 1]!) * alpha + 0.5) | 0;
  out[q + 2] = (out[q + 2]! + (cb - out[q + 2]!) * alpha + 0.5) | 0;
}

/** Rain streaks or snow flakes over the finished image (seeded by renderSeed). */
function drawPrecipitation(fr: Frame, state: WorldState, out: Uint8Array): void {
  const c = state.conditions;
  if ((c.weather !== 'rain' && c.weather !== 'snow') || c.precipitation <= 0) return;
  const W = fr.ctx.width;
  const H = fr.ctx.height;
  const scale = H / 96;
  const rng = new Rng(hash3(state.renderSeed, 0x7a1, 3));
  const bright = Math.max(0.3, Math.min(1, fr.light.ambient + 0.15));
  if (c.weather === 'rain') {
    const count = Math.round(c.precipitation * 0.009 * W * H);
    const slant = 0.22;
    const cr = 205 * bright;
    const cg = 210 * bright;
    const cb = 220 * bright;
    for (let s = 0; s < count; s++) {
      const x0 = rng.next() * W;
      const y0 = rng.next() * H;
      const len = Math.round((3 + rng.next() * 6) * scale);
      const alpha = 0.18 + rng.next() * 0.22;
      for (let k = 0; k < len; k++) {
        const j = Math.floor(y0 + k);
        const i = Math.floor(x0 + k * slant);
        if (j >= H || i >= W) break;
        blendByte(out, j * W + i, cr, cg, cb, alpha);
      }
    }
  } else {
    const count = Math.round(c.precipitation * 0.012 * W * H);
    const cr = 245 * bright;
    const cg = 247 * bright;
    const cb = 252 * bright;
    for (let s = 0; s < count; s++) {
      const x0 = Math.floor(rng.next() * W);
      const y0 = Math.floor(rng.next() * H);
      const size = rng.next() < 0.25 ? Math.max(1, Math.round(2 * scale)) : Math.max(1, Math.round(scale));
      const alpha = 0.55 + rng.next() * 0.35;
      for (let dj = 0; dj < size; dj++) {
        for (let di = 0; di < size; di++) {
          const i = x0 + di;
          const j = y0 + dj;
          if (i < W && j < H) blendByte(out, j * W + i, cr, cg, cb, alpha);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

function semanticOf(a: Actor): number {
  if (a.cls === 'car' || a.cls === 'truck') return SEM.vehicle;
  if (a.cls === 'pedestrian' || a.cls === 'cyclist') return SEM.person;
  return SEM.unknown;
}

const round2 = (v: number) => Math.round(v * 100) / 100;

/**
 * Renders the ego camera's view of `state`: RGB pixels, semantic and instance masks, and per-actor
 * visibility (2D box, truncation, occlusion, visible pixels, distance), all from the same geometry.
 * Deterministic: the same state (including renderSeed) gives byte-identical output.
 * Pass a RenderContext to reuse buffers across calls; the returned arrays are always fresh.
 */
export function renderCamera(
  state: WorldState,
  ctx: RenderContext = defaultContext,
  options: RenderOptions = {},
): CameraFrame {
  const cam = state.camera;
  ctx.prepare(cam);
  const light = lightingFor(state.conditions);
  const tod = state.conditions.timeOfDay;
  const edges = roadEdges(state.road);
  const fr: Frame = {
    cam,
    ctx,
    light,
    sinP: Math.sin(cam.pitch),
    cosP: Math.cos(cam.pitch),
    egoBeam: tod === 'night' ? 1 : tod === 'dusk' ? 0.35 : 0,
    lampLight: state.road.type === 'urban' && tod !== 'day' ? (tod === 'night' ? 0.9 : 0.25) : 0,
    road: state.road,
    odometer: state.odometer,
    roadRight: edges.right,
    roadLeft: edges.left,
    poolX: new Float64Array(MAX_POOLS),
    poolY: new Float64Array(MAX_POOLS),
    poolCount: 0,
    skyAvg: [
      (light.skyHorizon[0] + light.skyZenith[0]) / 2,
      (light.skyHorizon[1] + light.skyZenith[1]) / 2,
      (light.skyHorizon[2] + light.skyZenith[2]) / 2,
    ],
  };
  if (fr.egoBeam > 0) collectPools(fr, state.actors);
  drawBackground(fr);

  // Scenery (background class, no instance), from templates cached per road look.
  const sceneryLists: SceneryTemplate[][] = [];
  if (options.scenery !== false) {
    ctx.sceneryNear(state.road, state.odometer - 30, state.odometer + MAX_RENDER_DISTANCE + 10, sceneryLists);
  }
  const placed = ctx.placed;
  const sceneryVisible = (t: SceneryTemplate): boolean => {
    const dx = t.s - state.odometer - cam.position.x;
    return dx <= MAX_RENDER_DISTANCE && dx >= -10;
  };
  for (const list of sceneryLists) {
    for (const t of list) {
      if (!sceneryVisible(t)) continue;
      placeScenery(state.road, t, state.odometer, placed);
      for (const p of t.parts) drawPart(fr, placed, p, -1, SEM.background, false, t.salt, null);
    }
  }

  // Actors.
  const actors = state.actors;
  ctx.ensureActors(actors.length);
  const selfCount = ctx.selfCount;
  const drawn = ctx.drawn;
  const distances = ctx.distances;
  const visible = ctx.visible;
  ctx.stamp.fill(0);
  const appearances: Array<ReturnType<typeof actorAppearance> | null> = new Array<ReturnType<
    typeof actorAppearance
  > | null>(actors.length).fill(null);
  // Contact shadows first (they only darken visible ground), by day and at dusk.
  const shadowFactor =
    state.conditions.timeOfDay === 'night'
      ? 1
      : light.directional > 0.3
        ? 0.55
        : state.conditions.timeOfDay === 'dusk'
          ? 0.72
          : 0.7;
  if (shadowFactor < 1) {
    for (const a of actors) {
      const dx = a.position.x - cam.position.x;
      if (dx > -6 && dx < MAX_RENDER_DISTANCE && a.position.z < 0.2) drawShadow(fr, a, shadowFactor);
    }
  }
  for (let k = 0; k < actors.length; k++) {
    const a = actors[k]!;
    const cx = a.position.x - cam.position.x;
    const cyy = a.position.y - cam.position.y;
    const czz = a.position.z + a.size.height / 2 - cam.position.z;
    const dist = Math.sqrt(cx * cx + cyy * cyy + czz * czz);
    distances[k] = dist;
    if (dist > MAX_RENDER_DISTANCE) continue;
    const app = ctx.appearance(a);
    appearances[k] = app;
    drawn[k] = 1;
    const sem = semanticOf(a);
    for (const p of app.parts) drawPart(fr, a, p, k, sem, a.lightsOn, a.id, selfCount);
  }

  // Lamps.
  if (light.glow > 0) {
    const strength = 0.9 * light.glow;
    for (let k = 0; k < actors.length; k++) {
      const a = actors[k]!;
      const app = appearances[k];
      if (!a.lightsOn || app === null || app === undefined) continue;
      for (const lamp of app.lamps) drawGlow(fr, a, lamp, strength);
    }
    if (fr.lampLight > 0) {
      for (const list of sceneryLists) {
        for (const t of list) {
          if (t.lamps.length === 0 || !sceneryVisible(t)) continue;
          placeScenery(state.road, t, state.odometer, placed);
          for (const lamp of t.lamps) drawGlow(fr, placed, lamp, 0.8 * light.glow);
        }
      }
    }
  }

  const n = ctx.width * ctx.height;
  const reuse = options.reuseOutput === true;
  const rgb = reuse ? ctx.outRgb : new Uint8Array(n * 3);
  const sigma = options.noise === false ? 0 : Math.max(0, state.conditions.noiseSigma);
  finish(fr, Math.max(0, state.conditions.fogDensity), sigma, state.renderSeed, rgb);
  if (options.precipitation !== false) drawPrecipitation(fr, state, rgb);

  // Masks and visibility.
  let semantic: Uint8Array;
  let instance: Uint16Array;
  if (reuse) {
    semantic = ctx.outSem;
    semantic.set(ctx.sem);
    instance = ctx.outInst;
    instance.fill(0);
  } else {
    semantic = ctx.sem.slice(0, n);
    instance = new Uint16Array(n);
  }
  const own = ctx.owner;
  for (let p = 0; p < n; p++) {
    const o = own[p]!;
    if (o >= 0) {
      visible[o]!++;
      instance[p] = Math.min(65535, actors[o]!.id + 1);
    }
  }
  const visibility: ActorVisibility[] = actors.map((a, k) => {
    const distance = round2(distances[k]!);
    const culled: ActorVisibility = {
      id: a.id,
      bbox: null,
      truncation: 1,
      occlusion: 0,
      visiblePixels: 0,
      distance,
    };
    if (drawn[k] === 0) return culled;
    const ext = projectedExtent(fr, a);
    if (ext === null) return culled;
    const [u0, v0, u1, v1] = ext;
    const area = Math.max(0, u1 - u0) * Math.max(0, v1 - v0);
    const cu0 = Math.max(0, u0);
    const cv0 = Math.max(0, v0);
    const cu1 = Math.min(ctx.width, u1);
    const cv1 = Math.min(ctx.height, v1);
    if (cu1 <= cu0 || cv1 <= cv0 || area <= 0) return { ...culled, visiblePixels: visible[k]! };
    const clippedArea = (cu1 - cu0) * (cv1 - cv0);
    const self = selfCount[k]!;
    return {
      id: a.id,
      bbox: [round2(cu0), round2(cv0), round2(cu1 - cu0), round2(cv1 - cv0)],
      truncation: Math.round(Math.max(0, Math.min(1, 1 - clippedArea / area)) * 1e4) / 1e4,
      occlusion: self > 0 ? Math.round((1 - visible[k]! / self) * 1e4) / 1e4 : 0,
      visiblePixels: visible[k]!,
      distance,
    };
  });
  return { width: ctx.width, height: ctx.height, rgb, semantic, instance, visibility };
}
