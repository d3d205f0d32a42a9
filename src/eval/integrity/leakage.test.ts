import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DrivegateError } from '../../core/errors.js';
import { parseYamlSource } from '../yaml.js';
import { checkLeakage, parseLeakagePolicy } from './leakage.js';
import type { LocatedRecord, SharedKeyViolation, TemporalViolation } from './leakage.js';
import { record } from './testdata.js';

const at = (i: number, over: Record<string, unknown>): LocatedRecord => ({
  file: `${String(over['split'] ?? 'train')}.manifest`,
  line: i + 1,
  record: record(i, over),
});

test('clean splits pass every check', () => {
  const recs = [
    ...Array.from({ length: 10 }, (_, i) => at(i, { split: 'train' })),
    ...Array.from({ length: 10 }, (_, i) => at(i + 100, { split: 'val', timestamp: 1e9 + i })),
  ];
  const r = checkLeakage(recs, {
    temporal: { min_gap_seconds: 3600, group_by: 'region' },
    geographic: { column: 'geo_cell' },
  });
  assert.equal(r.passed, true, JSON.stringify(r.checks));
  assert.deepEqual(r.splits, { train: 10, val: 10 });
  assert.deepEqual(
    r.checks.map((c) => c.name),
    ['scene', 'temporal', 'geographic'],
  );
});

test('a scene in two splits fails and names the scene and records, whatever the policy', () => {
  const recs = [at(0, { split: 'train' }), at(1, { split: 'val' }), at(20, { split: 'val' })];
  const r = checkLeakage(recs, {});
  assert.equal(r.passed, false);
  const scene = r.checks[0]!;
  assert.equal(scene.violations.total, 1);
  const v = scene.violations.items[0] as SharedKeyViolation;
  assert.equal(v.key, 'scene-00000');
  assert.deepEqual(v.splits, ['train', 'val']);
  assert.deepEqual(
    v.examples.map((e) => [e.file, e.line, e.image_id]),
    [
      ['train.manifest', 1, 1],
      ['val.manifest', 2, 2],
    ],
  );
});

test('temporal separation flags records of different splits closer than the gap within a region only', () => {
  const t0 = 1_700_000_000;
  const recs = [
    at(0, { split: 'train', timestamp: t0, scene_id: 'a', region: 'eu' }),
    at(1, { split: 'train', timestamp: t0 + 10, scene_id: 'a', region: 'eu' }),
    at(2, { split: 'val', timestamp: t0 + 40, scene_id: 'b', region: 'eu' }),
    // Same time, other region: not a violation.
    at(3, { split: 'test', timestamp: t0 + 41, scene_id: 'c', region: 'us' }),
    at(4, {
      split: 'val',
      timestamp: new Date((t0 + 5000) * 1000).toISOString(),
      scene_id: 'd',
      region: 'eu',
    }),
  ];
  const r = checkLeakage(recs, { temporal: { min_gap_seconds: 60, group_by: 'region' } });
  const t = r.checks.find((c) => c.name === 'temporal')!;
  assert.equal(t.passed, false);
  const items = t.violations.items as TemporalViolation[];
  // train@10 and val@40 are 30 s apart; train@0 is 40 s from val@40.
  assert.deepEqual(
    items.map((v) => [v.record.image_id, v.nearest.image_id, v.gap_seconds]),
    [
      [1, 3, 40],
      [2, 3, 30],
      [3, 2, 30],
    ],
  );
  assert.equal(t.min_gap_by_group!['eu'], 30);
  assert.equal(t.min_gap_by_group!['us'], null);
  assert.equal(
    checkLeakage(recs, { temporal: { min_gap_seconds: 30, group_by: 'region' } }).checks[1]!.passed,
    true,
  );
});

test('geographic separation flags a geo cell shared by splits', () => {
  const recs = [at(0, { split: 'train', geo_cell: 'eu:1:1' }), at(15, { split: 'test', geo_cell: 'eu:1:1' })];
  const r = checkLeakage(recs, { geographic: { column: 'geo_cell' } });
  assert.equal(r.checks[0]!.passed, true);
  const g = r.checks[1]!;
  assert.equal(g.passed, false);
  assert.equal((g.violations.items[0] as SharedKeyViolation).key, 'eu:1:1');
});

test('a single split passes with a note saying nothing was compared', () => {
  const r = checkLeakage([at(0, { split: 'train' })]);
  assert.equal(r.passed, true);
  assert.match(r.note!, /only 1 split/);
});

test('the policy file is parsed; unknown keys are BAD_INPUT with file and line', () => {
  const p = parseLeakagePolicy(
    parseYamlSource('version: 1\ntemporal: {min_gap_seconds: 60}\ngeographic: true\n', 'p.yaml'),
  );
  assert.deepEqual(p, {
    temporal: { min_gap_seconds: 60, group_by: 'region' },
    geographic: { column: 'geo_cell' },
  });
  assert.throws(
    () => parseLeakagePolicy(parseYamlSource('version: 1\nscene: false\n', 'p.yaml')),
    (err: unknown) =>
      err instanceof DrivegateError &&
      err.code === 'BAD_INPUT' &&
      err.location.line === 2 &&
      err.location.field === 'scene',
  );
});
