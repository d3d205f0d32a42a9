/**
 * Variant filters for `--filter`: comma-separated `key=value` terms; the same key twice means OR,
 * different keys mean AND. Keys: family, category, id, weather and time_of_day (from the scenario's
 * Environment), or any scenario parameter.
 */
import { DrivegateError } from '../../core/errors.js';
import type { ParamValue, ScenarioVariant } from '../types.js';

/** A parsed filter: for each key, the values any of which may match. */
export interface VariantFilter {
  terms: Record<string, string[]>;
}

/** Keys every variant has (besides its parameters). */
export const BUILTIN_FILTER_KEYS = ['family', 'category', 'id', 'weather', 'time_of_day'] as const;

/** Parses `family=CCRs,weather=fog` (USAGE error on a malformed term). An empty expression matches everything. */
export function parseFilter(expr: string): VariantFilter {
  const terms: Record<string, string[]> = {};
  const text = expr.trim();
  if (text === '') return { terms };
  for (const part of text.split(',')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$/.exec(part);
    if (m === null || m[2] === '') {
      throw new DrivegateError('USAGE', `bad filter term '${part.trim()}'`, {
        field: '--filter',
        expected: 'key=value[,key=value...]',
        found: `'${expr}'`,
      });
    }
    const key = m[1] ?? '';
    const list = terms[key] ?? [];
    list.push(m[2] ?? '');
    terms[key] = list;
  }
  return { terms };
}

/** The value a filter key has for a variant (undefined: the variant lacks that key). */
export function filterValue(v: ScenarioVariant, key: string): ParamValue | undefined {
  switch (key) {
    case 'family':
      return v.family;
    case 'category':
      return v.category;
    case 'id':
      return v.id;
    case 'weather':
      return v.scenario.environment.weather;
    case 'time_of_day':
      return v.scenario.environment.timeOfDay;
    default:
      return v.parameters[key] ?? v.scenario.parameters[key];
  }
}

function same(value: ParamValue, want: string): boolean {
  if (String(value) === want) return true;
  if (typeof value === 'number') {
    const n = Number(want);
    return want.trim() !== '' && Number.isFinite(n) && Math.abs(n - value) <= 1e-9 * Math.max(1, Math.abs(n));
  }
  if (typeof value === 'string') return value.toLowerCase() === want.toLowerCase();
  return false;
}

/** True when the variant satisfies every key of the filter (any of that key's values). */
export function matchesFilter(v: ScenarioVariant, f: VariantFilter): boolean {
  for (const [key, wants] of Object.entries(f.terms)) {
    const value = filterValue(v, key);
    if (value === undefined || !wants.some((w) => same(value, w))) return false;
  }
  return true;
}

/**
 * Applies a filter to loaded variants. A key that is neither built in nor a parameter of any variant
 * is a USAGE error listing the known keys (a typo must not silently select nothing).
 */
export function applyFilter(variants: ScenarioVariant[], f: VariantFilter): ScenarioVariant[] {
  const known = new Set<string>(BUILTIN_FILTER_KEYS);
  for (const v of variants) for (const k of Object.keys(v.scenario.parameters)) known.add(k);
  for (const key of Object.keys(f.terms)) {
    if (!known.has(key)) {
      throw new DrivegateError('USAGE', `unknown filter key '${key}'`, {
        field: '--filter',
        expected: [...known].sort().join(', '),
      });
    }
  }
  return variants.filter((v) => matchesFilter(v, f));
}
