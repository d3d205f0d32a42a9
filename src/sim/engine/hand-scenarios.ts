/**
 * Hand-built scenarios (no OpenSCENARIO file needed) for tests, benchmarks and checks: a
 * CCRs-like stationary car ahead and a CPNA-like pedestrian crossing from the nearside.
 */
import type { EntitySpec, Scenario, ScenarioVariant, SimEnvironment, SimRoad } from '../types.js';

/** A Euro NCAP-like passenger car (ego or target), 4.6 x 1.8 m. */
export function carSpec(name: string, isEgo = false): EntitySpec {
  return {
    name,
    isEgo,
    cls: 'car',
    subtype: 'sedan',
    size: { length: 4.6, width: 1.8, height: 1.45 },
    maxSpeed: 60,
    maxAcceleration: 4,
    maxDeceleration: 10,
  };
}

/** An adult pedestrian (NCAP EPTa-like: 0.6 m wide, 1.8 m tall). */
export function pedestrianSpec(name: string): EntitySpec {
  return {
    name,
    isEgo: false,
    cls: 'pedestrian',
    subtype: 'adult',
    size: { length: 0.45, width: 0.6, height: 1.75 },
    maxSpeed: 3,
    maxAcceleration: 2,
    maxDeceleration: 2,
  };
}

/** A straight road of `laneCount` 3.5 m lanes. */
export function straightSimRoad(overrides: Partial<SimRoad> = {}): SimRoad {
  return {
    file: 'hand-built.xodr',
    length: 1000,
    laneCount: 2,
    laneWidth: 3.5,
    shoulderWidth: 2.5,
    speedLimit: 80 / 3.6,
    roadType: 'rural',
    ...overrides,
  };
}

/** An environment (clear day unless overridden). */
export function environment(overrides: Partial<SimEnvironment> = {}): SimEnvironment {
  return {
    weather: 'clear',
    timeOfDay: 'day',
    fogVisualRange: null,
    precipitationIntensity: null,
    dateTime: null,
    ...overrides,
  };
}

function variantOf(s: Scenario, params: Record<string, number | string>): ScenarioVariant {
  const id = `${s.family}/${Object.keys(params)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join(',')}`;
  return { id, family: s.family, category: s.category, file: s.file, parameters: params, scenario: s };
}

/**
 * CCRs-like: the ego at `egoSpeedKmh` in lane -1 approaches a stationary car `gap` metres ahead
 * (centre to centre) in the same lane.
 */
export function ccrsScenario(
  options: { egoSpeedKmh?: number; gap?: number; env?: Partial<SimEnvironment>; maxDuration?: number } = {},
): ScenarioVariant {
  const v = (options.egoSpeedKmh ?? 50) / 3.6;
  const gap = options.gap ?? 120;
  const road = straightSimRoad();
  const y = -road.laneWidth / 2;
  const s: Scenario = {
    file: 'hand-built/ccrs.xosc',
    version: '1.0',
    description: 'CCRs-like: stationary car ahead',
    family: 'CCRs',
    category: 'ncap',
    parameters: { ego_speed_kmh: options.egoSpeedKmh ?? 50 },
    road,
    entities: [carSpec('Ego', true), carSpec('Target')],
    ego: 'Ego',
    init: [
      {
        entity: 'Ego',
        actions: [
          { kind: 'teleport', position: { kind: 'world', x: 20, y, h: 0 } },
          { kind: 'speed', target: v, dynamics: { shape: 'step', dimension: 'time', value: 0 } },
        ],
      },
      {
        entity: 'Target',
        actions: [{ kind: 'teleport', position: { kind: 'world', x: 20 + gap, y, h: 0 } }],
      },
    ],
    events: [],
    stop: null,
    environment: environment(options.env),
    maxDuration: options.maxDuration ?? Math.min(30, (gap + 20) / Math.max(v, 1) + 4),
  };
  return variantOf(s, {
    ego_speed_kmh: options.egoSpeedKmh ?? 50,
    weather: s.environment.weather,
    time_of_day: s.environment.timeOfDay,
  });
}

/**
 * CPNA-like: the ego at `egoSpeedKmh` in the right lane; an adult starts 1.5 m right of the lane
 * edge and walks left at 5 km/h, timed so that without braking the ego would hit it at 50 % of
 * its width (CPNA-50). The walk starts by a SimulationTime condition.
 */
export function cpnaScenario(
  options: { egoSpeedKmh?: number; env?: Partial<SimEnvironment>; impactTime?: number } = {},
): ScenarioVariant {
  const v = (options.egoSpeedKmh ?? 40) / 3.6;
  const road = straightSimRoad({ roadType: 'urban', speedLimit: 60 / 3.6, laneCount: 2, shoulderWidth: 4 });
  const laneY = -road.laneWidth * 1.5; // lane -2, the rightmost
  const pedY0 = -road.laneWidth * 2 - 1.5;
  const walk = 5 / 3.6;
  const tWalk = (laneY - pedY0) / walk; // time to reach the ego's centre line
  const impact = options.impactTime ?? 8;
  const egoFront0 = 20 + 2.3; // centre + half length
  const pedX = egoFront0 + v * impact + 0.3;
  const start = Math.max(0.1, impact - tWalk);
  const s: Scenario = {
    file: 'hand-built/cpna.xosc',
    version: '1.0',
    description: 'CPNA-like: adult crossing from the nearside',
    family: 'CPNA',
    category: 'ncap',
    parameters: { ego_speed_kmh: options.egoSpeedKmh ?? 40 },
    road,
    entities: [carSpec('Ego', true), pedestrianSpec('Ped')],
    ego: 'Ego',
    init: [
      {
        entity: 'Ego',
        actions: [
          { kind: 'teleport', position: { kind: 'world', x: 20, y: laneY, h: 0 } },
          { kind: 'speed', target: v, dynamics: { shape: 'step', dimension: 'time', value: 0 } },
        ],
      },
      {
        entity: 'Ped',
        actions: [{ kind: 'teleport', position: { kind: 'world', x: pedX, y: pedY0, h: Math.PI / 2 } }],
      },
    ],
    events: [
      {
        path: 'story/act/mg/walk/start-walking',
        name: 'start-walking',
        actors: ['Ped'],
        actions: [
          { kind: 'speed', target: walk, dynamics: { shape: 'linear', dimension: 'time', value: 0.5 } },
        ],
        start: {
          groups: [
            [
              {
                kind: 'simulationTime',
                value: start - 0.25,
                rule: 'greaterThan',
                name: 'go',
                delay: 0,
                edge: 'rising',
                line: 0,
              },
            ],
          ],
        },
        priority: 'overwrite',
        maximumExecutionCount: 1,
        actStart: null,
      },
    ],
    stop: null,
    environment: environment(options.env),
    maxDuration: impact + 6,
  };
  return variantOf(s, {
    ego_speed_kmh: options.egoSpeedKmh ?? 40,
    weather: s.environment.weather,
    time_of_day: s.environment.timeOfDay,
  });
}
