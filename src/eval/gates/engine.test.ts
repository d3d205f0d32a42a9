import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../core/paths.js';
import type { EvalReport } from '../report-schema.js';
import { parseYamlSource, readYamlSource } from '../yaml.js';
import { evaluateGates } from './engine.js';
import type { GateInput, GateVerdict } from './engine.js';
import { formatVerdict } from './format.js';
import { parseGatePolicy } from './policy.js';
import type { GatePolicy } from './policy.js';
import { parseSliceDefinitions } from './slices.js';
import { report } from './testdata.js';
import type { SliceSpec } from './testdata.js';
import type { Waiver } from './waivers.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const examplePolicy = async (): Promise<GatePolicy> =>
  parseGatePolicy(await readYamlSource(join(packageRoot(), 'examples', 'gates.yaml')));
const policy = (rules: string, head = ''): GatePolicy =>
  parseGatePolicy(parseYamlSource(`version: 1\nname: test\n${head}rules:\n${rules}`, 'gates.yaml'));

function gate(
  p: GatePolicy,
  cand: EvalReport,
  base: EvalReport | null,
  more: Partial<GateInput> = {},
): GateVerdict {
  return evaluateGates({
    policy: p,
    candidate: cand,
    baseline: base,
    now: NOW,
    sources: { candidate: 'cand.json', baseline: 'base.json' },
    ...more,
  });
}

const rule = (v: GateVerdict, id: string) => v.rules.find((r) => r.id === id)!;

/** Slices with every mAP shifted by `d` (and one slice set explicitly). */
function slices(d: number, override: Record<string, number> = {}): SliceSpec[] {
  const base: SliceSpec[] = [
    ['all', 0.5, 1, false, {}],
    ['time_of_day=night', 0.4, 2, true, { time_of_day: 'night' }],
    ['night+pedestrian', 0.3, 3, true, { time_of_day: 'night', category: 'pedestrian' }],
    ['weather=fog', 0.35, 1, false, { weather: 'fog' }],
  ];
  return base.map(([n, m, w, c, f]) => [n, override[n] ?? m + d, w, c, f]);
}

test('a better candidate passes the default policy, each rule with value, baseline, threshold and rationale', async () => {
  const v = gate(
    await examplePolicy(),
    report('cand', { slices: slices(0.02), p95: 40, ece: 0.04 }),
    report('prod'),
  );
  assert.equal(v.status, 'pass', formatVerdict(v));
  const w = rule(v, 'weighted-map-improves');
  // weighted mean of 0.52*1 + 0.42*2 + 0.32*3 + 0.37*1 over 7 vs the same of the baseline.
  assert.ok(Math.abs(w.value! - (0.52 + 0.84 + 0.96 + 0.37) / 7) < 1e-12);
  assert.ok(Math.abs(w.baseline! - (0.5 + 0.8 + 0.9 + 0.35) / 7) < 1e-12);
  assert.ok(Math.abs(w.threshold_value! - (w.baseline! + 0.015)) < 1e-12);
  assert.match(
    w.rationale,
    /weighted_mean\(slices\[\*\]\.metrics\.map\) over 4 element\(s\) = 0\.3843 vs baseline 0\.3643 \(\+2\.00 points\); needs >= 0\.3793 \(baseline \+ 1\.5 points\): pass\./,
  );
  assert.equal(rule(v, 'latency-p95-budget').threshold, '<= 50');
  assert.equal(rule(v, 'ece-not-worse').threshold, '<= 0.06'); // baseline 0.05 + the policy's 0.01 tolerance
  assert.equal(v.blocking, undefined);
});

test('an improvement of exactly the required points passes despite floating-point rounding', () => {
  const p = policy('  - {id: map, kind: improvement, field: overall.map, min: 1.5, mode: points}\n');
  assert.equal(gate(p, report('c', { map: 0.515 }), report('b', { map: 0.5 })).status, 'pass');
  assert.equal(gate(p, report('c', { map: 0.5149 }), report('b', { map: 0.5 })).status, 'fail');
});

test('relative and absolute regression modes are distinct', () => {
  const rel = policy(
    '  - {id: r, kind: no_regression, field: "slices[*].metrics.map", where: {critical: true}, max: 0.02, mode: relative}\n',
  );
  const abs = policy(
    '  - {id: r, kind: no_regression, field: "slices[*].metrics.map", where: {critical: true}, max: 0.002, mode: absolute}\n',
  );
  // night+pedestrian 0.30 -> 0.295: -1.67% relative, -0.005 absolute.
  const cand = report('c', { slices: slices(0, { 'night+pedestrian': 0.295 }) });
  assert.equal(gate(rel, cand, report('b')).status, 'pass');
  const v = gate(abs, cand, report('b'));
  assert.equal(v.status, 'fail');
  const r = rule(v, 'r');
  assert.deepEqual(
    r.elements!.map((e) => [e.key, e.status]),
    [
      ['time_of_day=night', 'pass'],
      ['night+pedestrian', 'fail'],
    ],
  );
  // -1.67% relative passes at 2%, fails at 1%.
  const rel1 = policy(
    '  - {id: r, kind: no_regression, field: "slices[*].metrics.map", max: 0.01, mode: relative}\n',
  );
  assert.equal(gate(rel1, cand, report('b')).status, 'fail');
});

test('a failing gate names the failing slices and the data to mine next', async () => {
  const cand = report('cand', { slices: slices(0.08, { 'night+pedestrian': 0.25 }), p95: 60, ece: 0.08 });
  const v = gate(await examplePolicy(), cand, report('prod'));
  assert.equal(v.status, 'fail');
  assert.deepEqual(
    v.rules.map((r) => [r.id, r.status]),
    [
      ['weighted-map-improves', 'pass'],
      ['critical-slices-no-regression', 'fail'],
      ['overall-map50-no-regression', 'pass'],
      ['latency-p95-budget', 'fail'],
      ['ece-not-worse', 'fail'],
    ],
  );
  const b = v.blocking!;
  assert.deepEqual(
    b.failing_slices.map((s) => [s.name, s.critical, s.rules]),
    [['night+pedestrian', true, ['critical-slices-no-regression']]],
  );
  const actions = b.next_actions.join('\n');
  assert.match(
    actions,
    /Collect and label more night \+ pedestrian frames \(slice 'night\+pedestrian', critical\)/,
  );
  assert.match(actions, /latency\.p95_ms within <= 50/);
  assert.match(actions, /Recalibrate/);
  assert.match(
    rule(v, 'critical-slices-no-regression').rationale,
    /night\+pedestrian.*= 0\.25 vs baseline 0\.3 \(-16\.67%\)/,
  );
  const text = formatVerdict(v);
  assert.match(text, /^FAIL/);
  assert.match(text, /BLOCKING:/);
});

test('a rule on a field missing from the report is an error, never a pass', () => {
  const p = policy('  - {id: lat, kind: threshold, field: latency.p99_ms, max: 100}\n');
  const v = gate(p, report('c'), null);
  assert.equal(v.status, 'error');
  assert.equal(rule(v, 'lat').status, 'error');
  assert.match(v.errors[0]!, /rule 'lat': field 'latency\.p99_ms' not found in cand\.json/);
  // In the baseline too.
  const b = report('b') as EvalReport & { latency: Record<string, unknown> };
  const base = { ...b, latency: { p95_ms: 30 } } as EvalReport;
  const p2 = policy(
    '  - {id: p50, kind: no_regression, field: latency.p50_ms, better: lower, max: 0.1, mode: relative}\n',
  );
  assert.match(gate(p2, report('c'), base).errors[0]!, /not found in base\.json/);
});

test('a null metric, a where on a field that does not exist and an empty selection are errors', () => {
  const nullP95 = gate(
    policy('  - {id: lat, kind: threshold, field: latency.p95_ms, max: 100}\n'),
    report('c', { p95: null }),
    null,
  );
  assert.match(nullP95.errors[0]!, /is null in cand\.json/);
  const typo = gate(
    policy(
      '  - {id: s, kind: threshold, field: "slices[*].metrics.map", where: {critcal: true}, min: 0.1}\n',
    ),
    report('c'),
    null,
  );
  assert.match(typo.errors[0]!, /where: 'critcal' is not a field/);
  const none = report('c', { slices: slices(0).map(([n, m, w, _c, f]) => [n, m, w, false, f] as SliceSpec) });
  const empty = policy(
    '  - {id: s, kind: threshold, field: "slices[*].metrics.map", where: {critical: true}, min: 0.1}\n',
  );
  assert.equal(gate(empty, none, null).status, 'error');
  const allowed = policy(
    '  - {id: s, kind: threshold, field: "slices[*].metrics.map", where: {critical: true}, min: 0.1, allow_empty: true}\n',
  );
  assert.equal(gate(allowed, none, null).status, 'pass');
});

test('baseline rules without a baseline are errors unless the rule says skip', () => {
  assert.equal(
    gate(
      policy('  - {id: m, kind: improvement, field: overall.map, min: 1, mode: points}\n'),
      report('c'),
      null,
    ).status,
    'error',
  );
  const v = gate(
    policy('  - {id: m, kind: improvement, field: overall.map, min: 1, mode: points, no_baseline: skip}\n'),
    report('c'),
    null,
  );
  assert.equal(v.status, 'pass');
  assert.equal(rule(v, 'm').status, 'skipped');
});

test('slice definitions decide weights and critical flags; a defined slice missing from the report is an error', () => {
  const defs = parseSliceDefinitions(
    parseYamlSource(
      'version: 1\nslices:\n  - {name: all, filter: {}, weight: 1}\n  - {name: weather=fog, filter: {weather: fog}, weight: 5, critical: true}\n',
      'slices.yaml',
    ),
  );
  const p = policy(
    '  - {id: r, kind: no_regression, field: "slices[*].metrics.map", where: {critical: true}, max: 0, mode: absolute}\n',
  );
  const cand = report('c', { slices: slices(0, { 'weather=fog': 0.3, 'night+pedestrian': 0.1 }) });
  const v = gate(p, cand, report('b'), { slices: defs });
  // Only fog is critical now; night+pedestrian is not gated at all (noted).
  assert.deepEqual(
    rule(v, 'r').elements!.map((e) => [e.key, e.status]),
    [['weather=fog', 'fail']],
  );
  assert.equal(v.slice_source, 'slices.yaml');
  assert.match(v.notes[0]!, /not gated: time_of_day=night, night\+pedestrian/);
  const missing = parseSliceDefinitions(
    parseYamlSource('version: 1\nslices:\n  - {name: snow, filter: {weather: snow}}\n', 's.yaml'),
  );
  const e = gate(p, cand, report('b'), { slices: missing });
  assert.equal(e.status, 'error');
  assert.match(e.errors[0]!, /slice 'snow' of the slice definitions is not in cand\.json/);
});

const waiver = (over: Partial<Waiver> = {}): Waiver => ({
  rule: 'lat',
  justification: 'pilot fleet runs on the faster SoC',
  approver: 'safety-lead@example.com',
  expires: '2026-12-31T00:00:00Z',
  ...over,
});

test('a valid waiver turns a failing rule into waived and is recorded', () => {
  const p = policy('  - {id: lat, kind: threshold, field: latency.p95_ms, max: 50}\n');
  const v = gate(p, report('c', { p95: 55 }), null, { waivers: [waiver()] });
  assert.equal(v.status, 'pass');
  assert.equal(rule(v, 'lat').status, 'waived');
  assert.equal(rule(v, 'lat').raw_status, 'fail');
  assert.equal(v.waivers.applied[0]!.approver, 'safety-lead@example.com');
  assert.equal(v.waivers.applied[0]!.verification.signed, false);
  assert.match(rule(v, 'lat').rationale, /Waived by safety-lead@example\.com until 2026-12-31/);
});

test('expired, unknown, unneeded and untrusted waivers are ignored and reported', () => {
  const p = policy(
    '  - {id: lat, kind: threshold, field: latency.p95_ms, max: 50}\n  - {id: ece, kind: threshold, field: calibration.ece, max: 0.1}\n',
  );
  const v = gate(p, report('c', { p95: 55 }), null, {
    waivers: [waiver({ expires: '2026-05-31T23:59:59Z' }), waiver({ rule: 'nope' }), waiver({ rule: 'ece' })],
  });
  assert.equal(v.status, 'fail');
  assert.deepEqual(
    v.waivers.ignored.map((w) => w.reason),
    [
      'expired at 2026-05-31T23:59:59Z',
      "no rule 'nope' in policy 'test'",
      "rule 'ece' did not fail (pass); waiver not needed",
    ],
  );
  const untrusted = gate(p, report('c', { p95: 55 }), null, {
    waivers: [waiver()],
    verifyWaiver: () => ({ trusted: false, signed: true, reason: 'signature does not verify' }),
  });
  assert.equal(untrusted.status, 'fail');
  assert.match(untrusted.waivers.ignored[0]!.reason, /signature does not verify/);
});

test('policies can require signed waivers and forbid waiving a rule', () => {
  const signed = policy(
    '  - {id: lat, kind: threshold, field: latency.p95_ms, max: 50}\n',
    'waivers: {require_signature: true}\n',
  );
  assert.equal(gate(signed, report('c', { p95: 55 }), null, { waivers: [waiver()] }).status, 'fail');
  const ok = gate(signed, report('c', { p95: 55 }), null, {
    waivers: [waiver()],
    verifyWaiver: () => ({ trusted: true, signed: true, reason: 'signed by safety-lead' }),
  });
  assert.equal(ok.status, 'pass');
  const fixed = policy('  - {id: lat, kind: threshold, field: latency.p95_ms, max: 50, waivable: false}\n');
  const v = gate(fixed, report('c', { p95: 55 }), null, { waivers: [waiver()] });
  assert.equal(v.status, 'fail');
  assert.match(v.waivers.ignored[0]!.reason, /not waivable/);
});

test('a waiver scoped to elements covers only those elements', () => {
  const p = policy(
    '  - {id: crit, kind: no_regression, field: "slices[*].metrics.map", where: {critical: true}, max: 0, mode: absolute}\n',
  );
  const cand = report('c', { slices: slices(0, { 'night+pedestrian': 0.29, 'time_of_day=night': 0.39 }) });
  const partial = gate(p, cand, report('b'), {
    waivers: [waiver({ rule: 'crit', elements: ['night+pedestrian'] })],
  });
  assert.equal(partial.status, 'fail');
  assert.match(partial.waivers.ignored[0]!.reason, /does not cover failing element\(s\) time_of_day=night/);
  const full = gate(p, cand, report('b'), {
    waivers: [waiver({ rule: 'crit', elements: ['night+pedestrian', 'time_of_day=night'] })],
  });
  assert.equal(full.status, 'pass');
});

test('lower-is-better improvement and aggregate kinds', () => {
  const p = policy(
    [
      '  - {id: ece, kind: improvement, field: calibration.ece, better: lower, min: 0.1, mode: relative}',
      '  - {id: worst, kind: threshold, field: "slices[*].metrics.map", aggregate: min, min: 0.3}',
      '  - {id: mean, kind: threshold, field: "slices[*].metrics.map", aggregate: mean, min: 0.4}',
      '',
    ].join('\n'),
  );
  const v = gate(p, report('c', { ece: 0.045 }), report('b', { ece: 0.05 }));
  assert.equal(rule(v, 'ece').status, 'pass'); // 0.045 <= 0.05 - 10%
  assert.equal(rule(v, 'worst').value, 0.3);
  assert.equal(rule(v, 'worst').status, 'pass');
  assert.equal(rule(v, 'mean').status, 'fail'); // (0.5+0.4+0.3+0.35)/4 = 0.3875
  assert.equal(gate(p, report('c', { ece: 0.046 }), report('b', { ece: 0.05 })).rules[0]!.status, 'fail');
});

test('the example reports: the candidate passes the default gate, the regressed one is blocked on night + pedestrian', async () => {
  const { readEvalReport } = await import('../report-schema.js');
  const dir = join(packageRoot(), 'examples', 'reports');
  const baseline = await readEvalReport(join(dir, 'baseline.eval_report.json'));
  const p = await examplePolicy();
  assert.equal(
    gate(p, await readEvalReport(join(dir, 'candidate.eval_report.json')), baseline).status,
    'pass',
  );
  const v = gate(p, await readEvalReport(join(dir, 'regressed.eval_report.json')), baseline);
  assert.equal(v.status, 'fail');
  assert.deepEqual(
    v.blocking!.failing_slices.map((s) => s.name),
    ['night+pedestrian'],
  );
});

test('null slice metrics are errors unless the rule says null_values: skip', () => {
  const cand = report('c');
  (cand.slices[3]!.metrics as { map: number | null }).map = null;
  const strict = policy(
    '  - {id: s, kind: no_regression, field: "slices[*].metrics.map", max: 0.02, mode: relative}\n',
  );
  const e = gate(strict, cand, report('b'));
  assert.equal(e.status, 'error');
  assert.match(e.errors[0]!, /slices\[weather=fog\]\.metrics\.map' is null in cand\.json/);
  const lenient = policy(
    '  - {id: s, kind: no_regression, field: "slices[*].metrics.map", max: 0.02, mode: relative, null_values: skip}\n' +
      '  - {id: w, kind: improvement, field: "slices[*].metrics.map", aggregate: weighted_mean, min: 0, mode: points, null_values: skip}\n',
  );
  const v = gate(lenient, cand, report('b'));
  assert.equal(v.status, 'pass', formatVerdict(v));
  assert.deepEqual(
    rule(v, 's').elements!.map((x) => x.status),
    ['pass', 'pass', 'pass', 'skipped'],
  );
  assert.match(rule(v, 'w').rationale, /over 3 element\(s\) \(null, skipped: weather=fog\)/);
  assert.throws(
    () => policy('  - {id: x, kind: threshold, field: overall.map, min: 0, null_values: skip}\n'),
    /null_values: skip needs/,
  );
});
