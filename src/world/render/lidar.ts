/**
 * A simple ray-cast LiDAR over the same world state the camera draws: a spinning sensor with
 * `beams` lasers spread evenly over a vertical field of view, fired every `horizontalResolution`
 * degrees of azimuth. Each ray returns the nearest hit among the ground plane and the actors' 3D
 * boxes within `maxRange`; points are in the ego frame with an intensity by surface and incidence,
 * and the id of the actor hit (-1 for the ground). Optional Gaussian range noise and fog dropout are
 * seeded, so the same state and configuration give the same points.
 */
import { Rng } from '../random.js';
import { surfaceAt, SURFACE } from './road.js';
import { hash3 } from './rng.js';
import type { LidarPoint, Vec3, WorldState } from '../types.js';

/** LiDAR configuration. Angles in degrees, distances in metres. */
export interface LidarConfig {
  /** Number of lasers (rows). */
  beams: number;
  /** Lowest and highest beam elevation, degrees (negative is down). */
  verticalFov: [number, number];
  /** Azimuth step, degrees. */
  horizontalResolution: number;
  /** Azimuth coverage centred on ego +x, degrees (360 for a spinning sensor). */
  horizontalFov: number;
  maxRange: number;
  /** Sensor origin in the ego frame. */
  position: Vec3;
  /** Standard deviation of Gaussian range noise, metres (0: none). */
  rangeNoise: number;
  /** Drop returns in fog with probability 1 - exp(-2 * fogDensity * range) (two-way extinction). */
  fogDropout: boolean;
  /** Seed mixed with state.renderSeed for the noise and dropout. */
  seed: number;
}

/** A 32-beam roof LiDAR: -25..+5 degrees, 0.4 degree azimuth steps over 360 degrees, 100 m range. */
export function defaultLidar(): LidarConfig {
  return {
    beams: 32,
    verticalFov: [-25, 5],
    horizontalResolution: 0.4,
    horizontalFov: 360,
    maxRange: 100,
    position: { x: 1.3, y: 0, z: 1.9 },
    rangeNoise: 0.02,
    fogDropout: true,
    seed: 0,
  };
}

/** Base reflectivity by ground surface kind (ground, shoulder, road, marking). */
const SURFACE_INTENSITY = [0.12, 0.18, 0.22, 0.75];

interface BoxCache {
  id: number;
  cx: number;
  cy: number;
  z0: number;
  z1: number;
  c: number;
  s: number;
  hl: number;
  hw: number;
  reflect: number;
  /** Azimuth interval from the sensor (radians, az0 <= az1, may extend past +-pi), or null: any. */
  az0: number;
  az1: number;
  any: boolean;
}

function wrapPi(a: number): number {
  return a - 2 * Math.PI * Math.floor((a + Math.PI) / (2 * Math.PI));
}

/**
 * Casts the LiDAR's rays over `state` and returns the hits (ego frame), in firing order
 * (azimuth-major, beams bottom to top). Returns nothing for rays that hit nothing within range.
 */
export function renderLidar(state: WorldState, config: Partial<LidarConfig> = {}): LidarPoint[] {
  const cfg: LidarConfig = { ...defaultLidar(), ...config };
  const o = cfg.position;
  const boxes: BoxCache[] = [];
  for (const a of state.actors) {
    const dx = a.position.x - o.x;
    const dy = a.position.y - o.y;
    const reach = Math.hypot(a.size.length, a.size.width) / 2;
    if (Math.hypot(dx, dy) - reach > cfg.maxRange) continue;
    const c = Math.cos(a.yaw);
    const s = Math.sin(a.yaw);
    const hl = a.size.length / 2;
    const hw = a.size.width / 2;
    // Azimuth interval of the footprint corners as seen from the sensor.
    const base = Math.atan2(dy, dx);
    let lo = Infinity;
    let hi = -Infinity;
    for (const [u, v] of [
      [hl, hw],
      [hl, -hw],
      [-hl, -hw],
      [-hl, hw],
    ] as const) {
      const px = a.position.x + c * u - s * v - o.x;
      const py = a.position.y + s * u + c * v - o.y;
      const rel = wrapPi(Math.atan2(py, px) - base);
      lo = Math.min(lo, rel);
      hi = Math.max(hi, rel);
    }
    const inside = Math.hypot(dx, dy) <= reach + 0.5;
    boxes.push({
      id: a.id,
      cx: a.position.x,
      cy: a.position.y,
      z0: a.position.z,
      z1: a.position.z + a.size.height,
      c,
      s,
      hl,
      hw,
      reflect: a.cls === 'car' || a.cls === 'truck' ? 0.5 : a.cls === 'unknown' ? 0.3 : 0.35,
      az0: base + lo - 0.01,
      az1: base + hi + 0.01,
      any: inside || hi - lo > Math.PI,
    });
  }
  const rng = new Rng(hash3(state.renderSeed, cfg.seed, 0x11da));
  const fog = Math.max(0, state.conditions.fogDensity);
  const out: LidarPoint[] = [];
  const cols = Math.max(1, Math.round(cfg.horizontalFov / cfg.horizontalResolution));
  const step = (cfg.horizontalResolution * Math.PI) / 180;
  const az0 = (-cfg.horizontalFov / 2) * (Math.PI / 180) + step / 2;
  const elLo = (cfg.verticalFov[0] * Math.PI) / 180;
  const elHi = (cfg.verticalFov[1] * Math.PI) / 180;
  const beams = Math.max(1, Math.floor(cfg.beams));
  const sinEl = new Float64Array(beams);
  const cosEl = new Float64Array(beams);
  for (let k = 0; k < beams; k++) {
    const el = beams === 1 ? elLo : elLo + ((elHi - elLo) * k) / (beams - 1);
    sinEl[k] = Math.sin(el);
    cosEl[k] = Math.cos(el);
  }
  const cand: BoxCache[] = [];
  for (let col = 0; col < cols; col++) {
    const az = az0 + col * step;
    const ca = Math.cos(az);
    const sa = Math.sin(az);
    cand.length = 0;
    for (const b of boxes) {
      if (b.any) {
        cand.push(b);
        continue;
      }
      const rel = b.az0 + wrapPi(az - b.az0 - Math.PI) + Math.PI; // az shifted into [az0, az0 + 2pi)
      if (rel <= b.az1) cand.push(b);
    }
    for (let k = 0; k < beams; k++) {
      const dx = cosEl[k]! * ca;
      const dy = cosEl[k]! * sa;
      const dz = sinEl[k]!;
      let tBest = cfg.maxRange;
      let id = -1;
      let intensity = 0;
      if (dz < -1e-9) {
        const t = (o.z - 0) / -dz;
        if (t < tBest) {
          tBest = t;
          const kind = surfaceAt(state.road, o.x + t * dx, o.y + t * dy, state.odometer);
          intensity = SURFACE_INTENSITY[kind] ?? 0.1;
          intensity *= 0.5 + 0.5 * -dz;
          if (kind === SURFACE.marking) intensity = Math.max(intensity, 0.6);
        }
      }
      for (const b of cand) {
        // Ray in the box frame.
        const rx = o.x - b.cx;
        const ry = o.y - b.cy;
        const lox = b.c * rx + b.s * ry;
        const loy = -b.s * rx + b.c * ry;
        const ldx = b.c * dx + b.s * dy;
        const ldy = -b.s * dx + b.c * dy;
        let tmin = 0;
        let tmax = tBest;
        let axis = -1;
        // x slab
        if (Math.abs(ldx) < 1e-12) {
          if (lox < -b.hl || lox > b.hl) continue;
        } else {
          let t1 = (-b.hl - lox) / ldx;
          let t2 = (b.hl - lox) / ldx;
          if (t1 > t2) [t1, t2] = [t2, t1];
          if (t1 > tmin) {
            tmin = t1;
            axis = 0;
          }
          if (t2 < tmax) tmax = t2;
          if (tmin > tmax) continue;
        }
        if (Math.abs(ldy) < 1e-12) {
          if (loy < -b.hw || loy > b.hw) continue;
        } else {
          let t1 = (-b.hw - loy) / ldy;
          let t2 = (b.hw - loy) / ldy;
          if (t1 > t2) [t1, t2] = [t2, t1];
          if (t1 > tmin) {
            tmin = t1;
            axis = 1;
          }
          if (t2 < tmax) tmax = t2;
          if (tmin > tmax) continue;
        }
        if (Math.abs(dz) < 1e-12) {
          if (o.z < b.z0 || o.z > b.z1) continue;
        } else {
          let t1 = (b.z0 - o.z) / dz;
          let t2 = (b.z1 - o.z) / dz;
          if (t1 > t2) [t1, t2] = [t2, t1];
          if (t1 > tmin) {
            tmin = t1;
            axis = 2;
          }
          if (t2 < tmax) tmax = t2;
          if (tmin > tmax) continue;
        }
        if (axis < 0 || tmin >= tBest) continue; // sensor inside the box, or farther than the best
        tBest = tmin;
        id = b.id;
        const cosInc = axis === 0 ? Math.abs(ldx) : axis === 1 ? Math.abs(ldy) : Math.abs(dz);
        intensity = b.reflect * (0.3 + 0.7 * cosInc);
      }
      if (tBest >= cfg.maxRange) continue;
      if (cfg.fogDropout && fog > 0 && rng.next() > Math.exp(-2 * fog * tBest)) continue;
      const r = cfg.rangeNoise > 0 ? Math.max(0, tBest + rng.normal(0, cfg.rangeNoise)) : tBest;
      out.push({
        x: o.x + r * dx,
        y: o.y + r * dy,
        z: o.z + r * dz,
        intensity: Math.round(intensity * 1000) / 1000,
        actorId: id,
      });
    }
  }
  return out;
}
