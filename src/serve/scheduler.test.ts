import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SessionPool } from '../runtime/pool.js';
import type { Runner } from '../runtime/session.js';
import type { TensorMap } from '../runtime/tensor.js';
import { Scheduler, type ScheduledResult } from './scheduler.js';
import { runtimeTestModel } from './testing.js';

// busy.onnx: x [N, n, n] -> y [N, n, n]; its run time grows with n. Four real worker-thread instances
// of one intra-op thread each; every execution the scheduler starts is recorded with its batch and
// when it started and ended.
const INSTANCES = 4;
let pool: SessionPool;

interface Execution {
  batch: number;
  n: number;
  start: number;
  end: number;
}

before(async () => {
  pool = await SessionPool.open(runtimeTestModel('busy'), { workers: INSTANCES, intraOpThreads: 1 });
});

after(async () => {
  await pool.close();
});

/** The pool, with each run recorded (the real inference still runs in the pool's workers). */
function recording(log: Execution[]): Runner {
  return {
    modelPath: pool.modelPath,
    io: pool.io,
    run: async (feeds: TensorMap): Promise<TensorMap> => {
      const x = feeds['x']!;
      const e: Execution = { batch: x.dims[0]!, n: x.dims[1]!, start: performance.now(), end: 0 };
      log.push(e);
      const out = await pool.run(feeds);
      e.end = performance.now();
      return out;
    },
    close: () => Promise.resolve(),
  };
}

function request(n: number, seed: number): TensorMap {
  const d = new Float32Array(n * n);
  for (let i = 0; i < d.length; i++) d[i] = (((i * 7919 + seed * 104729) % 1000) / 1000 - 0.5) / n;
  return { x: { type: 'float32', data: d, dims: [1, n, n] } };
}

/** Whether every execution started before any of them ended (they ran at the same time). */
function overlapping(xs: Execution[]): boolean {
  return Math.max(...xs.map((e) => e.start)) < Math.min(...xs.map((e) => e.end));
}

test('with an instance free for every request, batching runs them at once on separate instances', async () => {
  const log: Execution[] = [];
  // A long queue delay and an unreachable preferred size: holding the requests for a batch would
  // keep them a whole second and then run all four on one instance while three idle.
  const s = new Scheduler(recording(log), {
    instances: INSTANCES,
    maxBatchSize: 16,
    batching: { preferredBatchSize: [16], maxQueueDelayMicroseconds: 1_000_000 },
  });
  const results = await Promise.all(
    Array.from({ length: INSTANCES }, (_, i) => s.submit(request(200, i), 1)),
  );
  assert.deepEqual(
    log.map((e) => e.batch),
    [1, 1, 1, 1],
  );
  assert.ok(overlapping(log), JSON.stringify(log));
  for (const r of results) assert.equal(r.executionBatch, 1);
  s.close();
});

test('requests held for a batch go out spread over the idle instances when the delay ends', async () => {
  const log: Execution[] = [];
  const s = new Scheduler(recording(log), {
    instances: INSTANCES,
    maxBatchSize: 16,
    batching: { preferredBatchSize: [16], maxQueueDelayMicroseconds: 500_000 },
  });
  // Four short executions keep every instance busy for a moment, so the eight requests behind them
  // are more than the instances and are held for the delay; by its end all four instances are idle
  // again (the first executions take some tens of ms), and the eight run as four batches of two.
  const first = Array.from({ length: INSTANCES }, (_, i) => s.submit(request(200, i), 1));
  const held: Array<Promise<ScheduledResult>> = Array.from({ length: 8 }, (_, i) =>
    s.submit(request(60, 10 + i), 1),
  );
  await Promise.all(first);
  const results = await Promise.all(held);
  const second = log.filter((e) => e.n === 60);
  assert.deepEqual(
    second.map((e) => e.batch),
    [2, 2, 2, 2],
    JSON.stringify(log),
  );
  assert.ok(overlapping(second), JSON.stringify(second));
  for (const r of results) assert.equal(r.executionBatch, 2);
  s.close();
});

test('with more requests than instances, one instance still merges what queued behind it', async () => {
  const log: Execution[] = [];
  const s = new Scheduler(recording(log), {
    instances: 1,
    maxBatchSize: 16,
    batching: { preferredBatchSize: [8], maxQueueDelayMicroseconds: 200_000 },
  });
  const results = await Promise.all(Array.from({ length: 9 }, (_, i) => s.submit(request(60, i), 1)));
  // The first request finds the instance free and nothing else outstanding: it runs at once; the
  // eight queued behind it reach the preferred size and run as one execution.
  assert.deepEqual(
    log.map((e) => e.batch),
    [1, 8],
  );
  assert.deepEqual(
    results.map((r) => r.executionBatch),
    [1, 8, 8, 8, 8, 8, 8, 8, 8],
  );
  s.close();
});
