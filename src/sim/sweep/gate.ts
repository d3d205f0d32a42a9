/**
 * The Sim Gate: pass criteria over the simulation report, declared in the gate YAML of the eval
 * gate (same rule kinds, modes, waivers and verdict; one engine, src/eval/gates), with field paths
 * into the SimReport: `overall.<metric>`, `categories[*].<metric>` (with `where: {name: ncap}` for
 * one category, or per category), `families[*].<metric>`. On top of the eval gate's strict schema,
 * every field path is checked against the report's known metrics when the file is read, so a typo
 * is a BAD_INPUT naming the file and line before any simulation runs, never a failure at the end.
 */
import { badInput } from '../../core/errors.js';
import { evaluateGates, parseGatePolicy } from '../../eval/gates/index.js';
import type { GatePolicy, GateVerdict, Waiver, WaiverVerifier } from '../../eval/gates/index.js';
import type { PathSegment } from '../../eval/gates/index.js';
import { readYamlSource } from '../../eval/yaml.js';
import type { YamlSource } from '../../eval/yaml.js';
import { aggregateRuns } from './aggregate.js';
import type { SimReport } from './aggregate.js';

/** Top-level sections of the SimReport a rule may point into, and whether each is a list. */
const SECTIONS: Record<string, 'object' | 'list'> = {
  overall: 'object',
  categories: 'list',
  families: 'list',
};

/** Every metric path of an aggregates object (e.g. `collisions`, `comfort.max_decel_mps2.p95`). */
export function simMetricPaths(): string[] {
  const out: string[] = [];
  const walk = (o: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(o)) {
      const p = prefix === '' ? k : `${prefix}.${k}`;
      if (v !== null && typeof v === 'object') walk(v as Record<string, unknown>, p);
      else out.push(p);
    }
  };
  walk(aggregateRuns([]) as unknown as Record<string, unknown>, '');
  return out;
}

/** Checks that a rule's path names a metric of the SimReport; the reason when it does not. */
function pathProblem(segments: readonly PathSegment[]): string | null {
  const [first, second, ...rest] = segments;
  if (first?.kind !== 'key' || SECTIONS[first.key] === undefined) {
    return `a path starting with ${Object.keys(SECTIONS).join(', ')}`;
  }
  let metric: readonly PathSegment[];
  if (SECTIONS[first.key] === 'list') {
    if (second === undefined || second.kind === 'key') {
      return `'${first.key}' is a list: ${first.key}[*].<metric> or ${first.key}[name=<name>].<metric>`;
    }
    metric = rest;
  } else {
    metric = second === undefined ? [] : [second, ...rest];
  }
  if (metric.some((s) => s.kind !== 'key')) return 'a metric name after the section (no further [..])';
  const text = metric.map((s) => (s.kind === 'key' ? s.key : '')).join('.');
  return simMetricPaths().includes(text)
    ? null
    : `a metric of the simulation report (${simMetricPaths().join(', ')})`;
}

/** Parses a Sim Gate YAML: the eval gate's strict schema, then every field checked against the SimReport. */
export function parseSimGate(src: YamlSource): GatePolicy {
  const policy = parseGatePolicy(src);
  policy.rules.forEach((r, i) => {
    const problem = pathProblem(r.path.segments);
    if (problem !== null) {
      const line = src.lineOf(['rules', i, 'field']);
      throw badInput('unknown simulation report field', {
        file: src.file,
        field: `rules[${i}].field`,
        ...(line !== undefined ? { line } : {}),
        expected: problem,
        found: JSON.stringify(r.field),
      });
    }
  });
  return policy;
}

/** Reads and parses a Sim Gate file (missing: NOT_FOUND; bad: BAD_INPUT with file and line). */
export async function readSimGate(file: string): Promise<GatePolicy> {
  return parseSimGate(await readYamlSource(file));
}

/** Inputs of the Sim Gate. */
export interface SimGateInput {
  policy: GatePolicy;
  candidate: SimReport;
  /** The baseline's report on the same variants and seeds; null when no baseline was run. */
  baseline: SimReport | null;
  waivers?: Waiver[];
  verifyWaiver?: WaiverVerifier;
  now: Date;
}

/**
 * Judges the candidate against the baseline. A rule that needs a baseline when none was run, or a
 * field the report does not have (e.g. a category that was filtered out), makes the verdict
 * `error`, never `pass`.
 */
export function evaluateSimGate(input: SimGateInput): GateVerdict {
  return evaluateGates({
    policy: input.policy,
    candidate: input.candidate,
    baseline: input.baseline,
    slices: null,
    waivers: input.waivers,
    verifyWaiver: input.verifyWaiver,
    now: input.now,
    sources: {
      candidate: `the sim report of ${input.candidate.model.name}`,
      baseline: input.baseline === null ? undefined : `the sim report of ${input.baseline.model.name}`,
    },
  });
}
