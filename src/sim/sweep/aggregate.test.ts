import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateRuns, percentile, simReport, violationCells } from './aggregate.js';
import { runTable, toCsv } from './table.js';
import { REQUIRED_SUMMARY_COLUMNS, hit, near, sweepRun } from './testdata.js';

test('collisions per 1,000 km, VRU near misses and collisions, and comfort percentiles', () => {
  const runs = [
    sweepRun('candidate', 'CPNA', 'ncap', 0, hit('pedestrian', 6)),
    sweepRun('candidate', 'CPNA', 'ncap', 1, near('pedestrian')),
    sweepRun('candidate', 'CCRs', 'ncap', 0, near('car')),
    sweepRun('candidate', 'CCRs', 'ncap', 1, { maxDecelMps2: 9, maxJerkMps3: 50, falseBrakeEvents: 2 }),
    sweepRun('candidate', 'CBLA', 'ncap', 0, hit('cyclist', 2)),
  ];
  const a = aggregateRuns(runs);
  assert.equal(a.runs, 5);
  assert.equal(a.collisions, 2);
  assert.equal(a.distance_km, 0.5);
  assert.equal(a.collisions_per_1000km, 4000);
  assert.equal(a.near_misses, 2);
  assert.equal(a.vru_near_misses, 1);
  assert.equal(a.vru_collisions, 2);
  assert.equal(a.vru_conflicts, 3);
  assert.equal(a.near_misses_by_class.car, 1);
  assert.equal(a.collisions_by_class.cyclist, 1);
  assert.equal(a.false_brake_events, 2);
  assert.equal(a.mean_impact_speed_mps, 4);
  assert.equal(a.max_impact_speed_mps, 6);
  assert.equal(a.min_ttc_s, 0);
  // decel values 3,3,3,9,3 -> sorted 3,3,3,3,9: p50 3, p95 = 3 + 0.8 * 6
  assert.equal(a.comfort.max_decel_mps2.p50, 3);
  assert.ok(Math.abs(a.comfort.max_decel_mps2.p95! - 7.8) < 1e-12);
  assert.equal(a.comfort.max_jerk_mps3.max, 50);
});

test('a near miss that is also a collision counts as a collision only', () => {
  const a = aggregateRuns([
    sweepRun('candidate', 'CPNA', 'ncap', 0, { ...hit('pedestrian'), nearMiss: true }),
  ]);
  assert.equal(a.collisions, 1);
  assert.equal(a.near_misses, 0);
  assert.equal(a.vru_conflicts, 1);
});

test('percentiles interpolate linearly as numpy does', () => {
  assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
  assert.equal(percentile([1, 2, 3, 4], 95), 3.85);
  assert.equal(percentile([], 50), null);
  assert.equal(aggregateRuns([]).collisions_per_1000km, null);
});

test('the report groups runs by category and family, sorted by name', () => {
  const runs = [
    sweepRun('candidate', 'CutIn', 'cut-in', 0, hit('car')),
    sweepRun('candidate', 'CCRs', 'ncap', 0),
    sweepRun('candidate', 'CPNA', 'ncap', 0, hit('pedestrian')),
  ];
  const r = simReport(runs, { name: 'cand' }, 'model', { variants: 3, seeds: 1, filter: null });
  assert.deepEqual(
    r.categories.map((c) => [c.name, c.runs, c.collisions]),
    [
      ['cut-in', 1, 1],
      ['ncap', 2, 1],
    ],
  );
  assert.deepEqual(
    r.families.map((f) => [f.name, f.category]),
    [
      ['CCRs', 'ncap'],
      ['CPNA', 'ncap'],
      ['CutIn', 'cut-in'],
    ],
  );
});

test('heatmap cells give the share of runs per family x swept parameter value and violation type', () => {
  const runs = [
    sweepRun('candidate', 'CCRs', 'ncap', 0, hit('car'), { ego_speed_kph: 50, overlap_pct: 100 }),
    sweepRun('candidate', 'CCRs', 'ncap', 1, {}, { ego_speed_kph: 50, overlap_pct: 100 }),
    sweepRun(
      'candidate',
      'CCRs',
      'ncap',
      0,
      { falseBrakeEvents: 1 },
      { ego_speed_kph: 10, overlap_pct: 100 },
    ),
  ];
  const cells = violationCells(runs);
  // overlap_pct has one value: not a swept parameter; ego_speed_kph rows sorted numerically.
  assert.deepEqual([...new Set(cells.map((c) => c.row))], ['CCRs ego_speed_kph=10', 'CCRs ego_speed_kph=50']);
  const c50 = cells.find((c) => c.row === 'CCRs ego_speed_kph=50' && c.violation === 'collision')!;
  assert.equal(c50.rate, 0.5);
  assert.equal(c50.count, 1);
  const fb = cells.find((c) => c.row === 'CCRs ego_speed_kph=10' && c.violation === 'false_brake')!;
  assert.equal(fb.rate, 1);
});

test('the run table has the required columns, parameter and randomization columns, and quotes CSV cells', () => {
  const runs = [
    sweepRun('candidate', 'CCRs', 'ncap', 0, hit('car'), { ego_speed_kph: 50, note: 'a,"b"' }),
    sweepRun('baseline', 'CCRs', 'ncap', 0, {}, { ego_speed_kph: 20 }),
  ];
  const { schema, rows } = runTable(runs);
  const names = schema.map((c) => c.name);
  for (const col of [...REQUIRED_SUMMARY_COLUMNS, 'param_ego_speed_kph', 'param_note', 'rand_fog_density']) {
    assert.ok(names.includes(col), `column ${col}`);
  }
  assert.equal(schema.find((c) => c.name === 'param_ego_speed_kph')!.type, 'double');
  assert.equal(rows[1]!['param_note'], null);
  const csv = toCsv(schema, rows);
  assert.match(csv, /"a,""b"""/);
  assert.equal(csv.trimEnd().split('\n').length, 3);
});
