import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DrivegateError } from '../../core/errors.js';
import { throwsWith } from '../../core/testing.js';
import { parseYamlSource } from '../yaml.js';
import { evaluateSuite, parseExpectationSuite, quantileNearest } from './expectations.js';
import type { ExpectationResult } from './expectations.js';
import { parseManifestText } from './manifest.js';
import { manifestText, record } from './testdata.js';

function suite(yaml: string) {
  return parseExpectationSuite(parseYamlSource(yaml, 'suite.yaml'));
}

function run(yaml: string, records: Array<Record<string, unknown>>, cap?: number): ExpectationResult[] {
  return evaluateSuite(
    suite(yaml),
    parseManifestText(manifestText(records), 'm.manifest').rows,
    cap === undefined ? {} : { cap },
  );
}

const badInputOf = (fn: () => unknown): DrivegateError => throwsWith(fn, 'BAD_INPUT');

const ten = Array.from({ length: 10 }, (_, i) => record(i));

test('not_be_null flags null and absent values with file and line', () => {
  const recs = ten.map((r, i) =>
    i === 3 ? { ...r, weather: null } : i === 7 ? (({ weather: _w, ...rest }) => rest)(r) : r,
  );
  const [r] = run(
    'expectations:\n  - type: expect_column_values_to_not_be_null\n    column: weather\n',
    recs,
  );
  assert.equal(r!.success, false);
  assert.equal(r!.unexpected_count, 2);
  assert.deepEqual(
    r!.unexpected!.items.map((u) => [u.file, u.line, u.value]),
    [
      ['m.manifest', 4, null],
      ['m.manifest', 8, null],
    ],
  );
  assert.equal(r!.observed, 0.8);
});

test('mostly lets a fraction of values fail', () => {
  const recs = ten.map((r, i) => (i === 0 ? { ...r, weather: 'hail' } : r));
  const yaml = (m: number) =>
    `expectations:\n  - type: expect_column_values_to_be_in_set\n    column: weather\n    value_set: [clear, rain]\n    mostly: ${m}\n`;
  assert.equal(run(yaml(0.9), recs)[0]!.success, true);
  assert.equal(run(yaml(0.95), recs)[0]!.success, false);
  assert.equal(run(yaml(0.9), recs)[0]!.unexpected!.items[0]!.value, 'hail');
});

test('unique flags every occurrence of a repeated value and ignores nulls', () => {
  const recs = ten.map((r, i) =>
    i === 2 || i === 5 ? { ...r, image_id: 99 } : i === 6 ? { ...r, image_id: null } : r,
  );
  const [r] = run('expectations:\n  - type: expect_column_values_to_be_unique\n    column: image_id\n', recs);
  assert.equal(r!.success, false);
  assert.deepEqual(
    r!.unexpected!.items.map((u) => u.line),
    [3, 6],
  );
  assert.equal(r!.missing_count, 1);
});

test('between honours inclusive and strict bounds and treats non-numbers as unexpected', () => {
  const recs = ten.map((r, i) => (i === 9 ? { ...r, frame: 'x' } : r));
  const inc = run(
    'expectations:\n  - {type: expect_column_values_to_be_between, column: frame, min_value: 0, max_value: 8}\n',
    recs,
  )[0]!;
  assert.equal(inc.unexpected_count, 1); // 'x' only: 0..8 inclusive
  const strict = run(
    'expectations:\n  - {type: expect_column_values_to_be_between, column: frame, min_value: 0, max_value: 8, strict_min: true}\n',
    recs,
  )[0]!;
  assert.equal(strict.unexpected_count, 2); // frame 0 and 'x'
});

test('match_regex searches strings (anchors are explicit) and fails non-strings', () => {
  const recs = ten.map((r, i) =>
    i === 1 ? { ...r, scene_id: 42 } : i === 2 ? { ...r, scene_id: 'xscene-00000' } : r,
  );
  const [r] = run(
    "expectations:\n  - {type: expect_column_values_to_match_regex, column: scene_id, regex: '^scene-\\d{5}$'}\n",
    recs,
  );
  assert.deepEqual(
    r!.unexpected!.items.map((u) => u.value),
    [42, 'xscene-00000'],
  );
});

test('table row count, column mean and quantiles report their observed values', () => {
  const res = run(
    [
      'expectations:',
      '  - {type: expect_table_row_count_to_be_between, min_value: 5, max_value: 10}',
      '  - {type: expect_table_row_count_to_be_between, min_value: 11}',
      '  - {type: expect_column_mean_to_be_between, column: frame, min_value: 4.5, max_value: 4.5}',
      '  - type: expect_column_quantile_values_to_be_between',
      '    column: frame',
      '    quantile_ranges: {quantiles: [0, 0.5, 1], value_ranges: [[0, 0], [4, 5], [null, 8]]}',
    ].join('\n'),
    ten,
  );
  assert.deepEqual(
    res.map((r) => [r.success, r.observed]),
    [
      [true, 10],
      [false, 10],
      [true, 4.5],
      [false, { quantiles: [0, 0.5, 1], values: [0, 4, 9] }],
    ],
  );
});

test('quantiles use the nearest rank with ties to even, like numpy', () => {
  const s = [0, 1, 2, 3];
  assert.equal(quantileNearest(s, 0.5), 2); // position 1.5 -> 2 (even)
  assert.equal(quantileNearest([0, 1, 2, 3, 4, 5], 0.5), 2); // position 2.5 -> 2 (even)
  assert.equal(quantileNearest(s, 0.1), 0);
  assert.equal(quantileNearest(s, 1), 3);
});

test('a column that is in no record fails with an error instead of passing', () => {
  const [r] = run(
    'expectations:\n  - {type: expect_column_values_to_be_in_set, column: wether, value_set: [clear]}\n',
    ten,
  );
  assert.equal(r!.success, false);
  assert.match(r!.error!, /column 'wether' is in no record/);
});

test('failing records are capped with the total count', () => {
  const recs = Array.from({ length: 120 }, (_, i) => record(i, { weather: 'hail' }));
  const [r] = run(
    'expectations:\n  - {type: expect_column_values_to_be_in_set, column: weather, value_set: [clear]}\n',
    recs,
    50,
  );
  assert.equal(r!.unexpected!.items.length, 50);
  assert.equal(r!.unexpected!.total, 120);
  assert.equal(r!.unexpected_count, 120);
});

test('accepts the Great Expectations {expectation_type, kwargs} form', () => {
  const [r] = run(
    'expectation_suite_name: ge\nexpectations:\n  - expectation_type: expect_column_values_to_be_in_set\n    kwargs: {column: region, value_set: [eu]}\n',
    ten,
  );
  assert.equal(r!.success, true);
  assert.equal(r!.column, 'region');
});

test('an expectation with an unknown type is BAD_INPUT naming the file and line', () => {
  const err = badInputOf(() =>
    suite(
      'expectations:\n  - type: expect_column_values_to_not_be_null\n    column: a\n  - type: expect_column_to_be_blue\n    column: b\n',
    ),
  );
  assert.equal(err.location.file, 'suite.yaml');
  assert.equal(err.location.line, 4);
  assert.equal(err.location.field, 'expectations[1].type');
  assert.match(err.expected!, /expect_column_values_to_be_unique/);
});

test('an unknown parameter or a missing one is BAD_INPUT with its line', () => {
  const e1 = badInputOf(() =>
    suite('expectations:\n  - type: expect_column_values_to_be_unique\n    column: a\n    mostyl: 0.5\n'),
  );
  assert.equal(e1.location.line, 4);
  assert.equal(e1.location.field, 'expectations[0].mostyl');
  const e2 = badInputOf(() =>
    suite('expectations:\n  - type: expect_column_values_to_be_in_set\n    column: a\n'),
  );
  assert.equal(e2.location.field, 'expectations[0].value_set');
  const e3 = badInputOf(() =>
    suite("expectations:\n  - {type: expect_column_values_to_match_regex, column: a, regex: '(['}\n"),
  );
  assert.match(e3.message, /invalid regular expression/);
});
