import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DrivegateError } from '../../core/errors.js';
import { throwsWith } from '../../core/testing.js';
import { packageRoot } from '../../core/paths.js';
import { parseYamlSource, readYamlSource } from '../yaml.js';
import { follow, parsePath } from './path.js';
import { parseGatePolicy } from './policy.js';
import { parseSliceDefinitions, filterWords } from './slices.js';
import { parseWaivers } from './waivers.js';

const badInput = (fn: () => unknown): DrivegateError => throwsWith(fn, 'BAD_INPUT');

const policy = (rules: string) =>
  parseGatePolicy(parseYamlSource(`version: 1\nname: t\nrules:\n${rules}`, 'gates.yaml'));

test('the example gates.yaml parses', async () => {
  const p = parseGatePolicy(await readYamlSource(join(packageRoot(), 'examples', 'gates.yaml')));
  assert.ok(p.rules.length >= 5);
  assert.deepEqual(
    p.rules.map((r) => r.kind),
    ['improvement', 'no_regression', 'no_regression', 'threshold', 'no_regression'],
  );
});

test('an unknown rule kind is BAD_INPUT naming the file and line', () => {
  const err = badInput(() =>
    policy(
      '  - id: a\n    kind: threshold\n    field: x\n    max: 1\n  - id: b\n    kind: at_most\n    field: x\n',
    ),
  );
  assert.equal(err.location.file, 'gates.yaml');
  assert.equal(err.location.line, 9);
  assert.equal(err.location.field, 'rules[1].kind');
  assert.match(err.expected!, /threshold, improvement, no_regression/);
});

test('baseline rules must state their mode explicitly', () => {
  const err = badInput(() =>
    policy('  - id: a\n    kind: no_regression\n    field: overall.map\n    max: 0.02\n'),
  );
  assert.equal(err.location.field, 'rules[0].mode');
});

test('unknown keys, duplicate ids, bad paths and misplaced aggregates are BAD_INPUT with lines', () => {
  assert.equal(
    badInput(() => policy('  - id: a\n    kind: threshold\n    field: x\n    maximum: 1\n')).location.field,
    'rules[0].maximum',
  );
  assert.match(
    badInput(() =>
      policy(
        '  - {id: a, kind: threshold, field: x, max: 1}\n  - {id: a, kind: threshold, field: y, max: 1}\n',
      ),
    ).message,
    /duplicate rule id/,
  );
  assert.match(
    badInput(() => policy('  - {id: a, kind: threshold, field: "slices[*].x[*].y", max: 1}\n')).message,
    /bad field path/,
  );
  assert.match(
    badInput(() => policy('  - {id: a, kind: threshold, field: overall.map, aggregate: mean, max: 1}\n'))
      .message,
    /need a \[\*\]/,
  );
});

test('paths address nested fields, indexes, selectors and wildcards; missing keys are errors', () => {
  const p = parsePath('slices[name=time_of_day=night].metrics.map');
  assert.deepEqual(p.segments[1], { kind: 'select', key: 'name', value: 'time_of_day=night' });
  const doc = { slices: [{ name: 'time_of_day=night', metrics: { map: 0.4 } }], overall: { map: 0.5 } };
  assert.deepEqual(follow(doc, p.segments), { ok: true, value: 0.4 });
  assert.deepEqual(follow(doc, parsePath('slices[0].metrics.map').segments), { ok: true, value: 0.4 });
  const miss = follow(doc, parsePath('overall.mAP').segments);
  assert.equal(miss.ok, false);
  assert.equal(parsePath('slices[*].metrics.map').wildcardAt, 1);
  assert.throws(() => parsePath('a..b'));
});

test('slice definitions in the reference world format parse and read as words', () => {
  const defs = parseSliceDefinitions(
    parseYamlSource(
      'version: 1\nmanifests: {val: golden_val.manifest}\nslices:\n  - name: night+pedestrian\n    level: object\n    filter: {time_of_day: night, category: pedestrian}\n    weight: 3\n    critical: true\n    support: {val: {images: 3, objects: 4}}\n  - name: occluded\n    filter: {occlusion: {gte: 0.3}}\n',
      'slices.yaml',
    ),
  );
  assert.equal(defs[1]!.weight, 1);
  assert.equal(defs[1]!.critical, false);
  assert.equal(filterWords(defs[0]!.filter), 'night + pedestrian');
  assert.equal(filterWords(defs[1]!.filter), 'occlusion >= 0.3');
});

test('a slices file that repeats a slice name is BAD_INPUT at the second name and its line', () => {
  const err = badInput(() =>
    parseSliceDefinitions(
      parseYamlSource(
        'version: 1\nslices:\n  - name: night\n    filter: {time_of_day: night}\n  - name: night\n    filter: {weather: rain}\n',
        'slices.yaml',
      ),
    ),
  );
  assert.equal(err.location.file, 'slices.yaml');
  assert.equal(err.location.field, 'slices[1].name');
  assert.equal(err.location.line, 5);
  assert.equal(err.expected, 'a unique slice name (night repeats)');
});

test('waivers need a justification, an approver and a zoned expiry', () => {
  const ok = parseWaivers(
    parseYamlSource(
      'waivers:\n  - {rule: a, justification: accepted for the pilot, approver: x@y, expires: "2030-01-01T00:00:00Z"}\n',
      'w.yaml',
    ),
  );
  assert.equal(ok[0]!.rule, 'a');
  const err = badInput(() =>
    parseWaivers(
      parseYamlSource(
        '- {rule: a, justification: because, approver: x@y, expires: "2030-01-01"}\n',
        'w.yaml',
      ),
    ),
  );
  assert.equal(err.location.line, 1);
});
