/**
 * Declarative expectations over manifest records, in the spirit of Great Expectations: a YAML suite
 * lists expectations by type with their parameters; evaluating it against the rows of a manifest
 * gives, per expectation, success, the observed value, and the failing records (file:line, value),
 * capped with counts. Pure: rows in, results out.
 */
import { z } from 'zod';
import { badInput } from '../../core/errors.js';
import type { YamlSource } from '../yaml.js';
import { validateWith } from '../yaml.js';
import { CappedList, DEFAULT_CAP } from './findings.js';
import type { Capped, RecordRef } from './findings.js';
import type { ManifestRow } from './manifest.js';

const mostly = z.number().min(0).max(1).optional();
const column = z.string().min(1);
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const common = { id: z.string().min(1).optional(), notes: z.string().optional() };

/** The parameter schema of each expectation type (strict: unknown parameters are errors). */
export const EXPECTATION_SCHEMAS = {
  expect_column_values_to_not_be_null: z.strictObject({ ...common, column, mostly }),
  expect_column_values_to_be_unique: z.strictObject({ ...common, column, mostly }),
  expect_column_values_to_be_in_set: z.strictObject({
    ...common,
    column,
    value_set: z.array(scalar).min(1),
    mostly,
  }),
  expect_column_values_to_be_between: z
    .strictObject({
      ...common,
      column,
      min_value: z.number().optional(),
      max_value: z.number().optional(),
      strict_min: z.boolean().optional(),
      strict_max: z.boolean().optional(),
      mostly,
    })
    .refine((p) => p.min_value !== undefined || p.max_value !== undefined, 'min_value or max_value'),
  expect_column_values_to_match_regex: z.strictObject({
    ...common,
    column,
    regex: z.string().min(1),
    mostly,
  }),
  expect_table_row_count_to_be_between: z
    .strictObject({
      ...common,
      min_value: z.number().int().nonnegative().optional(),
      max_value: z.number().int().nonnegative().optional(),
    })
    .refine((p) => p.min_value !== undefined || p.max_value !== undefined, 'min_value or max_value'),
  expect_column_mean_to_be_between: z
    .strictObject({
      ...common,
      column,
      min_value: z.number().optional(),
      max_value: z.number().optional(),
      strict_min: z.boolean().optional(),
      strict_max: z.boolean().optional(),
    })
    .refine((p) => p.min_value !== undefined || p.max_value !== undefined, 'min_value or max_value'),
  expect_column_quantile_values_to_be_between: z.strictObject({
    ...common,
    column,
    quantile_ranges: z
      .strictObject({
        quantiles: z.array(z.number().min(0).max(1)).min(1),
        value_ranges: z.array(z.tuple([z.number().nullable(), z.number().nullable()])).min(1),
      })
      .refine((q) => q.quantiles.length === q.value_ranges.length, 'as many value_ranges as quantiles'),
  }),
} as const;

/** The expectation types drivegate knows. */
export type ExpectationType = keyof typeof EXPECTATION_SCHEMAS;

/** The known expectation type names. */
export const EXPECTATION_TYPES = Object.keys(EXPECTATION_SCHEMAS) as ExpectationType[];

/** One expectation of a suite: its type and validated parameters, and where it was declared. */
export interface Expectation {
  type: ExpectationType;
  params: Record<string, unknown>;
  /** The line of its declaration in the suite file, when known. */
  line?: number;
}

/** An expectation suite. */
export interface ExpectationSuite {
  file: string;
  name?: string;
  expectations: Expectation[];
}

const suiteSchema = z.strictObject({
  name: z.string().optional(),
  expectation_suite_name: z.string().optional(),
  meta: z.unknown().optional(),
  data_asset_type: z.unknown().optional(),
  expectations: z.array(z.record(z.string(), z.unknown())),
});

/**
 * Parses an expectation suite. Each item is either drivegate's flat form
 * `{type: expect_..., column: ..., ...}` or Great Expectations' `{expectation_type, kwargs}` form.
 * An unknown type or parameter is BAD_INPUT naming the file and line.
 */
export function parseExpectationSuite(src: YamlSource): ExpectationSuite {
  const suite = validateWith(src, suiteSchema);
  const expectations: Expectation[] = [];
  suite.expectations.forEach((item, i) => {
    const path = ['expectations', i];
    const line = src.lineOf(path);
    let type: unknown;
    let params: unknown;
    let paramsPath: Array<string | number>;
    if ('expectation_type' in item) {
      const extra = Object.keys(item).filter(
        (k) => k !== 'expectation_type' && k !== 'kwargs' && k !== 'meta',
      );
      if (extra.length > 0) {
        throw badInput('unknown key in expectation', {
          file: src.file,
          field: `expectations[${i}].${extra[0] ?? ''}`,
          ...(line !== undefined ? { line } : {}),
          expected: 'expectation_type, kwargs, meta',
          found: JSON.stringify(extra[0]),
        });
      }
      type = item['expectation_type'];
      params = item['kwargs'] ?? {};
      paramsPath = [...path, 'kwargs'];
    } else {
      const { type: t, ...rest } = item;
      type = t;
      params = rest;
      paramsPath = path;
    }
    if (typeof type !== 'string' || !(type in EXPECTATION_SCHEMAS)) {
      const typeLine = src.lineOf([...path, 'expectation_type' in item ? 'expectation_type' : 'type']);
      throw badInput('unknown expectation type', {
        file: src.file,
        field: `expectations[${i}].type`,
        ...(typeLine !== undefined ? { line: typeLine } : {}),
        expected: `one of ${EXPECTATION_TYPES.join(', ')}`,
        found: type === undefined ? 'no type' : JSON.stringify(type),
      });
    }
    const t = type as ExpectationType;
    const schema = EXPECTATION_SCHEMAS[t] as unknown as z.ZodType<Record<string, unknown>>;
    const validated = validateWith(src, schema, params, paramsPath);
    if (t === 'expect_column_values_to_match_regex') {
      try {
        new RegExp(String(validated['regex']), 'u');
      } catch (err) {
        const l = src.lineOf([...paramsPath, 'regex']);
        throw badInput('invalid regular expression', {
          file: src.file,
          field: `expectations[${i}].regex`,
          ...(l !== undefined ? { line: l } : {}),
          expected: 'a JavaScript regular expression',
          found: (err as Error).message,
        });
      }
    }
    expectations.push({ type: t, params: validated, ...(line !== undefined ? { line } : {}) });
  });
  const name = suite.name ?? suite.expectation_suite_name;
  return { file: src.file, ...(name !== undefined ? { name } : {}), expectations };
}

/** The result of one expectation over one manifest. */
export interface ExpectationResult {
  type: ExpectationType;
  id?: string;
  column?: string;
  /** The parameters as declared (for the report). */
  params: Record<string, unknown>;
  success: boolean;
  /**
   * What was observed: for column-value expectations the fraction of non-null values that met it;
   * for the table row count the count; for the mean the mean; for quantiles the values.
   */
  observed: unknown;
  /** Rows looked at (column-value expectations). */
  element_count?: number;
  /** Rows where the column is null or absent (column-value expectations). */
  missing_count?: number;
  unexpected_count?: number;
  /** unexpected_count / non-null count (for not_null: / element_count), 0..1. */
  unexpected_fraction?: number;
  /** The failing records, capped, with the total. */
  unexpected?: Capped<RecordRef>;
  /** Why it could not be evaluated as asked (e.g. the column exists in no record). */
  error?: string;
}

/** Options of evaluateSuite. */
export interface EvaluateOptions {
  /** How many failing records to list per expectation (default 50). */
  cap?: number;
}

/** Evaluates every expectation of a suite against the rows of one manifest. */
export function evaluateSuite(
  suite: ExpectationSuite,
  rows: ReadonlyArray<ManifestRow>,
  options: EvaluateOptions = {},
): ExpectationResult[] {
  return suite.expectations.map((e) => evaluateExpectation(e, rows, options.cap ?? DEFAULT_CAP));
}

type Obj = Record<string, unknown>;

/** Evaluates one expectation against manifest rows (rows that are not JSON objects are not looked at). */
export function evaluateExpectation(
  e: Expectation,
  rows: ReadonlyArray<ManifestRow>,
  cap: number = DEFAULT_CAP,
): ExpectationResult {
  const p = e.params;
  const base: ExpectationResult = {
    type: e.type,
    ...(typeof p['id'] === 'string' ? { id: p['id'] } : {}),
    ...(typeof p['column'] === 'string' ? { column: p['column'] } : {}),
    params: p,
    success: false,
    observed: null,
  };
  const objects = rows.filter((r): r is ManifestRow & { raw: Obj } => r.raw !== null);
  if (e.type === 'expect_table_row_count_to_be_between') {
    const n = rows.length;
    return { ...base, observed: n, success: inRange(n, p['min_value'], p['max_value'], false, false) };
  }
  const col = String(p['column']);
  const present = objects.some((r) => Object.prototype.hasOwnProperty.call(r.raw, col));
  if (!present && e.type !== 'expect_column_values_to_not_be_null') {
    return { ...base, error: `column '${col}' is in no record`, element_count: objects.length };
  }
  const isMissing = (v: unknown): boolean => v === null || v === undefined;

  if (
    e.type === 'expect_column_mean_to_be_between' ||
    e.type === 'expect_column_quantile_values_to_be_between'
  ) {
    const values: number[] = [];
    const bad = new CappedList<RecordRef>(cap);
    for (const r of objects) {
      const v = r.raw[col];
      if (isMissing(v)) continue;
      if (typeof v === 'number' && Number.isFinite(v)) values.push(v);
      else bad.push({ file: r.file, line: r.line, value: v });
    }
    const extra = bad.total > 0 ? { unexpected: bad.toJSON(), unexpected_count: bad.total } : {};
    if (values.length === 0) {
      return {
        ...base,
        ...extra,
        element_count: objects.length,
        error: `column '${col}' has no numeric values`,
      };
    }
    if (e.type === 'expect_column_mean_to_be_between') {
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const ok = inRange(
        mean,
        p['min_value'],
        p['max_value'],
        p['strict_min'] === true,
        p['strict_max'] === true,
      );
      return {
        ...base,
        ...extra,
        element_count: objects.length,
        observed: mean,
        success: ok && bad.total === 0,
      };
    }
    const qr = p['quantile_ranges'] as {
      quantiles: number[];
      value_ranges: Array<[number | null, number | null]>;
    };
    const sorted = values.sort((a, b) => a - b);
    const observed = qr.quantiles.map((q) => quantileNearest(sorted, q));
    const ok = observed.every((v, i) => {
      const [lo, hi] = qr.value_ranges[i] ?? [null, null];
      return inRange(v, lo ?? undefined, hi ?? undefined, false, false);
    });
    return {
      ...base,
      ...extra,
      element_count: objects.length,
      observed: { quantiles: qr.quantiles, values: observed },
      success: ok && bad.total === 0,
    };
  }

  // Column-value expectations: count unexpected values among non-null ones (not_null: among all).
  const unexpected = new CappedList<RecordRef>(cap);
  let missing = 0;
  const flag = (r: ManifestRow, v: unknown): void =>
    unexpected.push({ file: r.file, line: r.line, value: v });
  if (e.type === 'expect_column_values_to_be_unique') {
    const seen = new Map<string, Array<ManifestRow & { raw: Obj }>>();
    for (const r of objects) {
      const v = r.raw[col];
      if (isMissing(v)) {
        missing++;
        continue;
      }
      const key = JSON.stringify(v);
      const list = seen.get(key);
      if (list === undefined) seen.set(key, [r]);
      else list.push(r);
    }
    const dupRows: Array<ManifestRow & { raw: Obj }> = [];
    for (const list of seen.values()) if (list.length > 1) dupRows.push(...list);
    dupRows.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
    for (const r of dupRows) flag(r, r.raw[col]);
  } else {
    const test = valueTest(e);
    for (const r of objects) {
      const v = r.raw[col];
      if (isMissing(v)) {
        missing++;
        if (e.type === 'expect_column_values_to_not_be_null') flag(r, v ?? null);
        continue;
      }
      if (!test(v)) flag(r, v);
    }
  }
  const denominator =
    e.type === 'expect_column_values_to_not_be_null' ? objects.length : objects.length - missing;
  const fraction = denominator === 0 ? 0 : unexpected.total / denominator;
  const need = typeof p['mostly'] === 'number' ? p['mostly'] : 1;
  // The 1e-12 slack keeps `mostly: 0.95` from failing on 19/20 through rounding.
  const success = denominator === 0 ? true : 1 - fraction >= need - 1e-12;
  return {
    ...base,
    success,
    observed: denominator === 0 ? null : 1 - fraction,
    element_count: objects.length,
    missing_count: missing,
    unexpected_count: unexpected.total,
    unexpected_fraction: fraction,
    unexpected: unexpected.toJSON(),
  };
}

function valueTest(e: Expectation): (v: unknown) => boolean {
  const p = e.params;
  switch (e.type) {
    case 'expect_column_values_to_not_be_null':
      return () => true;
    case 'expect_column_values_to_be_in_set': {
      const set = new Set((p['value_set'] as unknown[]).map((v) => JSON.stringify(v)));
      return (v) => set.has(JSON.stringify(v));
    }
    case 'expect_column_values_to_be_between':
      return (v) =>
        typeof v === 'number' &&
        Number.isFinite(v) &&
        inRange(v, p['min_value'], p['max_value'], p['strict_min'] === true, p['strict_max'] === true);
    case 'expect_column_values_to_match_regex': {
      const re = new RegExp(String(p['regex']), 'u');
      return (v) => typeof v === 'string' && re.test(v);
    }
    default:
      throw new Error(`no value test for ${e.type}`);
  }
}

function inRange(v: number, min: unknown, max: unknown, strictMin: boolean, strictMax: boolean): boolean {
  if (typeof min === 'number' && (strictMin ? !(v > min) : !(v >= min))) return false;
  if (typeof max === 'number' && (strictMax ? !(v < max) : !(v <= max))) return false;
  return true;
}

/**
 * The q-quantile of sorted values by the "nearest" rule (numpy/pandas `interpolation='nearest'`,
 * as Great Expectations uses): the value at index round(q * (n - 1)), ties to even.
 */
export function quantileNearest(sorted: ReadonlyArray<number>, q: number): number {
  const pos = q * (sorted.length - 1);
  const floor = Math.floor(pos);
  const frac = pos - floor;
  const idx = frac > 0.5 || (frac === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
  return sorted[Math.min(idx, sorted.length - 1)] as number;
}
