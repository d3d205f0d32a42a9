/**
 * The per-run table of a sweep (sim_summary.parquet, the per-scenario CSV and JSON): one row per
 * run with fixed columns (ids, conditions, every metric) followed by one `param_<name>` column per
 * scenario parameter and one `rand_<name>` column per randomization draw, typed from their values.
 */
import type { ParquetColumn, ParquetSchema, ParquetValue } from '../../report/parquet.js';
import type { ParamValue } from '../types.js';
import type { SweepRun } from './aggregate.js';

/** A row of the run table. */
export type RunRow = Record<string, ParquetValue>;

/** The fixed columns, in file order. */
export const FIXED_COLUMNS: ParquetSchema = [
  { name: 'run_id', type: 'string' },
  { name: 'role', type: 'string' },
  { name: 'scenario', type: 'string' },
  { name: 'family', type: 'string' },
  { name: 'category', type: 'string' },
  { name: 'scenario_file', type: 'string' },
  { name: 'seed', type: 'int64' },
  { name: 'seed_index', type: 'int32' },
  { name: 'model', type: 'string' },
  { name: 'weather', type: 'string' },
  { name: 'time_of_day', type: 'string' },
  { name: 'ego_speed_mps', type: 'double', nullable: true },
  { name: 'collision', type: 'boolean' },
  { name: 'collision_entity', type: 'string', nullable: true },
  { name: 'collision_class', type: 'string', nullable: true },
  { name: 'impact_speed_mps', type: 'double' },
  { name: 'min_ttc_s', type: 'double', nullable: true },
  { name: 'min_distance_m', type: 'double' },
  { name: 'max_decel_mps2', type: 'double' },
  { name: 'max_jerk_mps3', type: 'double' },
  { name: 'false_brake_events', type: 'int32' },
  { name: 'lane_departure', type: 'boolean' },
  { name: 'speed_limit_violation_s', type: 'double' },
  { name: 'time_to_first_detection_s', type: 'double', nullable: true },
  { name: 'fcw_time_s', type: 'double', nullable: true },
  { name: 'aeb_time_s', type: 'double', nullable: true },
  { name: 'near_miss', type: 'boolean' },
  { name: 'threat_class', type: 'string', nullable: true },
  { name: 'distance_m', type: 'double' },
  { name: 'duration_s', type: 'double' },
  { name: 'end_reason', type: 'string' },
  { name: 'sim_s', type: 'double' },
  { name: 'wall_s', type: 'double' },
  { name: 'real_time_factor', type: 'double', nullable: true },
];

/** The row of one run (fixed columns, then `param_*` and `rand_*`). */
export function runRow(r: SweepRun): RunRow {
  const m = r.result.metrics;
  const row: RunRow = {
    run_id: r.runId,
    role: r.role,
    scenario: r.variant.id,
    family: r.variant.family,
    category: r.variant.category,
    scenario_file: r.variant.file,
    seed: r.result.seed,
    seed_index: r.k,
    model: r.result.model,
    weather: r.variant.weather,
    time_of_day: r.variant.timeOfDay,
    ego_speed_mps: r.variant.egoSpeedMps,
    collision: m.collision,
    collision_entity: m.collisionEntity,
    collision_class: m.collisionClass,
    impact_speed_mps: m.impactSpeedMps,
    min_ttc_s: m.minTtcS,
    min_distance_m: m.minDistanceM,
    max_decel_mps2: m.maxDecelMps2,
    max_jerk_mps3: m.maxJerkMps3,
    false_brake_events: m.falseBrakeEvents,
    lane_departure: m.laneDeparture,
    speed_limit_violation_s: m.speedLimitViolationS,
    time_to_first_detection_s: m.timeToFirstDetectionS,
    fcw_time_s: m.fcwTimeS,
    aeb_time_s: m.aebTimeS,
    near_miss: m.nearMiss,
    threat_class: m.threatClass,
    distance_m: m.distanceM,
    duration_s: m.durationS,
    end_reason: m.endReason,
    sim_s: r.result.simS,
    wall_s: r.result.wallS,
    real_time_factor: r.result.wallS > 0 ? r.result.simS / r.result.wallS : null,
  };
  for (const [k, v] of Object.entries(r.variant.parameters)) row[`param_${k}`] = v;
  for (const [k, v] of Object.entries(r.result.randomization)) row[`rand_${k}`] = v;
  return row;
}

function columnFor(name: string, values: readonly (ParamValue | null | undefined)[]): ParquetColumn {
  const present = values.filter((v): v is ParamValue => v !== null && v !== undefined);
  const type =
    present.length > 0 && present.every((v) => typeof v === 'number')
      ? 'double'
      : present.length > 0 && present.every((v) => typeof v === 'boolean')
        ? 'boolean'
        : 'string';
  return { name, type, nullable: true };
}

/**
 * The table's schema and rows: fixed columns, then the `param_*` and `rand_*` columns that any row
 * has (sorted by name), typed double/boolean when every value is, else string (values stringified).
 */
export function runTable(runs: readonly SweepRun[]): { schema: ParquetSchema; rows: RunRow[] } {
  const rows = runs.map(runRow);
  const fixed = new Set(FIXED_COLUMNS.map((c) => c.name));
  const extra = new Set<string>();
  for (const row of rows) for (const k of Object.keys(row)) if (!fixed.has(k)) extra.add(k);
  const extraCols = [...extra].sort().map((name) =>
    columnFor(
      name,
      rows.map((r) => r[name] as ParamValue | null | undefined),
    ),
  );
  for (const col of extraCols) {
    for (const row of rows) {
      const v = row[col.name];
      if (v === undefined) row[col.name] = null;
      else if (col.type === 'string' && v !== null && typeof v !== 'string') row[col.name] = String(v);
    }
  }
  return { schema: [...FIXED_COLUMNS, ...extraCols], rows };
}

/** A CSV cell (RFC 4180 quoting; null is empty). */
function csvCell(v: ParquetValue | undefined): string {
  if (v === null || v === undefined) return '';
  const s =
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : String(+v.toPrecision(10))) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The rows as CSV text with a header line. */
export function toCsv(schema: ParquetSchema, rows: readonly RunRow[]): string {
  const lines = [schema.map((c) => csvCell(c.name)).join(',')];
  for (const r of rows) lines.push(schema.map((c) => csvCell(r[c.name])).join(','));
  return lines.join('\n') + '\n';
}
