/**
 * Road geometry shared by the camera and the LiDAR: the ego lane's centre line, the lateral road
 * coordinate of a ground point, what surface a ground point is (ground, shoulder, road, marking),
 * and the roadside scenery (buildings and street lamps in town, trees in the country) placed along
 * the road at fixed along-road positions so that it stays put while the ego drives by.
 */
import { MAT, type Lamp, type Part } from './parts.js';
import { hash3 } from './rng.js';
import type { Road, Rgb, Vec3 } from '../types.js';

/** Lateral position (ego y) of the ego lane's centre at longitudinal position x. */
export function laneCenterY(road: Road, x: number): number {
  return road.lateralOffset + road.headingOffset * x + (road.curvature * x * x) / 2;
}

/** Direction of the road at x, radians from ego +x. */
export function roadHeading(road: Road, x: number): number {
  return Math.atan(road.headingOffset + road.curvature * x);
}

/** Signed lateral road coordinate of an ego-frame ground point: 0 on the ego lane centre, + to the left. */
export function roadLateral(road: Road, x: number, y: number): number {
  return (y - laneCenterY(road, x)) * Math.cos(roadHeading(road, x));
}

/** Lateral coordinates of the road's right and left edges (outer lane boundaries). */
export function roadEdges(road: Road): { right: number; left: number } {
  const right = -(road.egoLane + 0.5) * road.laneWidth;
  return { right, left: right + road.laneCount * road.laneWidth };
}

/** Surface kinds of the ground plane. */
export const SURFACE = { ground: 0, shoulder: 1, road: 2, marking: 3 } as const;

/** Length covered by dashes in [0, s) of a dash pattern with the given dash and gap lengths. */
export function dashCoverage(s: number, dash: number, gap: number): number {
  const period = dash + gap;
  const k = Math.floor(s / period);
  return k * dash + Math.min(s - k * period, dash);
}

/** What surface the ground point (x, y) of the ego frame is, with the ego at `odometer` along the road. */
export function surfaceAt(road: Road, x: number, y: number, odometer: number): number {
  const l = roadLateral(road, x, y);
  const { right, left } = roadEdges(road);
  const hw = road.marking.width / 2;
  const W = road.laneWidth;
  if (l >= right - hw && l <= left + hw) {
    const j = Math.max(0, Math.min(road.laneCount, Math.round((l - right) / W)));
    if (Math.abs(l - right - j * W) <= hw) {
      const centre = road.laneCount - Math.max(0, Math.min(road.laneCount, road.oncomingLanes ?? 0));
      if (j === 0 || j === road.laneCount || j === centre) return SURFACE.marking;
      const s = x + odometer;
      const period = road.marking.dashLength + road.marking.gapLength;
      if (s - Math.floor(s / period) * period < road.marking.dashLength) return SURFACE.marking;
    }
    return l >= right && l <= left ? SURFACE.road : SURFACE.shoulder;
  }
  if (l >= right - road.shoulderWidth && l <= left + road.shoulderWidth) return SURFACE.shoulder;
  return SURFACE.ground;
}

/** A static thing beside the road: parts in its local frame, placed in the ego frame. */
export interface SceneryItem {
  position: Vec3;
  yaw: number;
  parts: Part[];
  lamps: Lamp[];
  /** Per-item salt for texture hashes (stable while it is in view). */
  salt: number;
}

const WALLS: Rgb[] = [
  [178, 160, 140],
  [150, 150, 155],
  [190, 180, 165],
  [130, 110, 95],
  [200, 200, 205],
  [120, 130, 140],
];

/** Spacing of street lamps along urban roads, metres. */
export const LAMP_SPACING = 30;
/** Height of street lamps, metres. */
export const LAMP_HEIGHT = 6.5;

/** A scenery item in road coordinates: `s` metres along the road, `lateral` metres left of the ego lane centre. */
export interface SceneryTemplate {
  s: number;
  lateral: number;
  parts: Part[];
  lamps: Lamp[];
  salt: number;
}

function plainPart(
  length: number,
  width: number,
  height: number,
  z: number,
  color: Rgb,
  mat: number = MAT.plain,
  y = 0,
  x = 0,
  top: number = MAT.plain,
): Part {
  return { x, y, z, length, width, height, color, alt: color, front: mat, rear: mat, side: mat, top };
}

/**
 * The roadside scenery whose units start in [sMin, sMax) metres along the road (a unit is a building
 * block, a lamp pair or a tree slot): urban roads get building blocks and street lamps, rural roads
 * trees, highways nothing. A pure function of the road's layout and colours: the same stretch of road
 * always gets the same scenery, so it stays put while the ego drives by.
 */
export function sceneryTemplates(road: Road, sMin: number, sMax: number): SceneryTemplate[] {
  const out: SceneryTemplate[] = [];
  const { right, left } = roadEdges(road);
  const salt =
    hash3(road.surface[0] * 65536 + road.ground[0] * 256 + road.ground[1], road.laneCount, 77) & 0xffff;
  if (road.type === 'urban') {
    const block = 16;
    for (let k = Math.ceil(sMin / block); k * block < sMax; k++) {
      for (const side of [-1, 1]) {
        const h = hash3(k, side, salt);
        if ((h & 7) === 0) continue; // a gap between buildings now and then
        const depth = 8 + (h % 7);
        const height = 6 + ((h >>> 4) % 17);
        const len = block - 1 - ((h >>> 9) % 3);
        const setback = 1 + ((h >>> 12) % 3);
        const edge = side > 0 ? left + road.shoulderWidth : right - road.shoulderWidth;
        const wall = WALLS[(h >>> 16) % WALLS.length]!;
        out.push({
          s: k * block + block / 2,
          lateral: edge + side * (setback + depth / 2),
          parts: [plainPart(len, depth, height, 0, wall, MAT.building)],
          lamps: [],
          salt: h,
        });
      }
    }
    for (let k = Math.ceil(sMin / LAMP_SPACING); k * LAMP_SPACING < sMax; k++) {
      for (const side of [-1, 1]) {
        const edge = side > 0 ? left + road.shoulderWidth * 0.7 : right - road.shoulderWidth * 0.7;
        const arm = -side * 0.9;
        out.push({
          s: k * LAMP_SPACING + (side > 0 ? LAMP_SPACING / 2 : 0),
          lateral: edge,
          parts: [
            plainPart(0.16, 0.16, LAMP_HEIGHT, 0, [70, 72, 76]),
            plainPart(0.35, 1.9, 0.14, LAMP_HEIGHT - 0.1, [90, 90, 95], MAT.plain, arm * 0.55),
            plainPart(0.45, 0.5, 0.12, LAMP_HEIGHT - 0.2, [200, 200, 190], MAT.lampHead, arm),
          ],
          lamps: [{ x: 0, y: arm, z: LAMP_HEIGHT - 0.25, color: [255, 220, 160], radius: 0.7 }],
          salt: k,
        });
      }
    }
  } else if (road.type === 'rural') {
    const spacing = 9;
    for (let k = Math.ceil(sMin / spacing); k * spacing < sMax; k++) {
      for (const side of [-1, 1]) {
        const h = hash3(k, side * 3, salt);
        if (h % 3 === 0) continue;
        const edge = side > 0 ? left + road.shoulderWidth : right - road.shoulderWidth;
        const off = 2 + ((h >>> 3) % 9);
        const crown = 2.5 + ((h >>> 8) % 3);
        const trunkH = 1.8 + ((h >>> 11) % 3) * 0.4;
        const green: Rgb = [40 + ((h >>> 14) % 30), 85 + ((h >>> 18) % 40), 35 + ((h >>> 22) % 20)];
        out.push({
          s: k * spacing + ((h >>> 24) % 5),
          lateral: edge + side * (off + crown / 2),
          parts: [
            plainPart(0.35, 0.35, trunkH, 0, [85, 62, 45]),
            plainPart(crown, crown, crown * 1.3, trunkH, green, MAT.foliage, 0, 0, MAT.foliage),
          ],
          lamps: [],
          salt: h,
        });
      }
    }
  }
  return out;
}

/** Places a scenery template in the ego frame for the ego at `odometer` (writes into `out`). */
export function placeScenery(
  road: Road,
  t: SceneryTemplate,
  odometer: number,
  out: { position: Vec3; yaw: number },
): void {
  const x = t.s - odometer;
  const yaw = roadHeading(road, x);
  out.position.x = x;
  out.position.y = laneCenterY(road, x) + t.lateral / Math.cos(yaw);
  out.position.z = 0;
  out.yaw = yaw;
}

/**
 * The roadside scenery in view for a road and odometer, from `xMin` to `xMax` metres ahead of the
 * ego, placed in the ego frame (see sceneryTemplates).
 */
export function sceneryFor(road: Road, odometer: number, xMin = -5, xMax = 140): SceneryItem[] {
  return sceneryTemplates(road, odometer + xMin - 20, odometer + xMax)
    .filter((t) => t.s - odometer >= xMin && t.s - odometer <= xMax)
    .map((t) => {
      const placed = { position: { x: 0, y: 0, z: 0 }, yaw: 0 };
      placeScenery(road, t, odometer, placed);
      return { ...placed, parts: t.parts, lamps: t.lamps, salt: t.salt };
    });
}
