import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { DrivegateError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import { generateDataset } from '../world/dataset.js';
import type { EvalReport } from './report-schema.js';
import { EVAL_RUN_FILES, evaluateModel } from './run.js';
import type { EvalRunOptions } from './run.js';

const base = mkdtempSync(join(tmpdir(), 'drivegate-eval-run-'));
after(() => rmSync(base, { recursive: true, force: true }));
const world = join(base, 'world');
const manifest = join(world, 'golden_test.manifest');
const slices = join(world, 'slices.yaml');
const NOW = new Date('2026-11-27T10:00:00Z');

type Det = { image_id: number; category_id: number; bbox: number[]; score: number };
let perfect: Det[] = [];
const PEDESTRIAN = 3;

before(async () => {
  // 8 scenes x 3 frames, most in test: 18 test images with cars, pedestrians (also rain + night + urban).
  await generateDataset({
    out: world,
    scenes: 8,
    framesPerScene: 3,
    seed: 3,
    splitRatios: { train: 0.25, val: 0, test: 0.75 },
  });
  const gt = JSON.parse(readFileSync(join(world, 'golden_test.json'), 'utf8')) as {
    annotations: Array<{ image_id: number; category_id: number; bbox: number[]; iscrowd: number }>;
  };
  perfect = gt.annotations
    .filter((a) => a.iscrowd !== 1)
    .map((a, i) => ({
      image_id: a.image_id,
      category_id: a.category_id,
      bbox: a.bbox,
      score: 0.5 + (i % 10) / 20,
    }));
  writeFileSync(join(base, 'perfect.json'), JSON.stringify(perfect));
  writeFileSync(
    join(base, 'noped.json'),
    JSON.stringify(perfect.filter((d) => d.category_id !== PEDESTRIAN)),
  );
  writeFileSync(
    join(base, 'gates.yaml'),
    [
      'version: 1',
      'name: test-gate',
      'rules:',
      '  - id: critical-slices-no-regression',
      '    kind: no_regression',
      '    field: slices[*].metrics.map',
      '    where: { critical: true, empty: false }',
      '    max: 0.02',
      '    mode: relative',
      '',
    ].join('\n'),
  );
});

const opts = (over: Partial<EvalRunOptions>): EvalRunOptions => ({
  manifest,
  slices,
  out: join(base, 'out-' + Math.random().toString(36).slice(2)),
  now: NOW,
  ...over,
});

const near = (a: number | null | undefined, b: number, eps = 1e-9): boolean =>
  typeof a === 'number' && Math.abs(a - b) < eps;

async function duck(sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  try {
    return (await con.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

/** Runs the CLI (tsx from src, or dist) and returns exit code and output. */
function drivegate(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const root = packageRoot();
  const fromTs = import.meta.url.endsWith('.ts');
  const argv = fromTs
    ? ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), ...args]
    : [join(root, 'dist', 'src', 'cli', 'main.js'), ...args];
  return new Promise((resolve) => {
    const p = spawn(process.execPath, argv, { cwd: root });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let perfectReport: string;

test('perfect predictions score AP 1 on every non-empty slice; empty slices are flagged, never scored', async () => {
  const out = join(base, 'perfect');
  const r = await evaluateModel(opts({ predictions: join(base, 'perfect.json'), out }));
  perfectReport = join(out, EVAL_RUN_FILES.report);
  assert.equal(r.exitCode, 0);
  const rep = JSON.parse(readFileSync(perfectReport, 'utf8')) as EvalReport & Record<string, unknown>;
  assert.equal(rep.schema_version, 1);
  assert.ok(near(rep.overall.map, 1), String(rep.overall.map));
  const scored = rep.slices.filter((s) => s['empty'] !== true);
  const empty = rep.slices.filter((s) => s['empty'] === true);
  assert.ok(scored.length >= 15, `only ${scored.length} non-empty slices`);
  assert.ok(empty.length >= 1, 'the small world leaves some slices empty');
  for (const s of scored) {
    assert.ok(near(s.metrics.map, 1), `${s.name}: ${s.metrics.map}`);
    assert.ok(near(s.metrics.map50, 1), `${s.name}: ${s.metrics.map50}`);
  }
  for (const s of empty) {
    assert.equal(s.metrics.map, null, s.name);
    assert.equal(s['num_gt'], 0);
  }
  // every scoring kind took part
  const kinds = new Set<string | undefined>(scored.map((s) => s.scoring));
  for (const k of ['image', 'category', 'area-range', 'recall-oriented']) assert.ok(kinds.has(k), k);
  for (const s of scored) {
    const pr = s['pr_curve50'] as number[];
    assert.equal(pr.length, 101);
    assert.ok(
      pr.every((p) => near(p, 1)),
      s.name,
    );
  }
  const combined = rep.slices.find((s) => s.name === 'urban+pedestrian')!;
  assert.equal(combined['scoring'], 'category');
  assert.ok((combined['num_gt'] as number) > 0);
  // weighted mAP leaves empty slices out and says which
  const wm = rep['weighted_map'] as { value: number; empty_excluded: string[] };
  assert.ok(near(wm.value, 1));
  assert.deepEqual(
    wm.empty_excluded,
    empty.map((s) => s.name),
  );
  // files
  for (const f of [
    EVAL_RUN_FILES.report,
    EVAL_RUN_FILES.sliceMetrics,
    EVAL_RUN_FILES.detections,
    EVAL_RUN_FILES.thresholds,
    EVAL_RUN_FILES.summary,
  ]) {
    assert.ok(existsSync(join(out, f)), f);
  }
  for (const c of [
    'pr_curves',
    'reliability',
    'reliability_equal_mass',
    'confusion_matrix',
    'slices_map',
    'pr_curves_critical_slices',
  ])
    for (const ext of ['vl.json', 'svg', 'png'])
      assert.ok(existsSync(join(out, 'charts', `${c}.${ext}`)), `${c}.${ext}`);
  const thr = JSON.parse(readFileSync(join(out, EVAL_RUN_FILES.thresholds), 'utf8')) as {
    postprocess: { score_thresholds: Record<string, number> };
  };
  assert.ok(thr.postprocess.score_thresholds['car']! > 0);
  const dets = JSON.parse(readFileSync(join(out, EVAL_RUN_FILES.detections), 'utf8')) as Det[];
  assert.equal(dets.length, perfect.length);
  const md = readFileSync(join(out, EVAL_RUN_FILES.summary), 'utf8');
  for (const h of ['## What improved', '## What regressed', '## Next actions']) assert.ok(md.includes(h), h);
  assert.match(md, /Add test data for/);
  // Parquet, read back by DuckDB: a row per slice x class x metric
  const pq = join(out, EVAL_RUN_FILES.sliceMetrics).replace(/'/g, "''");
  const rows = await duck(
    `SELECT slice, class, metric, value, n_objects FROM read_parquet('${pq}') WHERE metric = 'AP' AND class = 'all'`,
  );
  const bySlice = new Map(rows.map((x) => [x['slice'], x] as const));
  assert.ok(near(bySlice.get('overall')!['value'] as number, 1));
  assert.ok(near(bySlice.get('pedestrian')!['value'] as number, 1));
  assert.ok(Number.isNaN(bySlice.get(empty[0]!.name)!['value'] as number), 'empty slices are NaN');
  const perClass = await duck(
    `SELECT count(*) AS n FROM read_parquet('${pq}') WHERE slice = 'all' AND class = 'pedestrian' AND metric = 'AP50'`,
  );
  assert.equal(Number(perClass[0]!['n']), 1);
});

test('dropping every pedestrian detection zeroes the pedestrian slices and fails the critical-slice gate (exit 1, blocking report)', async () => {
  const out = join(base, 'noped');
  const r = await drivegate([
    'eval',
    'run',
    '--predictions',
    join(base, 'noped.json'),
    '--manifest',
    manifest,
    '--slices',
    slices,
    '--baseline',
    perfectReport,
    '--gates',
    join(base, 'gates.yaml'),
    '--out',
    out,
    '--no-charts',
    '--json',
  ]);
  assert.equal(r.code, 1, r.stderr);
  const res = JSON.parse(r.stdout) as { gate: { status: string; failing_slices: string[] } };
  assert.equal(res.gate.status, 'fail');
  assert.ok(res.gate.failing_slices.includes('pedestrian'));
  const rep = JSON.parse(readFileSync(join(out, EVAL_RUN_FILES.report), 'utf8')) as EvalReport;
  const ped = rep.slices.find((s) => s.name === 'pedestrian')!;
  assert.equal(ped.metrics.map, 0);
  assert.ok(near(rep.deltas!.slices['pedestrian']!['map'], -1));
  assert.ok(near(rep.deltas!.slices['car']!['map'], 0));
  const verdict = JSON.parse(readFileSync(join(out, EVAL_RUN_FILES.verdict), 'utf8')) as {
    status: string;
    policy: { name: string };
    summary: string;
  };
  assert.deepEqual(rep.gate, {
    status: 'fail',
    policy: verdict.policy.name,
    summary: verdict.summary,
    file: EVAL_RUN_FILES.verdict,
  });
  const blocking = readFileSync(join(out, EVAL_RUN_FILES.blocking), 'utf8');
  assert.match(blocking, /critical-slices-no-regression/);
  assert.match(blocking, /`pedestrian`/);
  assert.match(blocking, /Mine and label more pedestrian frames/);
  const md = readFileSync(join(out, EVAL_RUN_FILES.summary), 'utf8');
  const regressed = md.slice(md.indexOf('## What regressed'), md.indexOf('## Next actions'));
  assert.match(regressed, /mAP on slice 'pedestrian' \(critical, \d+ objects\): 0\.000 \(-1\.000/);
  assert.ok(existsSync(join(out, EVAL_RUN_FILES.verdict)));
});

test('a baseline of another schema version is BAD_INPUT naming the file and the version; --out is not created (exit 2)', async () => {
  const bad = join(base, 'v2.json');
  const v1 = JSON.parse(readFileSync(perfectReport, 'utf8')) as Record<string, unknown>;
  writeFileSync(bad, JSON.stringify({ ...v1, schema_version: 2 }));
  const out = join(base, 'never-v2');
  const r = await drivegate([
    'eval',
    'run',
    '--predictions',
    join(base, 'perfect.json'),
    '--manifest',
    manifest,
    '--slices',
    slices,
    '--baseline',
    bad,
    '--out',
    out,
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /v2\.json/);
  assert.match(r.stderr, /schema_version/);
  assert.match(r.stderr, /found 2/);
  assert.equal(existsSync(out), false);
});

const badCases: Array<[string, () => EvalRunOptions, RegExp]> = [
  [
    'a detection of a category the ground truth does not declare',
    () => {
      writeFileSync(join(base, 'cat99.json'), JSON.stringify([{ ...perfect[0]!, category_id: 99 }]));
      return opts({ predictions: join(base, 'cat99.json') });
    },
    /cat99\.json, record 0, field 'category_id'/,
  ],
  [
    'a negative score',
    () => {
      writeFileSync(join(base, 'neg.json'), JSON.stringify([perfect[0], { ...perfect[1]!, score: -0.1 }]));
      return opts({ predictions: join(base, 'neg.json') });
    },
    /neg\.json, record 1, field 'score'/,
  ],
  [
    'a NaN score (not JSON)',
    () => {
      writeFileSync(
        join(base, 'nan.json'),
        `[{"image_id": ${perfect[0]!.image_id}, "category_id": 1, "bbox": [1,1,2,2], "score": NaN}]`,
      );
      return opts({ predictions: join(base, 'nan.json') });
    },
    /nan\.json/,
  ],
  [
    'a box with negative width',
    () => {
      writeFileSync(join(base, 'box.json'), JSON.stringify([{ ...perfect[0]!, bbox: [1, 1, -3, 2] }]));
      return opts({ predictions: join(base, 'box.json') });
    },
    /box\.json, record 0, field 'bbox'/,
  ],
  [
    'a malformed manifest line',
    () => {
      const lines = readFileSync(manifest, 'utf8').split('\n');
      lines[2] = '{"image": "x.png", "image_id": "seven"}';
      writeFileSync(join(world, 'broken.manifest'), lines.join('\n'));
      return opts({
        predictions: join(base, 'perfect.json'),
        manifest: join(world, 'broken.manifest'),
        gt: join(world, 'golden_test.json'),
      });
    },
    /broken\.manifest:3/,
  ],
  [
    'malformed COCO ground truth',
    () => {
      writeFileSync(join(base, 'gt-broken.json'), '{"images": [{"id": 1}], "annotations": [');
      return opts({ predictions: join(base, 'perfect.json'), gt: join(base, 'gt-broken.json') });
    },
    /gt-broken\.json/,
  ],
];

for (const [what, make, message] of badCases) {
  test(`${what} is BAD_INPUT naming the file and record; --out is not created`, async () => {
    const o = make();
    await assert.rejects(
      () => evaluateModel(o),
      (e: unknown) => e instanceof DrivegateError && e.exitCode === 2 && message.test(e.message),
    );
    assert.equal(existsSync(o.out), false);
  });
}

test('an existing --out is refused without --overwrite, and replaced whole with it', async () => {
  const out = join(base, 'twice');
  await evaluateModel(opts({ predictions: join(base, 'noped.json'), out, charts: false }));
  await assert.rejects(
    () => evaluateModel(opts({ predictions: join(base, 'perfect.json'), out, charts: false })),
    (e: unknown) => e instanceof DrivegateError && e.code === 'CONFLICT',
  );
  const r = await evaluateModel(
    opts({ predictions: join(base, 'perfect.json'), out, charts: false, overwrite: true }),
  );
  assert.ok(near(r.report.overall.map, 1));
  assert.ok(
    near((JSON.parse(readFileSync(join(out, EVAL_RUN_FILES.report), 'utf8')) as EvalReport).overall.map, 1),
  );
});

test('a model runs through the runtime worker pool and its latency per image is recorded', async () => {
  const model = join(packageRoot(), 'src', 'runtime', 'testdata', 'toy_centernet.onnx');
  const r = await evaluateModel(opts({ model, workers: 1, charts: false, baseline: perfectReport }));
  const lat = r.report.latency!;
  assert.ok(lat.p50_ms! > 0 && lat.p50_ms! <= lat.p95_ms! && lat.p95_ms! <= lat.p99_ms!);
  assert.equal(lat.batch_size, 1);
  assert.equal((lat as Record<string, unknown>)['workers'], 1);
  assert.equal((lat as Record<string, unknown>)['images'], r.report.dataset.images);
  assert.match(r.report.model.digest!, /^sha256:[0-9a-f]{64}$/);
  assert.equal(r.report.model.name, 'toy_centernet');
  assert.ok(r.report.deltas !== undefined);
  assert.ok(existsSync(join(r.out, EVAL_RUN_FILES.detections)));
});

test('a model pack folder is evaluated like its model', async () => {
  const pack = join(base, 'pack');
  const td = join(packageRoot(), 'src', 'runtime', 'testdata');
  mkdirSync(pack);
  copyFileSync(join(td, 'toy_centernet.onnx'), join(pack, 'model.onnx'));
  copyFileSync(join(td, 'toy_centernet.inference_config.json'), join(pack, 'inference_config.json'));
  const r = await evaluateModel(opts({ pack, workers: 0, batch: 4, charts: false }));
  assert.equal((r.report.model as Record<string, { kind: string }>)['source']!.kind, 'pack');
  assert.equal(r.report.latency!.batch_size, 4);
});

test('a gate that cannot be evaluated (no latency for predictions) exits 2 but still writes the reports', async () => {
  const r = await evaluateModel(
    opts({
      predictions: join(base, 'perfect.json'),
      baseline: perfectReport,
      gates: join(packageRoot(), 'examples', 'gates.yaml'),
      charts: false,
    }),
  );
  assert.equal(r.exitCode, 2);
  assert.equal(r.verdict!.status, 'error');
  assert.ok(r.verdict!.errors.some((e) => /latency\.p95_ms/.test(e)));
  assert.ok(existsSync(join(r.out, EVAL_RUN_FILES.verdict)));
  assert.equal(existsSync(join(r.out, EVAL_RUN_FILES.blocking)), false);
});

test('a signed-off waiver turns the failing critical-slice rule into waived and the run passes', async () => {
  writeFileSync(
    join(base, 'waivers.yaml'),
    [
      'waivers:',
      '  - rule: critical-slices-no-regression',
      '    justification: pedestrian head is retrained separately this cycle',
      '    approver: safety-lead@example.com',
      '    expires: 2026-12-31T00:00:00Z',
      '',
    ].join('\n'),
  );
  const r = await evaluateModel(
    opts({
      predictions: join(base, 'noped.json'),
      baseline: perfectReport,
      gates: join(base, 'gates.yaml'),
      waivers: join(base, 'waivers.yaml'),
      charts: false,
    }),
  );
  assert.equal(r.exitCode, 0);
  assert.equal(r.verdict!.rules[0]!.status, 'waived');
  assert.equal(existsSync(join(r.out, EVAL_RUN_FILES.blocking)), false);
});

test('a baseline evaluated on another manifest is compared with a warning in the report and the summary', async () => {
  const sub = join(world, 'subset.manifest');
  writeFileSync(sub, readFileSync(manifest, 'utf8').split('\n').slice(0, 8).join('\n') + '\n');
  const r = await evaluateModel(
    opts({
      predictions: join(base, 'perfect.json'),
      manifest: sub,
      gt: join(world, 'golden_test.json'),
      baseline: perfectReport,
      charts: false,
    }),
  );
  const warnings = (r.report as Record<string, unknown>)['warnings'] as string[];
  assert.ok(
    warnings.some((w) => /another manifest/.test(w)),
    warnings.join('\n'),
  );
  assert.match(
    readFileSync(join(r.out, EVAL_RUN_FILES.summary), 'utf8'),
    /## Warnings[\s\S]*another manifest/,
  );
});
