import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { packageRoot } from '../core/paths.js';
import { report } from '../eval/gates/testdata.js';
import { manifestText, record } from '../eval/integrity/testdata.js';
import { runCliIn } from './cli-testing.js';
import type { CliResult } from './cli-testing.js';

const base = mkdtempSync(join(tmpdir(), 'drivegate-cli-eval-'));
after(() => rmSync(base, { recursive: true, force: true }));

/** Runs the drivegate CLI (from src under tsx, or from dist) with the temp folder as workspace. */
const drivegate = (args: string[]): CliResult => runCliIn(import.meta.url, base, args);

const file = (name: string, text: string): string => {
  const p = join(base, name);
  writeFileSync(p, text);
  return p;
};

test('eval validate passes clean splits and fails leaking ones with exit 1 and a JSON report', () => {
  const train = file(
    'train.manifest',
    manifestText([record(0, { split: 'train' }), record(1, { split: 'train' })]),
  );
  const val = file('val.manifest', manifestText([record(10, { split: 'val' })]));
  const ok = drivegate(['eval', 'validate', '--manifest', train, '--manifest', val]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /PASS/);
  const leak = file('leak.manifest', manifestText([record(2, { split: 'val' })]));
  const policy = file('leakage.yaml', 'version: 1\ngeographic: true\n');
  const bad = drivegate([
    'eval',
    'validate',
    '--manifest',
    train,
    '--manifest',
    leak,
    '--leakage-policy',
    policy,
    '--json',
  ]);
  assert.equal(bad.code, 1, bad.stderr);
  const r = JSON.parse(bad.stdout) as {
    passed: boolean;
    leakage: { checks: Array<{ name: string; passed: boolean }> };
  };
  assert.equal(r.passed, false);
  assert.deepEqual(
    r.leakage.checks.map((c) => [c.name, c.passed]),
    [
      ['scene', false],
      ['geographic', false],
    ],
  );
});

test('eval validate with broken YAML exits 2 naming the file and line', () => {
  const m = file('one.manifest', manifestText([record(0)]));
  const suite = file(
    'broken.yaml',
    'expectations:\n  - type: expect_column_values_to_be_unique\n    column: "unclosed\n',
  );
  const r = drivegate(['eval', 'validate', '--manifest', m, '--expectations', suite]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`${suite.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+: invalid YAML`));
});

test('eval gate: exit 0 on pass, 1 on fail with the blocking report, 2 on a baseline of another schema version', () => {
  const gates = join(packageRoot(), 'examples', 'gates.yaml');
  const prod = file('prod.json', JSON.stringify(report('prod')));
  const good = report('good', {
    slices: [
      ['all', 0.52, 1, false, {}],
      ['time_of_day=night', 0.42, 2, true, { time_of_day: 'night' }],
      ['night+pedestrian', 0.32, 3, true, { time_of_day: 'night', category: 'pedestrian' }],
      ['weather=fog', 0.37, 1, false, { weather: 'fog' }],
    ],
  });
  const pass = drivegate([
    'eval',
    'gate',
    '--report',
    file('good.json', JSON.stringify(good)),
    '--baseline',
    prod,
    '--gates',
    gates,
  ]);
  assert.equal(pass.code, 0, pass.stdout + pass.stderr);
  assert.match(pass.stdout, /^PASS/);

  const slow = file('slow.json', JSON.stringify({ ...good, latency: { p95_ms: 80 } }));
  const fail = drivegate(['eval', 'gate', '--report', slow, '--baseline', prod, '--gates', gates, '--json']);
  assert.equal(fail.code, 1, fail.stderr);
  const v = JSON.parse(fail.stdout) as { status: string; blocking: { failing_rules: Array<{ id: string }> } };
  assert.equal(v.status, 'fail');
  assert.deepEqual(
    v.blocking.failing_rules.map((r) => r.id),
    ['latency-p95-budget'],
  );

  const waivers = file(
    'waivers.yaml',
    'waivers:\n  - {rule: latency-p95-budget, justification: pilot fleet on the faster SoC, approver: lead@example.com, expires: "2030-01-01T00:00:00Z"}\n',
  );
  const waived = drivegate([
    'eval',
    'gate',
    '--report',
    slow,
    '--baseline',
    prod,
    '--gates',
    gates,
    '--waivers',
    waivers,
    '--now',
    '2029-01-01T00:00:00Z',
  ]);
  assert.equal(waived.code, 0, waived.stdout);
  const expired = drivegate([
    'eval',
    'gate',
    '--report',
    slow,
    '--baseline',
    prod,
    '--gates',
    gates,
    '--waivers',
    waivers,
    '--now',
    '2031-01-01T00:00:00Z',
  ]);
  assert.equal(expired.code, 1);
  assert.match(expired.stdout, /ignored\s+latency-p95-budget by lead@example\.com: expired/);

  const v2 = file('prod-v2.json', JSON.stringify({ ...report('prod'), schema_version: 2 }));
  const bad = drivegate(['eval', 'gate', '--report', slow, '--baseline', v2, '--gates', gates]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /prod-v2\.json, field 'schema_version': unsupported eval_report schema version; expected 1, found 2/,
  );
});

test('eval gate on a field missing from the report exits 2 and says which', () => {
  const gates = file(
    'g.yaml',
    'version: 1\nname: g\nrules:\n  - {id: p99, kind: threshold, field: latency.p99_ms, max: 100}\n',
  );
  const r = drivegate([
    'eval',
    'gate',
    '--report',
    file('r.json', JSON.stringify(report('r'))),
    '--gates',
    gates,
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /rule 'p99': field 'latency\.p99_ms' not found in .*r\.json/);
});

const gt = {
  images: [{ id: 1 }, { id: 2 }],
  categories: [
    { id: 1, name: 'car' },
    { id: 2, name: 'pedestrian' },
  ],
  annotations: [
    { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], area: 100, iscrowd: 0 },
    { id: 2, image_id: 2, category_id: 2, bbox: [5, 5, 4, 8], area: 32, iscrowd: 0 },
  ],
};
const dt = [
  { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], score: 0.9 },
  { image_id: 1, category_id: 1, bbox: [30, 0, 10, 10], score: 0.4 },
  { image_id: 2, category_id: 2, bbox: [5, 5, 4, 8], score: 0.7 },
  { image_id: 2, category_id: 1, bbox: [5, 5, 4, 8], score: 0.6 },
];

test('eval thresholds sets postprocess.score_thresholds in an inference config, keeping other keys', () => {
  const g = file('gt.json', JSON.stringify(gt));
  const d = file('dt.json', JSON.stringify(dt));
  const config = {
    schema_version: 1,
    input: { name: 'images', width: 192, height: 96 },
    classes: { '0': { id: 1, name: 'car' }, '1': { id: 2, name: 'pedestrian' } },
    output: { decoder: 'centernet', heatmap: 'hm', wh: 'wh', offset: 'off' },
    postprocess: { score_threshold: 0.3, score_thresholds: { car: 0.99 } },
  };
  const cfg = file('inference_config.json', JSON.stringify(config));
  const r = drivegate(['eval', 'thresholds', '--gt', g, '--dt', d, '--out', cfg]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(readFileSync(cfg, 'utf8')), {
    ...config,
    postprocess: { score_threshold: 0.3, score_thresholds: { car: 0.9, pedestrian: 0.7 } },
  });
  // A config whose classes do not include the thresholds' classes is refused and left as it was.
  const other = file('other.json', JSON.stringify({ ...config, classes: { '0': { id: 1, name: 'car' } } }));
  const refused = drivegate(['eval', 'thresholds', '--gt', g, '--dt', d, '--out', other]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /postprocess\.score_thresholds\.pedestrian/);
  assert.equal(JSON.parse(readFileSync(other, 'utf8')).postprocess.score_thresholds.car, 0.99);
  const usage = drivegate(['eval', 'thresholds', '--gt', g, '--dt', d, '--mode', 'precision']);
  assert.equal(usage.code, 2);
});

test('eval calibration and confusion print results from COCO files', () => {
  const g = file('gt2.json', JSON.stringify(gt));
  const d = file('dt2.json', JSON.stringify(dt));
  const c = drivegate(['eval', 'calibration', '--gt', g, '--dt', d, '--bins', '5', '--json']);
  assert.equal(c.code, 0, c.stderr);
  const cal = JSON.parse(c.stdout) as { overall: { count: number; accuracy: number } };
  assert.equal(cal.overall.count, 4);
  assert.equal(cal.overall.accuracy, 0.5);
  const m = drivegate(['eval', 'confusion', '--gt', g, '--dt', d, '--score', '0.5']);
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /pedestrian\s+0\s+1\s+0/);
});

test('every eval tool has an example in its help', () => {
  for (const cmd of ['validate', 'gate', 'calibration', 'thresholds', 'confusion']) {
    const r = drivegate(['eval', cmd, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Example:\n\s+drivegate eval /, cmd);
  }
});
