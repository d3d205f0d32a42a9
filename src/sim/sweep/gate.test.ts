import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { packageRoot } from '../../core/paths.js';
import { throwsWith } from '../../core/testing.js';
import { parseYamlSource } from '../../eval/yaml.js';
import { simReport } from './aggregate.js';
import type { SweepRun } from './aggregate.js';
import { evaluateSimGate, parseSimGate, readSimGate } from './gate.js';
import { checkGateApplies } from './sweep.js';
import { hit, near, sweepRun } from './testdata.js';
import type { ScenarioVariant } from '../types.js';

const now = new Date('2026-11-27T12:00:00Z');
const report = (runs: SweepRun[], name: string): ReturnType<typeof simReport> =>
  simReport(runs, { name }, 'model', { variants: 2, seeds: 2, filter: null });

const GATE = `version: 1
name: t
rules:
  - id: ncap-no-more-collisions
    kind: no_regression
    field: categories[*].collisions
    where: { name: ncap }
    better: lower
    max: 0
    mode: absolute
  - id: vru
    kind: no_regression
    field: overall.vru_conflicts
    better: lower
    max: 0
    mode: absolute
`;

test('the example Sim Gate parses', async () => {
  const g = await readSimGate(join(packageRoot(), 'examples', 'sim-gate.yaml'));
  assert.ok(g.rules.length >= 4);
});

test('a typo in a metric is BAD_INPUT naming the file, line and the known metrics', () => {
  const text = GATE.replace('overall.vru_conflicts', 'overall.vru_conflict');
  const e = throwsWith(() => parseSimGate(parseYamlSource(text, 'g.yaml')), 'BAD_INPUT');
  assert.equal(e.location.line, 13);
  assert.equal(e.location.field, 'rules[1].field');
  assert.match(e.message, /vru_conflicts/);
  const e2 = throwsWith(
    () =>
      parseSimGate(
        parseYamlSource(GATE.replace('overall.vru_conflicts', 'families.vru_conflicts'), 'g.yaml'),
      ),
    'BAD_INPUT',
  );
  assert.match(e2.message, /is a list/);
  const e3 = throwsWith(
    () => parseSimGate(parseYamlSource(GATE.replace('kind: no_regression', 'kind: nope'), 'g.yaml')),
    'BAD_INPUT',
  );
  assert.equal(e3.location.line, 5);
  throwsWith(() => parseSimGate(parseYamlSource(GATE + '    extra: 1\n', 'g.yaml')), 'BAD_INPUT');
});

test('fewer collisions and VRU conflicts than the baseline pass; more fail with values in the verdict', () => {
  const better = [
    sweepRun('candidate', 'CCRs', 'ncap', 0),
    sweepRun('candidate', 'CPNA', 'ncap', 0, near('pedestrian')),
  ];
  const worse = [
    sweepRun('baseline', 'CCRs', 'ncap', 0, hit('car')),
    sweepRun('baseline', 'CPNA', 'ncap', 0, hit('pedestrian')),
  ];
  const policy = parseSimGate(parseYamlSource(GATE, 'g.yaml'));
  const pass = evaluateSimGate({
    policy,
    candidate: report(better, 'new'),
    baseline: report(worse, 'old'),
    now,
  });
  assert.equal(pass.status, 'pass', pass.summary);
  const fail = evaluateSimGate({
    policy,
    candidate: report(worse, 'old'),
    baseline: report(better, 'new'),
    now,
  });
  assert.equal(fail.status, 'fail');
  const rule = fail.rules.find((r) => r.id === 'ncap-no-more-collisions')!;
  assert.equal(rule.status, 'fail');
  assert.equal(rule.elements?.[0]?.value, 2);
  assert.equal(rule.elements?.[0]?.baseline, 0);
  assert.equal(fail.rules.find((r) => r.id === 'vru')!.value, 1);
});

test('a gate that compares against a baseline without one is an error, never a pass', () => {
  const policy = parseSimGate(parseYamlSource(GATE, 'g.yaml'));
  const v = evaluateSimGate({
    policy,
    candidate: report([sweepRun('candidate', 'CCRs', 'ncap', 0)], 'c'),
    baseline: null,
    now,
  });
  assert.equal(v.status, 'error');
  assert.match(v.errors.join('\n'), /needs a baseline/);
  const variants = [{ id: 'CCRs/x', family: 'CCRs', category: 'ncap' }] as unknown as ScenarioVariant[];
  const e = throwsWith(() => checkGateApplies(policy, variants, false), 'USAGE');
  assert.match(e.message, /none was given/);
});

test('a gate on a category the sweep does not run is refused before the sweep', () => {
  const policy = parseSimGate(parseYamlSource(GATE, 'g.yaml'));
  const variants = [{ id: 'Cut/x', family: 'CutIn', category: 'cut-in' }] as unknown as ScenarioVariant[];
  const e = throwsWith(() => checkGateApplies(policy, variants, true), 'USAGE');
  assert.match(e.message, /ncap/);
  assert.equal(e.location.line, 4);
});
