/**
 * The ego's view of the world: the road-frame -> ego-frame transform (origin under the rear axle,
 * ISO 8855 like src/world), the ego lane corridor, and the WorldState the renderer draws each
 * perception frame (road, actors and conditions as src/world understands them).
 */
import { roadStyle } from '../../world/appearance.js';
import type { Actor, Camera, Conditions, Region, Rgb, Road, WorldState } from '../../world/types.js';
import type { SimRoad } from '../types.js';
import type { Body } from './dynamics.js';
import { laneCenter, laneIdAt } from './storyboard.js';

/** Rear overhang as a fraction of the ego length (a mid-size car: 1.0 m of 4.7 m). */
export const REAR_OVERHANG_FRACTION = 0.21;

/** The ego pose the transforms use: rear-axle origin and heading in the road frame. */
export interface EgoFrame {
  rx: number;
  ry: number;
  h: number;
  c: number;
  s: number;
  /** Ego front bumper, metres ahead of the rear axle. */
  front: number;
  /** Ego rear bumper, metres ahead of the rear axle (negative). */
  rear: number;
  halfWidth: number;
  /** Ego lane id (OpenDRIVE) and its boundaries in the road frame (y right, y left). */
  laneId: number;
  laneRight: number;
  laneLeft: number;
}

/** The ego frame of an ego body whose lane is the one at `laneY` (its lateral target). */
export function egoFrame(ego: Body, road: SimRoad, laneY: number, out?: EgoFrame): EgoFrame {
  const L = ego.spec.size.length;
  const back = L / 2 - REAR_OVERHANG_FRACTION * L;
  const c = Math.cos(ego.h);
  const s = Math.sin(ego.h);
  const laneId = laneIdAt(road, laneY);
  const yc = laneCenter(road, laneId);
  const f = out ?? ({} as EgoFrame);
  f.rx = ego.x - c * back;
  f.ry = ego.y - s * back;
  f.h = ego.h;
  f.c = c;
  f.s = s;
  f.front = L - REAR_OVERHANG_FRACTION * L;
  f.rear = -REAR_OVERHANG_FRACTION * L;
  f.halfWidth = ego.spec.size.width / 2;
  f.laneId = laneId;
  f.laneRight = yc - road.laneWidth / 2;
  f.laneLeft = yc + road.laneWidth / 2;
  return f;
}

/** Road-frame point -> ego frame (x forward, y left). */
export function toEgo(f: EgoFrame, x: number, y: number): { x: number; y: number } {
  const dx = x - f.rx;
  const dy = y - f.ry;
  return { x: f.c * dx + f.s * dy, y: -f.s * dx + f.c * dy };
}

/** The fixed look of a run: region, road colours, actor colours (drawn from the seed once). */
export interface RunLook {
  region: Region;
  road: Pick<Road, 'marking' | 'surface' | 'ground'>;
  colors: Rgb[];
  lightsOn: boolean;
}

/** The look of a road type in a region, as src/world draws it. */
export function roadLook(region: Region, type: SimRoad['roadType']): RunLook['road'] {
  const st = roadStyle(region, type);
  return {
    marking: {
      color: st.markingColor,
      centerColor: st.centerColor,
      dashLength: st.dashLength,
      gapLength: st.gapLength,
      width: st.markingWidth,
    },
    surface: st.surface,
    ground: st.ground,
  };
}

/**
 * The world state the ego camera sees: the straight SimRoad as a src/world Road relative to the
 * ego (ego lane index counted from the right, lateral offset and heading of its centre line), and
 * every other body as an Actor in the ego frame.
 */
export function buildWorldState(
  f: EgoFrame,
  road: SimRoad,
  bodies: readonly Body[],
  egoIndex: number,
  look: RunLook,
  conditions: Conditions,
  camera: Camera,
  time: number,
  renderSeed: number,
): WorldState {
  const k = Math.min(road.laneCount, Math.max(1, -f.laneId));
  const yc = laneCenter(road, -k);
  const actors: Actor[] = [];
  for (const b of bodies) {
    if (b.index === egoIndex) continue;
    const p = toEgo(f, b.x, b.y);
    actors.push({
      id: b.index + 1,
      cls: b.spec.cls,
      subtype: b.spec.subtype,
      position: { x: p.x, y: p.y, z: 0 },
      size: b.spec.size,
      yaw: b.h - f.h,
      speed: b.v,
      color: look.colors[b.index] ?? [128, 128, 128],
      lightsOn: look.lightsOn && b.spec.cls !== 'pedestrian',
    });
  }
  return {
    time,
    road: {
      type: road.roadType,
      laneCount: road.laneCount,
      laneWidth: road.laneWidth,
      egoLane: road.laneCount - k,
      curvature: 0,
      headingOffset: Math.tan(-f.h),
      lateralOffset: (yc - f.ry) / f.c,
      shoulderWidth: road.shoulderWidth,
      oncomingLanes: 0,
      ...look.road,
    },
    actors,
    conditions,
    camera,
    odometer: f.rx,
    renderSeed,
  };
}
