import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Runner } from '../core/runner.js';
import { FsStore } from '../store/fs.js';
import { generateDataset } from '../world/dataset.js';
import type { EvalReport } from './report-schema.js';
import { EVAL_RUN_FILES } from './run.js';
import { evalRunWorkflow } from './run-workflow.js';
import type { EvalRunArgs, EvalRunStepResult } from './run-workflow.js';

const base = mkdtempSync(join(tmpdir(), 'drivegate-eval-workflow-'));
after(() => rmSync(base, { recursive: true, force: true }));
const world = join(base, 'world');

before(async () => {
  await generateDataset({
    out: world,
    scenes: 6,
    framesPerScene: 2,
    seed: 3,
    splitRatios: { train: 0.34, val: 0, test: 0.66 },
  });
  const gt = JSON.parse(readFileSync(join(world, 'golden_test.json'), 'utf8')) as {
    annotations: Array<{ image_id: number; category_id: number; bbox: number[] }>;
  };
  const dets = gt.annotations.map((a) => ({ ...a, score: 0.8 }));
  writeFileSync(join(base, 'dt.json'), JSON.stringify(dets));
  writeFileSync(
    join(base, 'gates.yaml'),
    'version: 1\nname: t\nrules:\n  - {id: map, kind: threshold, field: overall.map, min: 0.5}\n',
  );
  writeFileSync(
    join(base, 'strict.yaml'),
    'version: 1\nname: strict\nrules:\n  - {id: map, kind: threshold, field: overall.map, min: 1.01}\n',
  );
});

test('the runner records eval run; a re-run with another gate re-uses the detect and evaluate steps', async () => {
  const runner = new Runner({
    runsDir: join(base, 'runs'),
    cacheDir: join(base, 'cache'),
    store: new FsStore(join(base, 'store')),
  });
  const args: EvalRunArgs = {
    predictions: join(base, 'dt.json'),
    manifest: join(world, 'golden_test.manifest'),
    slices: join(world, 'slices.yaml'),
    gates: join(base, 'gates.yaml'),
    out: join(base, 'out1'),
    charts: false,
    now: '2026-11-27T10:00:00Z',
  };
  const first = await runner.run(evalRunWorkflow, args);
  assert.equal(first.status, 'succeeded');
  assert.deepEqual(
    first.steps.map((s) => s.status),
    ['succeeded', 'succeeded', 'succeeded'],
  );
  const res = first.steps[2]!.result as EvalRunStepResult;
  assert.equal(res.exit_code, 0);
  assert.equal(res.gate, 'pass');
  const rep = JSON.parse(readFileSync(join(base, 'out1', EVAL_RUN_FILES.report), 'utf8')) as EvalReport &
    Record<string, unknown>;
  assert.ok(Math.abs(rep.overall.map! - 1) < 1e-9);
  assert.equal((rep['gate'] as { status: string }).status, 'pass');
  assert.ok(existsSync(join(base, 'out1', EVAL_RUN_FILES.verdict)));
  const verdict = JSON.parse(readFileSync(join(base, 'out1', EVAL_RUN_FILES.verdict), 'utf8')) as {
    policy: { name: string };
    summary: string;
  };
  assert.deepEqual(rep['gate'], {
    status: 'pass',
    policy: verdict.policy.name,
    summary: verdict.summary,
    file: EVAL_RUN_FILES.verdict,
  });

  const second = await runner.run(evalRunWorkflow, {
    ...args,
    gates: join(base, 'strict.yaml'),
    out: join(base, 'out2'),
  });
  assert.deepEqual(
    second.steps.map((s) => s.status),
    ['skipped-cached', 'skipped-cached', 'succeeded'],
  );
  const res2 = second.steps[2]!.result as EvalRunStepResult;
  assert.equal(res2.exit_code, 1);
  assert.match(readFileSync(join(base, 'out2', EVAL_RUN_FILES.blocking), 'utf8'), /strict/);
  assert.match(readFileSync(join(base, 'out2', EVAL_RUN_FILES.summary), 'utf8'), /FAIL/);
  // the first folder is untouched
  assert.equal(existsSync(join(base, 'out1', EVAL_RUN_FILES.blocking)), false);
});
