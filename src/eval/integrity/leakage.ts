/**
 * Leakage guards across the splits of a dataset. Records are grouped by their `split` field.
 * - scene: no scene_id in two splits (always checked; it cannot be turned off);
 * - temporal (when the policy asks): within each region (or another `group_by` column), any two
 *   records of different splits are at least `min_gap_seconds` apart;
 * - geographic (when the policy asks): no geo_cell (or another column) in two splits.
 * Pure: records in, a report out. The policy is YAML (examples/leakage.yaml).
 */
import { z } from 'zod';
import type { YamlSource } from '../yaml.js';
import { validateWith } from '../yaml.js';
import { CappedList, DEFAULT_CAP } from './findings.js';
import type { Capped } from './findings.js';
import type { ManifestRecord } from './manifest.js';
import { timestampSeconds } from './manifest.js';

/** The leakage policy file schema (v1). */
export const leakagePolicySchema = z.strictObject({
  version: z.literal(1).optional(),
  temporal: z
    .strictObject({
      min_gap_seconds: z.number().positive(),
      group_by: z.string().min(1).default('region'),
    })
    .optional(),
  geographic: z
    .union([z.boolean(), z.strictObject({ column: z.string().min(1).default('geo_cell') })])
    .optional(),
});

/** A leakage policy. Scene separation is always enforced, whatever the policy says. */
export interface LeakagePolicy {
  temporal?: { min_gap_seconds: number; group_by: string };
  geographic?: { column: string };
}

/** Parses a leakage policy file. */
export function parseLeakagePolicy(src: YamlSource): LeakagePolicy {
  const p = validateWith(src, leakagePolicySchema, src.value ?? {});
  const geo =
    p.geographic === true ? { column: 'geo_cell' } : p.geographic === false ? undefined : p.geographic;
  return {
    ...(p.temporal !== undefined ? { temporal: p.temporal } : {}),
    ...(geo !== undefined ? { geographic: geo } : {}),
  };
}

/** A manifest record with where it came from. */
export interface LocatedRecord {
  file: string;
  line: number;
  record: ManifestRecord;
}

/** A record as named in a leakage finding. */
export interface LeakRef {
  file: string;
  line: number;
  image_id: number;
  split: string;
}

/** A key (scene or cell) found in more than one split. */
export interface SharedKeyViolation {
  key: string;
  splits: string[];
  /** Records per split, the first few. */
  examples: LeakRef[];
  record_count: number;
}

/** Two records of different splits closer in time than the policy allows. */
export interface TemporalViolation {
  group: string;
  gap_seconds: number;
  record: LeakRef & { timestamp: string | number };
  nearest: LeakRef & { timestamp: string | number };
}

/** One leakage check's outcome. */
export interface LeakageCheck {
  name: 'scene' | 'temporal' | 'geographic';
  passed: boolean;
  /** A sentence saying what was checked and what was found. */
  rationale: string;
  /** scene/geographic: shared keys; temporal: offending records (each with its nearest other-split record). */
  violations: Capped<SharedKeyViolation | TemporalViolation>;
  /** temporal only: the smallest cross-split gap per group, in seconds (null when a group has one split). */
  min_gap_by_group?: Record<string, number | null>;
}

/** The leakage report over a set of splits. */
export interface LeakageReport {
  passed: boolean;
  /** Records per split. */
  splits: Record<string, number>;
  checks: LeakageCheck[];
  /** Set when fewer than two splits were given (nothing can leak; probably not what was meant). */
  note?: string;
}

const refOf = (r: LocatedRecord): LeakRef => ({
  file: r.file,
  line: r.line,
  image_id: r.record.image_id,
  split: r.record.split,
});

/** Checks split separation of the records under a policy. */
export function checkLeakage(
  records: ReadonlyArray<LocatedRecord>,
  policy: LeakagePolicy = {},
  options: { cap?: number } = {},
): LeakageReport {
  const cap = options.cap ?? DEFAULT_CAP;
  const splits: Record<string, number> = {};
  for (const r of records) splits[r.record.split] = (splits[r.record.split] ?? 0) + 1;
  const checks: LeakageCheck[] = [sharedKeyCheck('scene', 'scene_id', records, cap)];
  if (policy.temporal !== undefined) checks.push(temporalCheck(records, policy.temporal, cap));
  if (policy.geographic !== undefined)
    checks.push(sharedKeyCheck('geographic', policy.geographic.column, records, cap));
  const n = Object.keys(splits).length;
  return {
    passed: checks.every((c) => c.passed),
    splits,
    checks,
    ...(n < 2
      ? {
          note: `only ${n} split(s) present (${Object.keys(splits).join(', ') || 'none'}): nothing to compare`,
        }
      : {}),
  };
}

function sharedKeyCheck(
  name: 'scene' | 'geographic',
  column: string,
  records: ReadonlyArray<LocatedRecord>,
  cap: number,
): LeakageCheck {
  const byKey = new Map<string, LocatedRecord[]>();
  let absent = 0;
  for (const r of records) {
    const v = (r.record as Record<string, unknown>)[column];
    if (v === undefined || v === null) {
      absent++;
      continue;
    }
    const key = String(v);
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [r]);
    else list.push(r);
  }
  const violations = new CappedList<SharedKeyViolation>(cap);
  let leakedRecords = 0;
  for (const [key, list] of [...byKey.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const splitSet = [...new Set(list.map((r) => r.record.split))].sort();
    if (splitSet.length < 2) continue;
    leakedRecords += list.length;
    // Two examples per split are enough to find the records.
    const examples: LeakRef[] = [];
    for (const s of splitSet)
      examples.push(
        ...list
          .filter((r) => r.record.split === s)
          .slice(0, 2)
          .map(refOf),
      );
    violations.push({ key, splits: splitSet, examples, record_count: list.length });
  }
  const what = name === 'scene' ? 'scene' : `${column} value`;
  const passed = violations.total === 0 && absent === 0;
  let rationale =
    violations.total === 0
      ? `every ${what} is in one split (${byKey.size} distinct)`
      : `${violations.total} ${what}(s) appear in more than one split (${leakedRecords} records)`;
  if (absent > 0)
    rationale += `; ${absent} record(s) have no ${column}, so their separation cannot be checked`;
  return { name, passed, rationale, violations: violations.toJSON() };
}

function temporalCheck(
  records: ReadonlyArray<LocatedRecord>,
  policy: { min_gap_seconds: number; group_by: string },
  cap: number,
): LeakageCheck {
  const groups = new Map<string, Array<{ r: LocatedRecord; t: number }>>();
  for (const r of records) {
    const g = String((r.record as Record<string, unknown>)[policy.group_by] ?? '(none)');
    const list = groups.get(g) ?? [];
    list.push({ r, t: timestampSeconds(r.record.timestamp) });
    groups.set(g, list);
  }
  const violations = new CappedList<TemporalViolation>(cap);
  const minGap: Record<string, number | null> = {};
  for (const g of [...groups.keys()].sort()) {
    const list = (groups.get(g) ?? []).sort((a, b) => a.t - b.t);
    // In time order, the nearest record of another split to the left of i is the last record
    // before i's run of same-split records (likewise to the right), so one pass each way finds
    // every record's nearest other-split neighbour.
    const n = list.length;
    const left = new Array<number>(n).fill(-1);
    const right = new Array<number>(n).fill(-1);
    for (let i = 1; i < n; i++) {
      left[i] = list[i - 1]!.r.record.split !== list[i]!.r.record.split ? i - 1 : left[i - 1]!;
    }
    for (let i = n - 2; i >= 0; i--) {
      right[i] = list[i + 1]!.r.record.split !== list[i]!.r.record.split ? i + 1 : right[i + 1]!;
    }
    let groupMin: number | null = null;
    for (let i = 0; i < n; i++) {
      const cur = list[i]!;
      let best = -1;
      let gap = Infinity;
      for (const j of [left[i]!, right[i]!]) {
        if (j < 0) continue;
        const d = Math.abs(list[j]!.t - cur.t);
        if (d < gap) {
          gap = d;
          best = j;
        }
      }
      if (best < 0) continue;
      if (groupMin === null || gap < groupMin) groupMin = gap;
      if (gap < policy.min_gap_seconds) {
        const other = list[best]!;
        violations.push({
          group: g,
          gap_seconds: gap,
          record: { ...refOf(cur.r), timestamp: cur.r.record.timestamp },
          nearest: { ...refOf(other.r), timestamp: other.r.record.timestamp },
        });
      }
    }
    minGap[g] = groupMin;
  }
  const passed = violations.total === 0;
  return {
    name: 'temporal',
    passed,
    rationale: passed
      ? `records of different splits are at least ${policy.min_gap_seconds} s apart within each ${policy.group_by}`
      : `${violations.total} record(s) are less than ${policy.min_gap_seconds} s from a record of another split in the same ${policy.group_by}`,
    violations: violations.toJSON(),
    min_gap_by_group: minGap,
  };
}
