import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DrivegateError } from '../../core/errors.js';
import { binEdges, calibrationOf, detectionCalibration } from './calibration.js';
import type { BinStrategy } from './calibration.js';
import { matchDetections } from './detections.js';
import type { CocoGroundTruth } from './detections.js';

const PY = '/usr/bin/python3';

function sklearnStatus(): { ok: boolean; reason?: string } {
  const r = spawnSync(PY, ['-c', 'import sklearn, numpy'], { encoding: 'utf8' });
  if (r.status === 0) return { ok: true };
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  // Only skip when nothing could have installed it: as root scripts/ensure-system-deps.sh does.
  if (!root)
    return {
      ok: false,
      reason: `scikit-learn is not installed for ${PY} (python3-sklearn) and we are not root to install it`,
    };
  return { ok: true };
}

/** A seeded generator (LCG) so that the data is the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function data(n: number, seed: number): { p: number[]; y: number[] } {
  const r = rng(seed);
  const p: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    // Values exactly on equal-width edges (as numpy computes them) and round decimals test the
    // edge convention; the rest are spread over [0, 1].
    const v = i % 7 === 0 ? (i % 15) * (1 / 15) : i % 11 === 0 ? Math.round(r() * 10) / 10 : r();
    p.push(v);
    y.push(r() < v * 0.8 + 0.1 ? 1 : 0);
  }
  p.push(0, 1, 1);
  y.push(0, 1, 0);
  return { p, y };
}

test('hand-computed ECE, MCE and Brier on a small example', () => {
  // Two bins: [0, 0.5] and (0.5, 1].
  const r = calibrationOf([0.2, 0.4, 0.5, 0.9, 0.7], [0, 1, 1, 1, 0], { bins: 2 });
  const b0 = { conf: (0.2 + 0.4 + 0.5) / 3, acc: 2 / 3 };
  const b1 = { conf: 0.8, acc: 0.5 };
  assert.equal(r.bins[0]!.count, 3); // 0.5 sits on the edge and goes to the lower bin
  assert.ok(
    Math.abs(r.ece - ((3 / 5) * Math.abs(b0.acc - b0.conf) + (2 / 5) * Math.abs(b1.acc - b1.conf))) < 1e-15,
  );
  assert.ok(Math.abs(r.mce - Math.max(Math.abs(b0.acc - b0.conf), Math.abs(b1.acc - b1.conf))) < 1e-15);
  assert.ok(Math.abs(r.brier - (0.04 + 0.36 + 0.25 + 0.01 + 0.49) / 5) < 1e-15);
  assert.deepEqual(
    r.bins.map((b) => [b.lower, b.upper]),
    [
      [0, 0.5],
      [0.5, 1],
    ],
  );
});

test('a perfectly calibrated bin structure has ECE 0 and empty bins have null statistics', () => {
  const r = calibrationOf([0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0], { bins: 4 });
  assert.equal(r.ece, 0);
  assert.equal(r.bins[0]!.count, 4); // 0.25 is an edge: lower bin
  assert.equal(r.bins[3]!.accuracy, null);
  assert.equal(r.bins[3]!.mean_confidence, null);
});

test('equal-mass bins hold about the same number of predictions', () => {
  const { p, y } = data(3000, 7);
  const r = calibrationOf(p, y, { bins: 10, strategy: 'quantile' });
  for (const b of r.bins) assert.ok(b.count > 250 && b.count < 350, `bin ${b.index}: ${b.count}`);
});

test('confidences outside [0, 1] and empty input are BAD_INPUT', () => {
  assert.throws(
    () => calibrationOf([0.5, 1.2], [1, 0]),
    (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT' && e.location.record === 1,
  );
  assert.throws(
    () => calibrationOf([], []),
    (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT',
  );
  assert.throws(
    () => calibrationOf([0.5], [1, 0]),
    (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT',
  );
});

const sk = sklearnStatus();
test(
  'matches scikit-learn calibration_curve (uniform and quantile) and brier_score_loss',
  { skip: sk.ok ? false : sk.reason },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dg-calib-'));
    try {
      const cases: Array<{ n: number; seed: number; bins: number }> = [
        { n: 148, seed: 1, bins: 15 }, // 151 values: (n-1) divisible by 15, quantile edges land on data points
        { n: 997, seed: 2, bins: 15 },
        { n: 400, seed: 3, bins: 10 },
      ];
      const inputs = cases.map((c) => ({ ...data(c.n, c.seed), bins: c.bins }));
      const file = join(dir, 'in.json');
      await writeFile(file, JSON.stringify(inputs));
      const script = `
import json, sys, numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss
out = []
for c in json.load(open(sys.argv[1])):
    p = np.array(c['p'], dtype=float); y = np.array(c['y'], dtype=int)
    res = {'brier': float(brier_score_loss(y, p))}
    for s in ('uniform', 'quantile'):
        t, m = calibration_curve(y, p, n_bins=c['bins'], strategy=s)
        res[s] = {'prob_true': t.tolist(), 'prob_pred': m.tolist()}
    out.append(res)
print(json.dumps(out))
`;
      const r = spawnSync(PY, ['-c', script, file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const ref = JSON.parse(r.stdout) as Array<
        Record<string, { prob_true: number[]; prob_pred: number[] }> & { brier: number }
      >;
      inputs.forEach((inp, k) => {
        const want = ref[k]!;
        for (const strategy of ['uniform', 'quantile'] as BinStrategy[]) {
          const got = calibrationOf(inp.p, inp.y, { bins: inp.bins, strategy });
          const nonEmpty = got.bins.filter((b) => b.count > 0);
          const w = want[strategy]!;
          assert.equal(nonEmpty.length, w.prob_true.length, `case ${k} ${strategy}: non-empty bins`);
          nonEmpty.forEach((b, i) => {
            assert.ok(
              Math.abs(b.accuracy! - w.prob_true[i]!) < 1e-12,
              `case ${k} ${strategy} bin ${b.index} accuracy ${b.accuracy} vs ${w.prob_true[i]}`,
            );
            assert.ok(
              Math.abs(b.mean_confidence! - w.prob_pred[i]!) < 1e-12,
              `case ${k} ${strategy} bin ${b.index} confidence`,
            );
          });
          // ECE from scikit-learn's per-bin values, weighted by our counts (which the per-bin means pin down).
          const ece = nonEmpty.reduce(
            (a, b, i) => a + (b.count / got.count) * Math.abs(w.prob_true[i]! - w.prob_pred[i]!),
            0,
          );
          assert.ok(Math.abs(got.ece - ece) < 1e-12);
        }
        assert.ok(Math.abs(calibrationOf(inp.p, inp.y).brier - want.brier) < 1e-12, `case ${k} brier`);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('equal-width edges are numpy.linspace values', () => {
  const e = binEdges([0.5], 15, 'uniform');
  assert.equal(e.length, 16);
  assert.equal(e[3], 3 * (1 / 15));
  assert.equal(e[15], 1);
});

test('detection calibration scores matched detections as correct and leaves crowd hits out', () => {
  const gt: CocoGroundTruth = {
    images: [{ id: 1 }],
    categories: [
      { id: 1, name: 'car' },
      { id: 2, name: 'pedestrian' },
    ],
    annotations: [
      { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], iscrowd: 0 },
      { image_id: 1, category_id: 2, bbox: [50, 50, 10, 20], iscrowd: 0 },
      { image_id: 1, category_id: 2, bbox: [100, 100, 50, 50], iscrowd: 1 },
    ],
  };
  const dt = [
    { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10] as [number, number, number, number], score: 0.9 }, // tp
    { image_id: 1, category_id: 1, bbox: [1, 0, 10, 10] as [number, number, number, number], score: 0.8 }, // fp (duplicate)
    { image_id: 1, category_id: 2, bbox: [50, 52, 10, 20] as [number, number, number, number], score: 0.6 }, // tp
    { image_id: 1, category_id: 2, bbox: [110, 110, 10, 10] as [number, number, number, number], score: 0.7 }, // on crowd
  ];
  const c = detectionCalibration(matchDetections(gt, dt), { bins: 10 });
  assert.equal(c.ignored, 1);
  assert.equal(c.overall.count, 3);
  assert.ok(Math.abs(c.overall.accuracy - 2 / 3) < 1e-15);
  assert.ok(Math.abs(c.overall.brier - (0.01 + 0.64 + 0.16) / 3) < 1e-15);
  assert.equal(c.per_class['pedestrian']!.count, 1);
});
