/**
 * The gate engine: evaluates every rule of a policy against a candidate report, a baseline report
 * (or null) and slice definitions, applies waivers, and returns a verdict that lists each rule with
 * its value, baseline value, threshold, outcome and a sentence of rationale; when it fails, a
 * blocking report names the failing rules and slices and the next actions. Pure: data in, verdict
 * out (the clock comes in as `now`).
 *
 * Nothing passes silently: a field missing from a report, a null or non-numeric value, a `where`
 * that names no field, a `[*]` that selects nothing (unless `allow_empty`), a baseline rule without
 * a baseline (unless `no_baseline: skip`, reported as skipped) all make the rule an error, and any
 * error makes the verdict `error` (never `pass`).
 */
import type { EvalReport } from '../report-schema.js';
import type { SliceDefinition } from './slices.js';
import { filterWords } from './slices.js';
import type { Aggregate, GatePolicy, GateRule } from './policy.js';
import { follow, formatSegments } from './path.js';
import type { Waiver, WaiverCheck, WaiverVerifier } from './waivers.js';
import { acceptUnsigned } from './waivers.js';

/** Floating-point slack of comparisons (metric units). */
export const GATE_EPSILON = 1e-9;

/**
 * A report a gate judges: an eval_report.json, or another workflow's JSON report that names its
 * model (e.g. the simulation report of `drivegate sim run`); slice definitions apply to the
 * `slices` of eval reports only.
 */
export type GateReport = EvalReport | { model: EvalReport['model']; [key: string]: unknown };

/** Inputs of evaluateGates. */
export interface GateInput {
  policy: GatePolicy;
  candidate: GateReport;
  baseline: GateReport | null;
  /** Slice definitions (slices.yaml); when given they decide slice weights, flags and filters. */
  slices?: SliceDefinition[] | null | undefined;
  waivers?: Waiver[] | undefined;
  /** The time waivers are checked against. */
  now: Date;
  verifyWaiver?: WaiverVerifier | undefined;
  /** File names for messages. */
  sources?: { candidate?: string | undefined; baseline?: string | undefined } | undefined;
}

/** The outcome of a rule. */
export type RuleStatus = 'pass' | 'fail' | 'waived' | 'skipped' | 'error';

/** One element's outcome in a per-element rule (e.g. one slice). */
export interface ElementResult {
  key: string;
  value: number | null;
  baseline: number | null;
  threshold: number | null;
  status: 'pass' | 'fail' | 'skipped' | 'error';
  rationale: string;
}

/** One rule's outcome. */
export interface RuleResult {
  id: string;
  kind: GateRule['kind'];
  field: string;
  description?: string;
  status: RuleStatus;
  /** The candidate value (aggregate or single field); null for per-element rules and errors. */
  value: number | null;
  baseline: number | null;
  /** The bound the value was held to, e.g. ">= 0.6050". */
  threshold: string;
  threshold_value: number | null;
  rationale: string;
  elements?: ElementResult[];
  /** Waiver that turned a failure into `waived`. */
  waiver?: Waiver & { verification: WaiverCheck };
  /** Status before waivers (fail when waived). */
  raw_status: 'pass' | 'fail' | 'skipped' | 'error';
}

/** A slice that failed some rule. */
export interface FailingSlice {
  name: string;
  filter: Record<string, unknown>;
  critical: boolean;
  weight: number;
  rules: string[];
}

/** The report of a failed gate: what blocks and what to do. */
export interface BlockingReport {
  failing_rules: Array<{ id: string; rationale: string }>;
  failing_slices: FailingSlice[];
  next_actions: string[];
}

/** The verdict of a gate. */
export interface GateVerdict {
  status: 'pass' | 'fail' | 'error';
  policy: { name: string; file: string };
  candidate: { name: string; version?: string; digest?: string };
  baseline: { name: string; version?: string; digest?: string } | null;
  evaluated_at: string;
  /** Where slice weights and flags came from. */
  slice_source: 'slices.yaml' | 'report';
  rules: RuleResult[];
  waivers: {
    applied: Array<{ rule: string; approver: string; expires: string; verification: WaiverCheck }>;
    ignored: Array<{ rule: string; approver: string; expires: string; reason: string }>;
  };
  blocking?: BlockingReport;
  /** Errors that made the verdict `error` (each names the rule and the field). */
  errors: string[];
  notes: string[];
  summary: string;
}

type Obj = Record<string, unknown>;

/** Evaluates a gate policy. */
export function evaluateGates(input: GateInput): GateVerdict {
  const notes: string[] = [];
  const errors: string[] = [];
  const candName = input.sources?.candidate ?? 'candidate report';
  const baseName = input.sources?.baseline ?? 'baseline report';
  const cand = effectiveReport(input.candidate, input.slices, candName, errors, notes, true);
  const base =
    input.baseline === null
      ? null
      : effectiveReport(input.baseline, input.slices, baseName, errors, notes, false);
  const ctx: Ctx = { cand, base, candName, baseName };
  const rules = input.policy.rules.map((r) => evaluateRule(r, ctx));
  const waivers = applyWaivers(input, rules);
  for (const r of rules) if (r.status === 'error') errors.push(`rule '${r.id}': ${r.rationale}`);
  const status: GateVerdict['status'] =
    errors.length > 0 ? 'error' : rules.some((r) => r.status === 'fail') ? 'fail' : 'pass';
  const counts = (s: RuleStatus): number => rules.filter((r) => r.status === s).length;
  const summary =
    status === 'error'
      ? `gate '${input.policy.name}' could not be evaluated: ${errors.length} error(s)`
      : `gate '${input.policy.name}' ${status === 'pass' ? 'passed' : 'FAILED'}: ${counts('pass')} passed, ${counts('fail')} failed, ${counts('waived')} waived, ${counts('skipped')} skipped`;
  const model = (r: GateReport): GateVerdict['candidate'] => ({
    name: r.model.name,
    ...(r.model.version !== undefined ? { version: r.model.version } : {}),
    ...(r.model.digest !== undefined ? { digest: r.model.digest } : {}),
  });
  return {
    status,
    policy: { name: input.policy.name, file: input.policy.file },
    candidate: model(input.candidate),
    baseline: input.baseline === null ? null : model(input.baseline),
    evaluated_at: input.now.toISOString(),
    slice_source: input.slices ? 'slices.yaml' : 'report',
    rules,
    waivers,
    ...(status === 'fail' ? { blocking: blockingReport(rules, input.policy.rules, cand, base) } : {}),
    errors,
    notes,
    summary,
  };
}

interface Ctx {
  cand: Obj;
  base: Obj | null;
  candName: string;
  baseName: string;
}

/** The report as a plain object, with slice weights/flags/filters taken from the definitions. */
function effectiveReport(
  report: GateReport,
  defs: SliceDefinition[] | null | undefined,
  name: string,
  errors: string[],
  notes: string[],
  isCandidate: boolean,
): Obj {
  const obj = JSON.parse(JSON.stringify(report)) as Obj;
  if (!defs) return obj;
  const reportSlices = Array.isArray(report['slices']) ? (report['slices'] as EvalReport['slices']) : [];
  const byName = new Map(reportSlices.map((s) => [s.name, s] as const));
  const slices: Obj[] = [];
  for (const d of defs) {
    const s = byName.get(d.name);
    if (s === undefined) {
      if (isCandidate) errors.push(`slice '${d.name}' of the slice definitions is not in ${name}`);
      continue;
    }
    slices.push({
      ...(JSON.parse(JSON.stringify(s)) as Obj),
      filter: d.filter,
      weight: d.weight,
      critical: d.critical,
    });
  }
  const extra = reportSlices.filter((s) => !defs.some((d) => d.name === s.name)).map((s) => s.name);
  if (extra.length > 0 && isCandidate)
    notes.push(`slices in ${name} but not in the slice definitions, not gated: ${extra.join(', ')}`);
  obj['slices'] = slices;
  return obj;
}

function evaluateRule(rule: GateRule, ctx: Ctx): RuleResult {
  const head = {
    id: rule.id,
    kind: rule.kind,
    field: rule.field,
    ...(rule.description !== undefined ? { description: rule.description } : {}),
  };
  const error = (rationale: string): RuleResult => ({
    ...head,
    status: 'error',
    raw_status: 'error',
    value: null,
    baseline: null,
    threshold: describeBound(rule, null),
    threshold_value: null,
    rationale,
  });
  const skipped = (rationale: string): RuleResult => ({ ...error(rationale), status: 'skipped', raw_status: 'skipped' });
  const needsBaseline = rule.kind !== 'threshold';
  if (needsBaseline && ctx.base === null) {
    if (rule.no_baseline === 'skip') {
      return skipped('no baseline report; the rule says no_baseline: skip');
    }
    return error(
      `needs a baseline report and none was given (set no_baseline: skip to allow that explicitly)`,
    );
  }
  if (rule.path.wildcardAt < 0) {
    const v = numberAt(ctx.cand, rule.path.segments, ctx.candName);
    if (typeof v === 'string') return error(v);
    let b: number | null = null;
    if (needsBaseline) {
      const bv = numberAt(ctx.base!, rule.path.segments, ctx.baseName);
      if (typeof bv === 'string') return error(bv);
      b = bv;
    }
    const c = compare(rule, v, b);
    return {
      ...head,
      status: c.passed ? 'pass' : 'fail',
      raw_status: c.passed ? 'pass' : 'fail',
      value: v,
      baseline: b,
      threshold: describeBound(rule, c.bound),
      threshold_value: c.bound,
      rationale: `${rule.field} = ${fmt(v)}${c.text}: ${c.passed ? 'pass' : 'fail'}.`,
    };
  }
  // A [*] path: select elements, then aggregate or check each.
  const prefix = rule.path.segments.slice(0, rule.path.wildcardAt);
  const suffix = rule.path.segments.slice(rule.path.wildcardAt + 1);
  const listText = formatSegments(prefix);
  const list = follow(ctx.cand, prefix);
  if (!list.ok) return error(`${list.reason} in ${ctx.candName}`);
  if (!Array.isArray(list.value)) return error(`'${listText}' is not a list in ${ctx.candName}`);
  const all = list.value as unknown[];
  let elements = all.map((e, i) => ({ e, key: keyOf(e, i) }));
  if (rule.where !== undefined) {
    for (const k of Object.keys(rule.where)) {
      if (
        !all.some((e) => e !== null && typeof e === 'object' && Object.prototype.hasOwnProperty.call(e, k))
      ) {
        return error(`where: '${k}' is not a field of the elements of '${listText}' in ${ctx.candName}`);
      }
    }
    elements = elements.filter(({ e }) =>
      Object.entries(rule.where!).every(
        ([k, want]) => e !== null && typeof e === 'object' && (e as Obj)[k] === want,
      ),
    );
  }
  const whereText =
    rule.where !== undefined
      ? ` where ${Object.entries(rule.where)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(', ')}`
      : '';
  if (elements.length === 0) {
    if (rule.allow_empty) {
      return {
        ...head,
        status: 'pass',
        raw_status: 'pass',
        value: null,
        baseline: null,
        threshold: describeBound(rule, null),
        threshold_value: null,
        rationale: `no element of '${listText}'${whereText}; the rule says allow_empty: true`,
      };
    }
    return error(
      `no element of '${listText}'${whereText} in ${ctx.candName} (set allow_empty: true if that is expected)`,
    );
  }
  let baseByKey: Map<string, unknown> | null = null;
  if (needsBaseline) {
    const bl = follow(ctx.base!, prefix);
    if (!bl.ok || !Array.isArray(bl.value)) return error(`'${listText}' is not a list in ${ctx.baseName}`);
    baseByKey = new Map((bl.value as unknown[]).map((e, i) => [keyOf(e, i), e] as const));
  }
  const suffixText = formatSegments(suffix);
  const label = (key: string): string => `${listText}[${key}]${suffixText ? '.' + suffixText : ''}`;

  if (rule.aggregate !== undefined) {
    const vals: number[] = [];
    const bvals: number[] = [];
    const weights: number[] = [];
    const skippedNull: string[] = [];
    for (const { e, key } of elements) {
      if (rule.null_values === 'skip') {
        const be = baseByKey?.get(key);
        if (isNullAt(e, suffix) || (be !== undefined && isNullAt(be, suffix))) {
          skippedNull.push(key);
          continue;
        }
      }
      const v = numberAt(e, suffix, ctx.candName, label(key));
      if (typeof v === 'string') return error(v);
      vals.push(v);
      if (rule.aggregate === 'weighted_mean') {
        const w = e !== null && typeof e === 'object' ? (e as Obj)['weight'] : undefined;
        if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
          return error(
            `weighted_mean needs a weight >= 0 on '${listText}[${key}]'; found ${JSON.stringify(w)}`,
          );
        }
        weights.push(w);
      }
      if (baseByKey !== null) {
        const be = baseByKey.get(key);
        if (be === undefined) {
          if (rule.no_baseline === 'skip') {
            return skipped(
              `${ctx.baseName} has no '${listText}[${key}]' to aggregate over; the rule says no_baseline: skip`,
            );
          }
          return error(`${ctx.baseName} has no '${listText}[${key}]', so the aggregates are not comparable`);
        }
        const bv = numberAt(be, suffix, ctx.baseName, label(key));
        if (typeof bv === 'string') return error(bv);
        bvals.push(bv);
      }
    }
    if (vals.length === 0) {
      return error(
        `every element of '${listText}'${whereText} has a null value (null_values: skip left none)`,
      );
    }
    const v = aggregate(rule.aggregate, vals, weights);
    if (typeof v === 'string') return error(v);
    let b: number | null = null;
    if (baseByKey !== null) {
      const bv = aggregate(rule.aggregate, bvals, weights);
      if (typeof bv === 'string') return error(bv);
      b = bv;
    }
    const c = compare(rule, v, b);
    const what =
      `${rule.aggregate}(${rule.field}) over ${vals.length} element(s)${whereText}` +
      (skippedNull.length > 0 ? ` (null, skipped: ${skippedNull.join(', ')})` : '');
    return {
      ...head,
      status: c.passed ? 'pass' : 'fail',
      raw_status: c.passed ? 'pass' : 'fail',
      value: v,
      baseline: b,
      threshold: describeBound(rule, c.bound),
      threshold_value: c.bound,
      rationale: `${what} = ${fmt(v)}${c.text}: ${c.passed ? 'pass' : 'fail'}.`,
    };
  }

  const results: ElementResult[] = [];
  for (const { e, key } of elements) {
    if (rule.null_values === 'skip') {
      const be = baseByKey?.get(key);
      const side = isNullAt(e, suffix)
        ? ctx.candName
        : be !== undefined && isNullAt(be, suffix)
          ? ctx.baseName
          : null;
      if (side !== null) {
        results.push({
          key,
          value: null,
          baseline: null,
          threshold: null,
          status: 'skipped',
          rationale: `${label(key)} is null in ${side}; skipped (null_values: skip)`,
        });
        continue;
      }
    }
    const v = numberAt(e, suffix, ctx.candName, label(key));
    if (typeof v === 'string') return error(v);
    let b: number | null = null;
    if (baseByKey !== null) {
      const be = baseByKey.get(key);
      if (be === undefined) {
        if (rule.no_baseline === 'skip') {
          results.push({
            key,
            value: v,
            baseline: null,
            threshold: null,
            status: 'skipped',
            rationale: `no '${key}' in ${ctx.baseName}; skipped (no_baseline: skip)`,
          });
          continue;
        }
        return error(`${ctx.baseName} has no '${listText}[${key}]' to compare with`);
      }
      const bv = numberAt(be, suffix, ctx.baseName, label(key));
      if (typeof bv === 'string') return error(bv);
      b = bv;
    }
    const c = compare(rule, v, b);
    results.push({
      key,
      value: v,
      baseline: b,
      threshold: c.bound,
      status: c.passed ? 'pass' : 'fail',
      rationale: `${label(key)} = ${fmt(v)}${c.text}: ${c.passed ? 'pass' : 'fail'}.`,
    });
  }
  const failed = results.filter((r) => r.status === 'fail');
  const checked = results.filter((r) => r.status !== 'skipped').length;
  const passed = failed.length === 0;
  const rationale = passed
    ? `all ${checked} element(s) of '${listText}'${whereText} meet it (${describeBound(rule, null)})` +
      (checked < results.length ? `; ${results.length - checked} skipped` : '') +
      '.'
    : `${failed.length} of ${checked} element(s) of '${listText}'${whereText} fail: ` +
      failed.map((f) => f.rationale).join(' ');
  return {
    ...head,
    status: passed ? 'pass' : 'fail',
    raw_status: passed ? 'pass' : 'fail',
    value: null,
    baseline: null,
    threshold: describeBound(rule, null),
    threshold_value: null,
    rationale,
    elements: results,
  };
}

function keyOf(e: unknown, i: number): string {
  if (e !== null && typeof e === 'object' && typeof (e as Obj)['name'] === 'string')
    return (e as Obj)['name'] as string;
  return String(i);
}

/** True when the path resolves to null. */
function isNullAt(root: unknown, segments: Parameters<typeof follow>[1]): boolean {
  const r = follow(root, segments);
  return r.ok && r.value === null;
}

/** The number at a path, or an error sentence naming the field and the report. */
function numberAt(
  root: unknown,
  segments: Parameters<typeof follow>[1],
  source: string,
  label?: string,
): number | string {
  const r = follow(root, segments);
  const name = label ?? formatSegments(segments);
  if (!r.ok)
    return label !== undefined
      ? `field '${name}' not found in ${source}`
      : `field '${name}' not found in ${source}: ${r.reason}`;
  if (r.value === null) return `field '${name}' is null in ${source} (not measured), so it cannot be gated`;
  if (typeof r.value !== 'number' || !Number.isFinite(r.value)) {
    return `field '${name}' in ${source} is not a number (found ${JSON.stringify(r.value)?.slice(0, 40) ?? 'undefined'})`;
  }
  return r.value;
}

function aggregate(kind: Aggregate, vals: number[], weights: number[]): number | string {
  switch (kind) {
    case 'mean':
      return vals.reduce((a, b) => a + b, 0) / vals.length;
    case 'weighted_mean': {
      const wsum = weights.reduce((a, b) => a + b, 0);
      if (!(wsum > 0)) return 'weighted_mean over elements whose weights sum to 0';
      return vals.reduce((a, v, i) => a + v * weights[i]!, 0) / wsum;
    }
    case 'min':
      return Math.min(...vals);
    case 'max':
      return Math.max(...vals);
    case 'sum':
      return vals.reduce((a, b) => a + b, 0);
  }
}

/** Scales a requirement to metric units. */
function scaled(rule: GateRule, amount: number, base: number): number {
  if (rule.mode === 'points') return amount / 100;
  if (rule.mode === 'relative') return amount * Math.abs(base);
  return amount;
}

function unitText(rule: GateRule, amount: number): string {
  if (rule.mode === 'points') return `${amount} point${amount === 1 ? '' : 's'}`;
  if (rule.mode === 'relative') return `${+(amount * 100).toFixed(6)}%`;
  return `${amount}`;
}

function changeText(rule: GateRule, v: number, b: number): string {
  const d = v - b;
  const sign = d > 0 ? '+' : d < 0 ? '-' : '±';
  if (rule.mode === 'points') return `${sign}${Math.abs(d * 100).toFixed(2)} points`;
  if (rule.mode === 'relative')
    return b === 0
      ? 'relative change undefined at baseline 0'
      : `${sign}${Math.abs((d / Math.abs(b)) * 100).toFixed(2)}%`;
  return `${sign}${fmt(Math.abs(d))}`;
}

/** Compares a value with its bound; `text` continues "field = value". */
function compare(
  rule: GateRule,
  v: number,
  b: number | null,
): { passed: boolean; bound: number | null; text: string } {
  const s = rule.better === 'higher' ? 1 : -1;
  const op = rule.better === 'higher' ? '>=' : '<=';
  if (rule.kind === 'threshold') {
    const okMin = rule.min === undefined || v >= rule.min - GATE_EPSILON;
    const okMax = rule.max === undefined || v <= rule.max + GATE_EPSILON;
    const bound = !okMin ? rule.min! : !okMax ? rule.max! : (rule.max ?? rule.min ?? null);
    return { passed: okMin && okMax, bound, text: `; must be ${describeBound(rule, null)}` };
  }
  const base = b!;
  const required = rule.kind === 'improvement' ? rule.min! : -rule.max!;
  const bound = base + s * scaled(rule, required, base);
  const passed = s * (v - bound) >= -GATE_EPSILON;
  const need =
    rule.kind === 'improvement'
      ? `needs ${op} ${fmt(bound)} (baseline ${required >= 0 ? (s > 0 ? '+' : '-') : s > 0 ? '-' : '+'} ${unitText(rule, Math.abs(required))})`
      : `may be at most ${unitText(rule, rule.max!)} worse than baseline (${op} ${fmt(bound)})`;
  return { passed, bound, text: ` vs baseline ${fmt(base)} (${changeText(rule, v, base)}); ${need}` };
}

function describeBound(rule: GateRule, bound: number | null): string {
  const op = rule.better === 'higher' ? '>=' : '<=';
  if (rule.kind === 'threshold') {
    if (rule.min !== undefined && rule.max !== undefined) return `in [${fmt(rule.min)}, ${fmt(rule.max)}]`;
    return rule.min !== undefined ? `>= ${fmt(rule.min)}` : `<= ${fmt(rule.max!)}`;
  }
  if (bound !== null) return `${op} ${fmt(bound)}`;
  const dir = rule.better === 'higher' ? 'higher' : 'lower';
  return rule.kind === 'improvement'
    ? `baseline improved by >= ${unitText(rule, rule.min!)} (${dir} is better)`
    : `no worse than baseline by more than ${unitText(rule, rule.max!)} (${dir} is better)`;
}

/** A number for people: up to 4 decimals, no trailing zeros. */
function fmt(v: number): string {
  return String(+v.toFixed(Math.abs(v) >= 100 ? 2 : 4));
}

function applyWaivers(input: GateInput, rules: RuleResult[]): GateVerdict['waivers'] {
  const applied: GateVerdict['waivers']['applied'] = [];
  const ignored: GateVerdict['waivers']['ignored'] = [];
  const verify = input.verifyWaiver ?? acceptUnsigned;
  const ruleDefs = new Map(input.policy.rules.map((r) => [r.id, r] as const));
  for (const w of input.waivers ?? []) {
    const who = { rule: w.rule, approver: w.approver, expires: w.expires };
    const def = ruleDefs.get(w.rule);
    const result = rules.find((r) => r.id === w.rule);
    if (def === undefined || result === undefined) {
      ignored.push({ ...who, reason: `no rule '${w.rule}' in policy '${input.policy.name}'` });
      continue;
    }
    if (Date.parse(w.expires) <= input.now.getTime()) {
      ignored.push({ ...who, reason: `expired at ${w.expires}` });
      continue;
    }
    if (!input.policy.waivers.allowed) {
      ignored.push({ ...who, reason: `policy '${input.policy.name}' allows no waivers` });
      continue;
    }
    if (!def.waivable) {
      ignored.push({ ...who, reason: `rule '${w.rule}' is not waivable` });
      continue;
    }
    const check = verify(w);
    if (!check.trusted) {
      ignored.push({ ...who, reason: `not trusted: ${check.reason}` });
      continue;
    }
    if (input.policy.waivers.require_signature && !check.signed) {
      ignored.push({ ...who, reason: 'the policy requires signed waivers and this one is not signed' });
      continue;
    }
    if (result.status !== 'fail') {
      ignored.push({ ...who, reason: `rule '${w.rule}' did not fail (${result.status}); waiver not needed` });
      continue;
    }
    if (w.elements !== undefined) {
      const failing = (result.elements ?? []).filter((e) => e.status === 'fail').map((e) => e.key);
      const uncovered = failing.filter((k) => !w.elements!.includes(k));
      if (result.elements === undefined || uncovered.length > 0) {
        ignored.push({
          ...who,
          reason:
            result.elements === undefined
              ? `rule '${w.rule}' has no elements; a waiver with elements cannot cover it`
              : `does not cover failing element(s) ${uncovered.join(', ')}`,
        });
        continue;
      }
    }
    result.status = 'waived';
    result.waiver = { ...w, verification: check };
    result.rationale += ` Waived by ${w.approver} until ${w.expires}: ${w.justification}`;
    applied.push({ ...who, verification: check });
  }
  return { applied, ignored };
}

function blockingReport(
  results: RuleResult[],
  defs: GateRule[],
  cand: Obj,
  base: Obj | null,
): BlockingReport {
  const failing = results.filter((r) => r.status === 'fail');
  const slices = Array.isArray(cand['slices']) ? (cand['slices'] as Obj[]) : [];
  const sliceByName = new Map(slices.map((s) => [String(s['name']), s] as const));
  const failingSlices = new Map<string, FailingSlice>();
  const actions: string[] = [];
  const add = (a: string): void => {
    if (!actions.includes(a)) actions.push(a);
  };
  for (const r of failing) {
    const def = defs.find((d) => d.id === r.id)!;
    const onSlices = def.path.segments[0]?.kind === 'key' && def.path.segments[0].key === 'slices';
    if (def.next_action !== undefined) add(def.next_action);
    if (onSlices && r.elements !== undefined) {
      for (const e of r.elements.filter((x) => x.status === 'fail')) {
        const s = sliceByName.get(e.key);
        const fs = failingSlices.get(e.key) ?? {
          name: e.key,
          filter: (s?.['filter'] as Record<string, unknown> | undefined) ?? {},
          critical: s?.['critical'] === true,
          weight: typeof s?.['weight'] === 'number' ? (s['weight'] as number) : 1,
          rules: [],
        };
        fs.rules.push(r.id);
        failingSlices.set(e.key, fs);
      }
    } else if (def.next_action === undefined) {
      add(defaultAction(def, r, slices, base));
    }
  }
  for (const fs of failingSlices.values()) {
    const words = filterWords(fs.filter);
    add(
      `Collect and label more ${words || fs.name} frames (slice '${fs.name}'${fs.critical ? ', critical' : ''}), ` +
        `then retrain and re-evaluate.`,
    );
  }
  return {
    failing_rules: failing.map((r) => ({ id: r.id, rationale: r.rationale })),
    failing_slices: [...failingSlices.values()],
    next_actions: actions,
  };
}

function defaultAction(def: GateRule, r: RuleResult, slices: Obj[], base: Obj | null): string {
  const first = def.path.segments[0];
  const top = first?.kind === 'key' ? first.key : '';
  if (top === 'latency') {
    return `Bring ${def.field} within ${r.threshold}: profile on the target device, try the FP16/INT8 pack or a smaller input size.`;
  }
  if (top === 'calibration') {
    return `Recalibrate the scores (e.g. temperature scaling on a held-out split) and re-evaluate ${def.field}.`;
  }
  const second = def.path.segments[1];
  const third = def.path.segments[2];
  if (top === 'overall' && second?.kind === 'key' && second.key === 'per_class' && third?.kind === 'key') {
    return `Collect and label more ${third.key} frames, then retrain and re-evaluate.`;
  }
  if (top === 'slices' || top === 'overall') {
    const weakest = weakestSlices(slices, def, base);
    return weakest.length > 0
      ? `Mine hard examples from the weakest slices (${weakest.join(', ')}), then retrain and re-evaluate.`
      : `Mine hard examples where the model is weakest, then retrain and re-evaluate.`;
  }
  return `Fix ${def.field} (${r.threshold}) and re-evaluate.`;
}

/**
 * The two weakest slices for the metric of a rule: those that lost most against the baseline, or
 * (when none lost) those with the lowest value.
 */
function weakestSlices(slices: Obj[], def: GateRule, base: Obj | null): string[] {
  const last = [...def.path.segments].reverse().find((s) => s.kind === 'key');
  const lastKey = last?.kind === 'key' ? last.key : 'map';
  const metrics0 = slices[0]?.['metrics'] as Obj | undefined;
  const key = typeof metrics0?.[lastKey] === 'number' ? lastKey : 'map';
  const baseSlices = new Map(
    (Array.isArray(base?.['slices']) ? (base['slices'] as Obj[]) : []).map(
      (s) => [String(s['name']), s] as const,
    ),
  );
  const metricOf = (s: Obj | undefined): unknown => (s?.['metrics'] as Obj | undefined)?.[key];
  const rows = slices
    .map((s) => {
      const v = metricOf(s);
      const b = metricOf(baseSlices.get(String(s['name'])));
      return {
        name: String(s['name']),
        filter: (s['filter'] as Record<string, unknown> | undefined) ?? {},
        v: typeof v === 'number' ? v : null,
        d: typeof v === 'number' && typeof b === 'number' ? v - b : null,
      };
    })
    .filter((s) => s.v !== null);
  const useDelta = rows.some((s) => s.d !== null && s.d < 0);
  return rows
    .filter((s) => !useDelta || (s.d !== null && s.d < 0))
    .sort((a, b) => (useDelta ? a.d! - b.d! : a.v! - b.v!))
    .slice(0, 2)
    .map(
      (s) =>
        `${filterWords(s.filter) || s.name}: ${key} ${useDelta ? (s.d! >= 0 ? '+' : '') + fmt(s.d!) + ' vs baseline' : fmt(s.v!)}`,
    );
}
