/**
 * Gate policies (gates.yaml v1): a list of rules over report fields. Rule kinds:
 * - `threshold`: the value must lie within `min` and/or `max` (inclusive);
 * - `improvement`: the value must beat the baseline by at least `min` in `mode`;
 * - `no_regression`: the value may be worse than the baseline by at most `max` in `mode`.
 * `mode` (required for the two baseline kinds, no default): `absolute` (metric units), `points`
 * (absolute x 100, for 0..1 metrics: 1.5 points = 0.015), or `relative` (a fraction of the
 * baseline: 0.02 = 2%). `better` says which way is better (`higher`, default, or `lower`).
 * A field with `[*]` is checked per element (each must pass), or, with `aggregate`, once on the
 * aggregate (`mean`, `weighted_mean` by element weights, `min`, `max`, `sum`); `where` keeps the
 * elements whose fields equal the given values (e.g. `{critical: true}`); `null_values: skip` skips
 * elements whose value is null (a slice without ground truth) instead of making the rule an error.
 * Unknown kinds, unknown keys and bad paths are BAD_INPUT naming the file and line.
 */
import { z } from 'zod';
import { badInput } from '../../core/errors.js';
import type { YamlSource } from '../yaml.js';
import { validateWith } from '../yaml.js';
import { parsePath } from './path.js';
import type { FieldPath } from './path.js';

/** The rule kinds the engine knows. */
export const RULE_KINDS = ['threshold', 'improvement', 'no_regression'] as const;
/** A rule kind. */
export type RuleKind = (typeof RULE_KINDS)[number];
/** Comparison modes of baseline rules. */
export const MODES = ['absolute', 'relative', 'points'] as const;
/** A comparison mode. */
export type Mode = (typeof MODES)[number];
/** Aggregates over `[*]` elements. */
export const AGGREGATES = ['mean', 'weighted_mean', 'min', 'max', 'sum'] as const;
/** An aggregate. */
export type Aggregate = (typeof AGGREGATES)[number];

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const common = {
  id: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'a rule id (lowercase letters, digits, - _ .)'),
  description: z.string().optional(),
  kind: z.enum(RULE_KINDS),
  field: z.string().min(1),
  better: z.enum(['higher', 'lower']).default('higher'),
  aggregate: z.enum(AGGREGATES).optional(),
  where: z.record(z.string(), scalar).optional(),
  allow_empty: z.boolean().default(false),
  next_action: z.string().optional(),
  waivable: z.boolean().default(true),
  no_baseline: z.enum(['error', 'skip']).default('error'),
  null_values: z.enum(['error', 'skip']).default('error'),
};

const ruleSchemas = {
  threshold: z
    .strictObject({ ...common, min: z.number().finite().optional(), max: z.number().finite().optional() })
    .refine((r) => r.min !== undefined || r.max !== undefined, 'min or max'),
  improvement: z.strictObject({ ...common, min: z.number().finite(), mode: z.enum(MODES) }),
  no_regression: z.strictObject({ ...common, max: z.number().finite().nonnegative(), mode: z.enum(MODES) }),
} as const;

/** A validated rule, with its parsed path and where it was declared. */
export interface GateRule {
  id: string;
  description?: string | undefined;
  kind: RuleKind;
  field: string;
  path: FieldPath;
  better: 'higher' | 'lower';
  aggregate?: Aggregate | undefined;
  where?: Record<string, string | number | boolean> | undefined;
  allow_empty: boolean;
  next_action?: string | undefined;
  waivable: boolean;
  no_baseline: 'error' | 'skip';
  /** `[*]` rules: elements whose value (candidate or baseline) is null are an error, or skipped. */
  null_values: 'error' | 'skip';
  min?: number | undefined;
  max?: number | undefined;
  mode?: Mode | undefined;
  /** Line in the policy file, when known. */
  line?: number | undefined;
}

/** A gate policy. */
export interface GatePolicy {
  file: string;
  name: string;
  rules: GateRule[];
  waivers: { allowed: boolean; require_signature: boolean };
}

const policySchema = z.strictObject({
  version: z.literal(1),
  name: z.string().min(1),
  description: z.string().optional(),
  waivers: z
    .strictObject({ allowed: z.boolean().default(true), require_signature: z.boolean().default(false) })
    .default({ allowed: true, require_signature: false }),
  rules: z.array(z.record(z.string(), z.unknown())).min(1),
});

/** Parses and checks a gate policy. */
export function parseGatePolicy(src: YamlSource): GatePolicy {
  const p = validateWith(src, policySchema);
  const ids = new Set<string>();
  const rules: GateRule[] = p.rules.map((raw, i) => {
    const at = (key?: string): { file: string; field: string; line?: number } => {
      const line = src.lineOf(key === undefined ? ['rules', i] : ['rules', i, key]);
      return {
        file: src.file,
        field: `rules[${i}]${key === undefined ? '' : '.' + key}`,
        ...(line !== undefined ? { line } : {}),
      };
    };
    const kind = raw['kind'];
    if (typeof kind !== 'string' || !(RULE_KINDS as readonly string[]).includes(kind)) {
      throw badInput('unknown rule kind', {
        ...at('kind'),
        expected: `one of ${RULE_KINDS.join(', ')}`,
        found: kind === undefined ? 'no kind' : JSON.stringify(kind),
      });
    }
    const r = validateWith(
      src,
      ruleSchemas[kind as RuleKind] as unknown as z.ZodType<Record<string, unknown>>,
      raw,
      ['rules', i],
    );
    const id = String(r['id']);
    if (ids.has(id))
      throw badInput('duplicate rule id', {
        ...at('id'),
        expected: 'unique rule ids',
        found: JSON.stringify(id),
      });
    ids.add(id);
    let path: FieldPath;
    try {
      path = parsePath(String(r['field']));
    } catch (err) {
      throw badInput('bad field path', {
        ...at('field'),
        expected: 'a path like overall.map or slices[*].metrics.map',
        found: (err as Error).message,
      });
    }
    if (path.wildcardAt < 0 && r['null_values'] === 'skip') {
      throw badInput('null_values: skip needs a [*] in the field path', {
        ...at('null_values'),
        found: String(r['field']),
      });
    }
    if (path.wildcardAt < 0 && (r['aggregate'] !== undefined || r['where'] !== undefined)) {
      throw badInput('aggregate and where need a [*] in the field path', {
        ...at(r['aggregate'] !== undefined ? 'aggregate' : 'where'),
        found: String(r['field']),
      });
    }
    const line = src.lineOf(['rules', i]);
    return { ...(r as Omit<GateRule, 'path' | 'line'>), path, ...(line !== undefined ? { line } : {}) };
  });
  return { file: src.file, name: p.name, rules, waivers: p.waivers };
}
