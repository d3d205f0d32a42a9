import { test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf } from '../../core/digest.js';
import { simulateRun } from '../engine/index.js';
import { ccrsScenario } from '../engine/hand-scenarios.js';
import type { RunResult } from '../types.js';
import { SimPool, type PoolJob } from './pool.js';

const GT = { kind: 'ground-truth' } as const;
// short ground-truth runs (a few hundred steps): the case that chunking is for
const variants = [30, 50, 70].map((kmh) => ccrsScenario({ egoSpeedKmh: kmh, gap: 40, maxDuration: 3 }));
const jobs: PoolJob[] = Array.from({ length: 240 }, (_, i) => ({
  variant: variants[i % variants.length]!,
  options: { seed: i + 1, perception: GT },
}));

test('runMany answers every job once, in far fewer messages than jobs, with the metrics of a run in this thread', async () => {
  const pool = await SimPool.open(2);
  const got = new Map<number, RunResult>();
  try {
    await pool.runMany(jobs, (i, r) => {
      assert.equal(got.has(i), false, `job ${i} answered twice`);
      got.set(i, r);
    });
    assert.equal(got.size, jobs.length);
    assert.ok(pool.messages < jobs.length / 3, `${pool.messages} messages for ${jobs.length} jobs`);
  } finally {
    await pool.close();
  }
  for (const i of [0, 1, 2, 100, 239]) {
    const here = await simulateRun(jobs[i]!.variant, jobs[i]!.options);
    const there = got.get(i)!;
    assert.equal(
      digestOf([there.metrics, there.randomization, there.seed]),
      digestOf([here.metrics, here.randomization, here.seed]),
    );
  }
});

test('after a failing job, runMany starts no further job of the call and rejects with its error; the pool still runs', async () => {
  const bad = ccrsScenario({ egoSpeedKmh: 50 });
  const broken: PoolJob = {
    variant: { ...bad, id: 'broken', scenario: { ...bad.scenario, ego: 'Nobody' } },
    options: { seed: 1, perception: GT },
  };
  const list = [...jobs.slice(0, 5), broken, ...jobs];
  const pool = await SimPool.open(1);
  try {
    let answered = 0;
    await assert.rejects(
      pool.runMany(list, () => answered++),
      /ego 'Nobody' is not an entity/,
    );
    assert.ok(answered < list.length - 1, `${answered} jobs answered after the failure`);
    const r = await pool.run(jobs[0]!);
    assert.equal(r.seed, 1);
  } finally {
    await pool.close();
  }
});
