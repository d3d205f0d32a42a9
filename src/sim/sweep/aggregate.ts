/**
 * Sweep aggregates and the simulation report (pure: runs in, data out). Per group of runs (the
 * whole sweep, a scenario category, a family): collisions per 1,000 km, near misses and collisions
 * by the threat's actor class (vulnerable road users — pedestrians and cyclists — also summed as
 * `vru`), comfort distributions (maximum deceleration and jerk percentiles), false braking, lane
 * departures, speeding. The simulation report (`SimReport`) is what the Sim Gate's field paths
 * point into, one per model of the comparison.
 */
import type { ActorClass } from '../../world/types.js';
import { ACTOR_CLASSES } from '../../world/types.js';
import type { ParamValue, RunResult, ScenarioVariant } from '../types.js';
import type { RunRole } from './seeds.js';

/** A variant as the sweep keeps it for outputs (the parsed scenario stays with the workers). */
export interface VariantInfo {
  id: string;
  family: string;
  category: string;
  file: string;
  parameters: Record<string, ParamValue>;
  weather: string;
  timeOfDay: string;
  /** The ego's initial target speed (m/s), from its Init SpeedAction; null when it has none. */
  egoSpeedMps: number | null;
}

/** One finished run of a sweep, with its place in the sweep. */
export interface SweepRun {
  runId: string;
  role: RunRole;
  /** Seed index k of the variant. */
  k: number;
  variant: VariantInfo;
  result: RunResult;
}

/** What the sweep keeps of a variant. */
export function variantInfo(v: ScenarioVariant): VariantInfo {
  const s = v.scenario;
  let egoSpeed: number | null = null;
  for (const init of s.init) {
    if (init.entity !== s.ego) continue;
    for (const a of init.actions) if (a.kind === 'speed') egoSpeed = a.target;
  }
  return {
    id: v.id,
    family: v.family,
    category: v.category,
    file: v.file,
    parameters: v.parameters,
    weather: s.environment.weather,
    timeOfDay: s.environment.timeOfDay,
    egoSpeedMps: egoSpeed,
  };
}

/** Count per actor class, plus `vru` = pedestrian + cyclist. */
export type ClassCounts = Record<ActorClass | 'vru', number>;

/** A distribution summary (null members when there were no values). */
export interface Distribution {
  n: number;
  mean: number | null;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

/** The aggregates of a group of runs. */
export interface SweepAggregates {
  runs: number;
  collisions: number;
  /** Fraction of runs with a collision. */
  collision_rate: number;
  distance_km: number;
  /** Collisions per 1,000 km driven (null when nothing was driven). */
  collisions_per_1000km: number | null;
  near_misses: number;
  /** Near misses whose threat was a pedestrian or cyclist. */
  vru_near_misses: number;
  vru_collisions: number;
  /** VRU near misses + VRU collisions: a collision turned into a near miss is not an increase. */
  vru_conflicts: number;
  near_misses_by_class: ClassCounts;
  collisions_by_class: ClassCounts;
  false_brake_events: number;
  /** False braking events per 1,000 km (null when nothing was driven). */
  false_brakes_per_1000km: number | null;
  lane_departures: number;
  speed_limit_violation_s: number;
  max_impact_speed_mps: number;
  /** Mean impact speed over the runs that collided (0 when none did). */
  mean_impact_speed_mps: number;
  /** Lowest minimum TTC of any run (null when no run ever closed in). */
  min_ttc_s: number | null;
  min_distance_m: number | null;
  comfort: { max_decel_mps2: Distribution; max_jerk_mps3: Distribution };
  time_to_first_detection_s: Distribution;
  /** Runs where the forward collision warning / AEB fired. */
  fcw_runs: number;
  aeb_runs: number;
}

/** The percentile `p` (0..100) of sorted values, linearly interpolated (numpy's default). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const pos = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

/** Summarizes values as n, mean, p50, p95 and max. */
export function distribution(values: readonly number[]): Distribution {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    mean: s.length === 0 ? null : s.reduce((a, b) => a + b, 0) / s.length,
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    max: s.length === 0 ? null : s[s.length - 1]!,
  };
}

function classCounts(): ClassCounts {
  const c = { vru: 0 } as ClassCounts;
  for (const k of ACTOR_CLASSES) c[k] = 0;
  return c;
}

const isVru = (c: ActorClass | null): boolean => c === 'pedestrian' || c === 'cyclist';

/** The aggregates of some runs. */
export function aggregateRuns(runs: readonly SweepRun[]): SweepAggregates {
  const nearByClass = classCounts();
  const collByClass = classCounts();
  let collisions = 0;
  let near = 0;
  let distanceM = 0;
  let falseBrakes = 0;
  let laneDepartures = 0;
  let speeding = 0;
  let maxImpact = 0;
  let impactSum = 0;
  let minTtc: number | null = null;
  let minDist: number | null = null;
  let fcw = 0;
  let aeb = 0;
  const decel: number[] = [];
  const jerk: number[] = [];
  const ttfd: number[] = [];
  for (const r of runs) {
    const m = r.result.metrics;
    distanceM += m.distanceM;
    falseBrakes += m.falseBrakeEvents;
    if (m.laneDeparture) laneDepartures++;
    speeding += m.speedLimitViolationS;
    decel.push(m.maxDecelMps2);
    jerk.push(m.maxJerkMps3);
    if (m.timeToFirstDetectionS !== null) ttfd.push(m.timeToFirstDetectionS);
    if (m.minTtcS !== null) minTtc = minTtc === null ? m.minTtcS : Math.min(minTtc, m.minTtcS);
    minDist = minDist === null ? m.minDistanceM : Math.min(minDist, m.minDistanceM);
    if (m.fcwTimeS !== null) fcw++;
    if (m.aebTimeS !== null) aeb++;
    if (m.collision) {
      collisions++;
      impactSum += m.impactSpeedMps;
      maxImpact = Math.max(maxImpact, m.impactSpeedMps);
      const c = m.collisionClass ?? m.threatClass;
      if (c !== null) {
        collByClass[c]++;
        if (isVru(c)) collByClass.vru++;
      }
    }
    if (m.nearMiss && !m.collision) {
      near++;
      const c = m.threatClass;
      if (c !== null) {
        nearByClass[c]++;
        if (isVru(c)) nearByClass.vru++;
      }
    }
  }
  const km = distanceM / 1000;
  return {
    runs: runs.length,
    collisions,
    collision_rate: runs.length === 0 ? 0 : collisions / runs.length,
    distance_km: km,
    collisions_per_1000km: km > 0 ? (collisions / km) * 1000 : null,
    near_misses: near,
    vru_near_misses: nearByClass.vru,
    vru_collisions: collByClass.vru,
    vru_conflicts: nearByClass.vru + collByClass.vru,
    near_misses_by_class: nearByClass,
    collisions_by_class: collByClass,
    false_brake_events: falseBrakes,
    false_brakes_per_1000km: km > 0 ? (falseBrakes / km) * 1000 : null,
    lane_departures: laneDepartures,
    speed_limit_violation_s: speeding,
    max_impact_speed_mps: maxImpact,
    mean_impact_speed_mps: collisions === 0 ? 0 : impactSum / collisions,
    min_ttc_s: minTtc,
    min_distance_m: minDist,
    comfort: { max_decel_mps2: distribution(decel), max_jerk_mps3: distribution(jerk) },
    time_to_first_detection_s: distribution(ttfd),
    fcw_runs: fcw,
    aeb_runs: aeb,
  };
}

/** The simulation report of one model of a sweep: what the Sim Gate reads (a type alias: plain JSON data). */
export type SimReport = {
  kind: 'sim';
  schema_version: 1;
  model: { name: string; digest?: string };
  perception: 'model' | 'ground-truth';
  sweep: { variants: number; seeds: number; runs: number; filter: string | null };
  overall: SweepAggregates;
  /** Per scenario category (e.g. ncap, cut-in), sorted by name. */
  categories: Array<{ name: string } & SweepAggregates>;
  /** Per scenario family (e.g. CCRs), sorted by name. */
  families: Array<{ name: string; category: string } & SweepAggregates>;
};

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list === undefined) m.set(k, [it]);
    else list.push(it);
  }
  return new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Builds the simulation report of the runs of one model. */
export function simReport(
  runs: readonly SweepRun[],
  model: SimReport['model'],
  perception: SimReport['perception'],
  sweep: Omit<SimReport['sweep'], 'runs'>,
): SimReport {
  return {
    kind: 'sim',
    schema_version: 1,
    model,
    perception,
    sweep: { ...sweep, runs: runs.length },
    overall: aggregateRuns(runs),
    categories: [...groupBy(runs, (r) => r.variant.category)].map(([name, rs]) => ({
      name,
      ...aggregateRuns(rs),
    })),
    families: [...groupBy(runs, (r) => r.variant.family)].map(([name, rs]) => ({
      name,
      category: rs[0]!.variant.category,
      ...aggregateRuns(rs),
    })),
  };
}

/** The violation types the heatmap and per-scenario tables count. */
export const VIOLATION_TYPES = [
  'collision',
  'near_miss',
  'false_brake',
  'lane_departure',
  'speeding',
] as const;
/** A violation type. */
export type ViolationType = (typeof VIOLATION_TYPES)[number];

/** Whether a run shows each violation type. */
export function violationsOf(r: RunResult): Record<ViolationType, boolean> {
  const m = r.metrics;
  return {
    collision: m.collision,
    near_miss: m.nearMiss && !m.collision,
    false_brake: m.falseBrakeEvents > 0,
    lane_departure: m.laneDeparture,
    speeding: m.speedLimitViolationS > 0,
  };
}

/** One cell of the violation heatmap: a scenario family x parameter value, and a violation type. */
export interface HeatCell {
  /** Row label: `<family> <parameter>=<value>`. */
  row: string;
  family: string;
  parameter: string;
  value: string;
  violation: ViolationType;
  /** Runs with that violation / runs in the row. */
  rate: number;
  count: number;
  runs: number;
}

/**
 * The violation heatmap data: for each family, each parameter it sweeps (more than one value) and
 * each value, the share of runs with each violation type. Rows are sorted by family, parameter,
 * value (numbers numerically).
 */
export function violationCells(runs: readonly SweepRun[]): HeatCell[] {
  const cells: HeatCell[] = [];
  for (const [family, rs] of groupBy(runs, (r) => r.variant.family)) {
    const params = new Set<string>();
    for (const r of rs) for (const p of Object.keys(r.variant.parameters)) params.add(p);
    const swept = [...params]
      .filter((p) => new Set(rs.map((r) => String(r.variant.parameters[p]))).size > 1)
      .sort();
    for (const p of swept.length > 0 ? swept : ['(all)']) {
      const byValue = groupBy(rs, (r) => (p === '(all)' ? '' : String(r.variant.parameters[p])));
      const values = [...byValue.keys()].sort((a, b) => {
        const na = Number(a);
        const nb = Number(b);
        return Number.isFinite(na) && Number.isFinite(nb) && a !== '' && b !== ''
          ? na - nb
          : a < b
            ? -1
            : a > b
              ? 1
              : 0;
      });
      for (const value of values) {
        const group = byValue.get(value)!;
        const row = p === '(all)' ? family : `${family} ${p}=${value}`;
        for (const violation of VIOLATION_TYPES) {
          const count = group.filter((r) => violationsOf(r.result)[violation]).length;
          cells.push({
            row,
            family,
            parameter: p,
            value,
            violation,
            rate: count / group.length,
            count,
            runs: group.length,
          });
        }
      }
    }
  }
  return cells;
}
