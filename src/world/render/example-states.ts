/**
 * Hand-built world states for tests and the example frames: a plain straight road with a builder
 * for actors, and a few representative scenes (clear day in town, night, fog on the highway, rain
 * and snow in the country, dusk) that exercise every part of the renderer.
 */
import { defaultCamera } from '../camera-model.js';
import type { Actor, ActorClass, Conditions, Road, Rgb, WorldState } from '../types.js';

/** Conditions of a clear, noiseless day (override fields as needed). */
export function clearDay(overrides: Partial<Conditions> = {}): Conditions {
  return {
    weather: 'clear',
    timeOfDay: 'day',
    region: 'eu',
    fogDensity: 0,
    precipitation: 0,
    ambient: 1,
    noiseSigma: 0,
    ...overrides,
  };
}

/** A straight road: `laneCount` lanes of 3.5 m, the ego in `egoLane`, white markings. */
export function straightRoad(overrides: Partial<Road> = {}): Road {
  return {
    type: 'highway',
    laneCount: 3,
    laneWidth: 3.5,
    egoLane: 1,
    curvature: 0,
    headingOffset: 0,
    lateralOffset: 0,
    shoulderWidth: 2.5,
    oncomingLanes: 0,
    marking: {
      color: [235, 235, 230],
      centerColor: [235, 235, 230],
      dashLength: 6,
      gapLength: 12,
      width: 0.2,
    },
    surface: [80, 80, 84],
    ground: [74, 108, 52],
    ...overrides,
  };
}

const NOMINAL: Record<string, { length: number; width: number; height: number; cls: ActorClass }> = {
  sedan: { length: 4.6, width: 1.8, height: 1.45, cls: 'car' },
  hatchback: { length: 4.0, width: 1.75, height: 1.48, cls: 'car' },
  suv: { length: 4.8, width: 1.95, height: 1.75, cls: 'car' },
  van: { length: 5.3, width: 2.0, height: 2.2, cls: 'car' },
  box_truck: { length: 7.5, width: 2.4, height: 3.3, cls: 'truck' },
  semi: { length: 16, width: 2.55, height: 3.9, cls: 'truck' },
  adult: { length: 0.45, width: 0.6, height: 1.75, cls: 'pedestrian' },
  child: { length: 0.35, width: 0.45, height: 1.2, cls: 'pedestrian' },
  bicycle: { length: 1.8, width: 0.6, height: 1.75, cls: 'cyclist' },
  deer: { length: 1.6, width: 0.45, height: 1.4, cls: 'unknown' },
  debris_box: { length: 0.7, width: 0.6, height: 0.45, cls: 'unknown' },
};

/** An actor of a known subtype at ego-frame (x, y) with heading `yaw`; size from nominal tables. */
export function actorAt(
  id: number,
  subtype: keyof typeof NOMINAL,
  x: number,
  y: number,
  options: { yaw?: number; color?: Rgb; lightsOn?: boolean; speed?: number } = {},
): Actor {
  const n = NOMINAL[subtype]!;
  return {
    id,
    cls: n.cls,
    subtype,
    position: { x, y, z: 0 },
    size: { length: n.length, width: n.width, height: n.height },
    yaw: options.yaw ?? 0,
    speed: options.speed ?? 0,
    color: options.color ?? [170, 30, 35],
    lightsOn: options.lightsOn ?? false,
  };
}

/** A plain box actor (class unknown, subtype 'box': drawn as one box) for geometry tests. */
export function boxAt(
  id: number,
  x: number,
  y: number,
  size: { length: number; width: number; height: number },
  yaw = 0,
): Actor {
  return {
    id,
    cls: 'unknown',
    subtype: 'box',
    position: { x, y, z: 0 },
    size,
    yaw,
    speed: 0,
    color: [200, 120, 40],
    lightsOn: false,
  };
}

/** A world state on `road` with `actors` under `conditions`, seen by the default camera. */
export function worldState(
  options: {
    road?: Road;
    actors?: Actor[];
    conditions?: Conditions;
    width?: number;
    height?: number;
    odometer?: number;
    renderSeed?: number;
  } = {},
): WorldState {
  return {
    time: 0,
    road: options.road ?? straightRoad(),
    actors: options.actors ?? [],
    conditions: options.conditions ?? clearDay(),
    camera: defaultCamera(options.width ?? 192, options.height ?? 96),
    odometer: options.odometer ?? 0,
    renderSeed: options.renderSeed ?? 1,
  };
}

/** Lateral position (ego y) of the centre of lane `lane` on a road like straightRoad's. */
function laneY(road: Road, lane: number): number {
  return road.lateralOffset + (lane - road.egoLane) * road.laneWidth;
}

const PAINT: Rgb[] = [
  [170, 30, 35],
  [220, 220, 225],
  [30, 60, 130],
  [40, 40, 45],
  [140, 140, 150],
  [200, 170, 40],
  [60, 110, 70],
];

/** One named example scene. */
export interface ExampleScene {
  name: string;
  title: string;
  state: WorldState;
}

/**
 * Representative scenes: clear day (urban), night (urban), fog (highway), rain (rural), snow (rural)
 * and dusk (highway), each with cars, trucks, pedestrians or cyclists where they belong.
 */
export function exampleScenes(width = 384, height = 192): ExampleScene[] {
  const urban = straightRoad({
    type: 'urban',
    laneCount: 2,
    egoLane: 0,
    laneWidth: 3.3,
    oncomingLanes: 1,
    shoulderWidth: 5,
    curvature: 1 / 600,
    marking: {
      color: [235, 235, 230],
      centerColor: [236, 186, 40],
      dashLength: 3,
      gapLength: 6,
      width: 0.14,
    },
    surface: [76, 76, 80],
    ground: [132, 128, 122],
  });
  const cityActors = (lights: boolean): Actor[] => [
    actorAt(1, 'sedan', 19, laneY(urban, 0) + 0.3, { color: PAINT[2]!, lightsOn: lights }),
    actorAt(2, 'suv', 34, laneY(urban, 0) + 0.6, { color: PAINT[1]!, lightsOn: lights }),
    actorAt(3, 'van', 26, laneY(urban, 1) + 0.9, { yaw: Math.PI, color: PAINT[4]!, lightsOn: lights }),
    actorAt(4, 'hatchback', 48, laneY(urban, 1) + 1.1, {
      yaw: Math.PI + 0.03,
      color: PAINT[0]!,
      lightsOn: lights,
    }),
    actorAt(5, 'adult', 14.5, -3.9, { yaw: Math.PI / 2, color: [40, 90, 160] }),
    actorAt(6, 'adult', 21, 6.1, { yaw: -Math.PI / 2, color: [160, 60, 50] }),
    actorAt(7, 'child', 21.4, 6.7, { yaw: -Math.PI / 2, color: [220, 180, 40] }),
    actorAt(8, 'bicycle', 11, -1.2, { color: [30, 140, 70], lightsOn: lights }),
    actorAt(9, 'sedan', 9, -4.4, { color: PAINT[5]!, lightsOn: false }),
    actorAt(10, 'box_truck', 70, laneY(urban, 0) + 2.1, { color: PAINT[3]!, lightsOn: lights }),
  ];
  const highway = straightRoad({ laneCount: 3, egoLane: 1, curvature: -1 / 1200, shoulderWidth: 3 });
  const highwayActors = (lights: boolean): Actor[] => [
    actorAt(1, 'sedan', 22, laneY(highway, 1), { color: PAINT[1]!, lightsOn: lights }),
    actorAt(2, 'semi', 40, laneY(highway, 0) - 0.1, { color: PAINT[0]!, lightsOn: lights }),
    actorAt(3, 'suv', 30, laneY(highway, 2) + 0.5, { color: PAINT[3]!, lightsOn: lights }),
    actorAt(4, 'hatchback', 60, laneY(highway, 1) - 0.4, { color: PAINT[6]!, lightsOn: lights }),
    actorAt(5, 'box_truck', 85, laneY(highway, 2) + 1.2, { color: PAINT[2]!, lightsOn: lights }),
  ];
  const rural = straightRoad({
    type: 'rural',
    laneCount: 2,
    egoLane: 0,
    laneWidth: 3.25,
    oncomingLanes: 1,
    shoulderWidth: 1.5,
    curvature: 1 / 400,
    marking: {
      color: [235, 235, 230],
      centerColor: [236, 186, 40],
      dashLength: 3,
      gapLength: 9,
      width: 0.12,
    },
    surface: [72, 72, 74],
    ground: [86, 112, 56],
  });
  const ruralActors = (lights: boolean): Actor[] => [
    actorAt(1, 'hatchback', 18, laneY(rural, 0) + 0.2, { color: PAINT[0]!, lightsOn: lights }),
    actorAt(2, 'box_truck', 40, laneY(rural, 1) + 1.9, {
      yaw: Math.PI + 0.05,
      color: PAINT[1]!,
      lightsOn: lights,
    }),
    actorAt(3, 'bicycle', 11, -1.7, { color: [200, 200, 40], lightsOn: lights }),
    actorAt(4, 'adult', 28, -3.2, { color: [60, 60, 70] }),
    actorAt(5, 'deer', 55, 5.5, { yaw: Math.PI / 2, color: [140, 100, 60] }),
  ];
  return [
    {
      name: 'clear-day-urban',
      title: 'Clear day, urban',
      state: worldState({
        road: urban,
        actors: cityActors(false),
        width,
        height,
        odometer: 3,
        conditions: clearDay({ noiseSigma: 2 }),
      }),
    },
    {
      name: 'night-urban',
      title: 'Night, urban (street lamps, head and tail lights)',
      state: worldState({
        road: urban,
        actors: cityActors(true),
        width,
        height,
        odometer: 3,
        conditions: clearDay({ timeOfDay: 'night', ambient: 0.06, noiseSigma: 8 }),
      }),
    },
    {
      name: 'fog-highway',
      title: 'Fog, highway',
      state: worldState({
        road: highway,
        actors: highwayActors(true),
        width,
        height,
        odometer: 5,
        conditions: clearDay({ weather: 'fog', fogDensity: 0.035, ambient: 0.8, noiseSigma: 2 }),
      }),
    },
    {
      name: 'rain-rural',
      title: 'Rain, rural',
      state: worldState({
        road: rural,
        actors: ruralActors(true),
        width,
        height,
        odometer: 2,
        renderSeed: 7,
        conditions: clearDay({
          weather: 'rain',
          precipitation: 0.7,
          fogDensity: 0.006,
          ambient: 0.7,
          noiseSigma: 3,
        }),
      }),
    },
    {
      name: 'snow-rural',
      title: 'Snow, rural',
      state: worldState({
        road: { ...rural, curvature: -1 / 500 },
        actors: ruralActors(true),
        width,
        height,
        odometer: 8,
        renderSeed: 9,
        conditions: clearDay({
          weather: 'snow',
          precipitation: 0.5,
          fogDensity: 0.012,
          ambient: 0.85,
          noiseSigma: 2,
        }),
      }),
    },
    {
      name: 'dusk-highway',
      title: 'Dusk, highway',
      state: worldState({
        road: highway,
        actors: highwayActors(true),
        width,
        height,
        odometer: 11,
        conditions: clearDay({ timeOfDay: 'dusk', ambient: 0.45, noiseSigma: 4 }),
      }),
    },
  ];
}
