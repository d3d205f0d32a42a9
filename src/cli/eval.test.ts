/** `drivegate eval coco` end to end: the real CLI in a child process (tsx for sources, node for dist/). */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { packageRoot, sharedFixtures } from '../core/paths.js';
import { runCliIn } from './cli-testing.js';
import type { CliResult } from './cli-testing.js';

const SHARED = join(sharedFixtures(), 'coco');
const OWN = join(packageRoot(), 'src', 'eval', 'metrics', 'coco', 'fixtures');

const home = mkdtempSync(join(tmpdir(), 'drivegate-cli-eval-coco-home-'));
after(() => rmSync(home, { recursive: true, force: true }));

/** Runs the drivegate CLI (from src under tsx, or from dist) with a temp folder as workspace. */
const drivegate = (...args: string[]): CliResult => runCliIn(import.meta.url, home, args);

test('eval coco prints the 12 summary lines (exit 0) and --json the stats and per-class AP', () => {
  const gt = join(SHARED, 'public_basic.gt.json.gz');
  const dt = join(SHARED, 'public_basic.dt.json.gz');
  const text = drivegate('eval', 'coco', '--gt', gt, '--dt', dt);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 12);
  assert.equal(lines[0], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.437');

  const json = drivegate('eval', 'coco', '--gt', gt, '--dt', dt, '--json');
  assert.equal(json.code, 0, json.stderr);
  const out = JSON.parse(json.stdout) as { stats: number[]; per_class: Record<string, number> };
  const exp = (
    JSON.parse(readFileSync(join(SHARED, 'expected.json'), 'utf8')) as Record<string, { stats: number[] }>
  )['public_basic']!;
  assert.deepEqual(Object.keys(out).sort(), ['per_class', 'stats']);
  assert.equal(out.stats.length, 12);
  out.stats.forEach((v, i) => assert.ok(Math.abs(v - exp.stats[i]!) < 1e-9));
  assert.deepEqual(Object.keys(out.per_class).sort(), ['1', '2', '3', '4', '7']);
});

test('eval coco --iou-type segm evaluates masks', () => {
  const dir = join(OWN, 'segm-poly-rle');
  const r = drivegate(
    'eval',
    'coco',
    '--gt',
    join(dir, 'gt.json'),
    '--dt',
    join(dir, 'dt.json'),
    '--iou-type',
    'segm',
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { stats: number[] };
  assert.ok(Math.abs(out.stats[0]! - 560 / 1010) < 1e-9);
  assert.equal(out.stats[1], 1);
});

test('eval coco exits 2 with a message naming file, record and field on bad input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drivegate-cli-coco-'));
  try {
    const gt = join(OWN, 'score-ties', 'gt.json');
    const dt = join(dir, 'dt.json');
    writeFileSync(
      dt,
      JSON.stringify([
        { image_id: 1, category_id: 1, bbox: [0, 0, 1, 1], score: 0.5 },
        { image_id: 1, category_id: 42, bbox: [0, 0, 1, 1], score: 0.5 },
      ]),
    );
    const r = drivegate('eval', 'coco', '--gt', gt, '--dt', dt);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /dt\.json, record 1, field 'category_id': category id not in the ground truth/);
    const j = drivegate('eval', 'coco', '--gt', gt, '--dt', dt, '--json');
    assert.equal(j.code, 2);
    const err = (JSON.parse(j.stdout) as { error: { code: string; record: number; field: string } }).error;
    assert.equal(err.code, 'BAD_INPUT');
    assert.equal(err.record, 1);
    assert.equal(err.field, 'category_id');

    writeFileSync(dt, '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}');
    const cut = drivegate('eval', 'coco', '--gt', gt, '--dt', dt);
    assert.equal(cut.code, 2);
    assert.match(cut.stderr, /malformed JSON/);

    const usage = drivegate('eval', 'coco', '--gt', gt, '--dt', dt, '--iou-type', 'keypoints');
    assert.equal(usage.code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
