/**
 * Hand-built sweep runs for the unit tests of the pure parts (aggregates, table, gate): plain data
 * of the RunResult contract, not a stand-in for the engine (the sweep tests run the real engine).
 */
import type { ActorClass } from '../../world/types.js';
import type { RunMetrics } from '../types.js';
import type { SweepRun } from './aggregate.js';
import type { RunRole } from './seeds.js';

/** A run of `family` with the given metrics (defaults: 100 m driven, nothing happened). */
export function sweepRun(
  role: RunRole,
  family: string,
  category: string,
  k: number,
  metrics: Partial<RunMetrics> = {},
  parameters: Record<string, string | number> = { ego_speed_kph: 50 },
): SweepRun {
  const id = `${family}/${Object.entries(parameters)
    .map(([a, b]) => `${a}=${b}`)
    .join(',')}`;
  return {
    runId: `${role}:${id}#${k}`,
    role,
    k,
    variant: {
      id,
      family,
      category,
      file: `${family}.xosc`,
      parameters,
      weather: 'fog',
      timeOfDay: 'night',
      egoSpeedMps: 13.9,
    },
    result: {
      variantId: id,
      seed: 1000 + k,
      model: role === 'candidate' ? 'cand' : 'base',
      metrics: {
        collision: false,
        collisionEntity: null,
        collisionClass: null,
        impactSpeedMps: 0,
        minTtcS: 2,
        minDistanceM: 3,
        maxDecelMps2: 3,
        maxJerkMps3: 10,
        falseBrakeEvents: 0,
        laneDeparture: false,
        speedLimitViolationS: 0,
        timeToFirstDetectionS: 0.5,
        fcwTimeS: null,
        aebTimeS: null,
        nearMiss: false,
        threatClass: 'car',
        distanceM: 100,
        durationS: 8,
        endReason: 'stop-trigger',
        ...metrics,
      },
      randomization: { fog_density: 0.5 },
      wallS: 0.1,
      simS: 8,
    },
  };
}

/** A collision with an actor of class `cls` at `speed` m/s. */
export function hit(cls: ActorClass, speed = 5): Partial<RunMetrics> {
  return {
    collision: true,
    collisionClass: cls,
    collisionEntity: cls,
    impactSpeedMps: speed,
    threatClass: cls,
    minDistanceM: 0,
    minTtcS: 0,
  };
}

/** A near miss with an actor of class `cls`. */
export function near(cls: ActorClass): Partial<RunMetrics> {
  return { nearMiss: true, threatClass: cls, minTtcS: 0.8, minDistanceM: 0.4 };
}

/**
 * The sim_summary columns issue #6 requires by name (its text, kept here as the tests' spec rather
 * than taken from table.ts, so a wrong table constant cannot pass).
 */
export const REQUIRED_SUMMARY_COLUMNS: readonly string[] = [
  'run_id',
  'scenario',
  'family',
  'seed',
  'model',
  'weather',
  'time_of_day',
  'ego_speed_mps',
  'collision',
  'impact_speed_mps',
  'min_ttc_s',
  'min_distance_m',
  'max_decel_mps2',
  'false_brake_events',
];
