import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { DrivegateError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import { SessionPool, workerEntry } from './pool.js';
import { LocalSession, type Runner } from './session.js';
import type { TensorMap } from './tensor.js';

const busy = join(packageRoot(), 'src', 'runtime', 'testdata', 'busy.onnx');

function matrix(n: number, seed: number): TensorMap {
  const data = new Float32Array(n * n);
  for (let i = 0; i < data.length; i++) data[i] = (((i * 7919 + seed * 104729) % 1000) / 1000 - 0.5) / n;
  return { x: { type: 'float32', data, dims: [1, n, n] } };
}

/** Runs one inference while a 5 ms interval timer ticks; returns the ticks and the longest gap. */
async function tickDuring(
  runner: Runner,
  feeds: TensorMap,
): Promise<{ ticks: number; maxGap: number; ms: number }> {
  let ticks = 0;
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 5);
  const start = performance.now();
  await new Promise((r) => setTimeout(r, 20)); // let the timer start
  last = performance.now();
  ticks = 0;
  maxGap = 0;
  await runner.run(feeds);
  const ms = performance.now() - start - 20;
  maxGap = Math.max(maxGap, performance.now() - last);
  clearInterval(timer);
  return { ticks, maxGap, ms };
}

test('keeps the event loop ticking during a long inference in the pool, unlike an in-process session', async () => {
  const n = 1100; // 8 matrix products of 1100x1100: a few hundred ms on one thread
  const pool = await SessionPool.open(busy, { workers: 1, intraOpThreads: 1 });
  const local = await LocalSession.open(busy, { intraOpThreads: 1 });
  try {
    const inPool = await tickDuring(pool, matrix(n, 1));
    const inProcess = await tickDuring(local, matrix(n, 1));
    // In-process, run() holds the thread: no timer fires until the inference is over.
    assert.ok(inProcess.maxGap >= inProcess.ms * 0.8, JSON.stringify(inProcess));
    // In the pool the timer keeps firing while the worker computes.
    assert.ok(inPool.ticks >= 5, JSON.stringify(inPool));
    assert.ok(inPool.maxGap < inPool.ms / 2, JSON.stringify(inPool));
  } finally {
    await pool.close();
    await local.close();
  }
});

test('queues more requests than workers and answers each with its own result', async () => {
  const pool = await SessionPool.open(busy, { workers: 2, intraOpThreads: 1 });
  const local = await LocalSession.open(busy);
  try {
    assert.equal(pool.size, 2);
    const pending = Array.from({ length: 7 }, (_, i) => pool.run(matrix(24, i)));
    assert.ok(pool.pending >= 4);
    const results = await Promise.all(pending);
    for (let i = 0; i < 7; i++) {
      const want = await local.run(matrix(24, i));
      assert.deepEqual(results[i]!['y']!.dims, [1, 24, 24]);
      assert.deepEqual(
        Array.from(results[i]!['y']!.data as Float32Array),
        Array.from(want['y']!.data as Float32Array),
      );
    }
  } finally {
    await pool.close();
    await local.close();
  }
});

test('rejects queued requests when closed, and new ones afterwards', async () => {
  const pool = await SessionPool.open(busy, { workers: 1, intraOpThreads: 1 });
  const isUnavailable = (e: unknown) => e instanceof DrivegateError && e.code === 'UNAVAILABLE';
  const running = assert.rejects(pool.run(matrix(400, 1)), isUnavailable);
  const queued = assert.rejects(pool.run(matrix(8, 2)), isUnavailable);
  await pool.close();
  await queued;
  await running;
  await assert.rejects(pool.run(matrix(8, 3)), isUnavailable);
});

test('reports an input the model rejects as bad input naming the model', async () => {
  const pool = await SessionPool.open(busy, { workers: 1 });
  try {
    await assert.rejects(
      pool.run({ x: { type: 'float32', data: new Float32Array(6), dims: [1, 2, 3] } }),
      (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT' && e.message.includes(busy),
    );
    // The worker survives the error.
    const ok = await pool.run(matrix(4, 1));
    assert.deepEqual(ok['y']!.dims, [1, 4, 4]);
  } finally {
    await pool.close();
  }
});

test('starts its worker from the compiled worker.js, or from worker.ts under tsx', () => {
  const entry = workerEntry();
  if (import.meta.url.endsWith('.ts')) {
    assert.equal(entry.eval, true);
    assert.match(String(entry.script), /worker\.ts/);
  } else {
    assert.equal(entry.eval, false);
    assert.ok(existsSync(fileURLToPath(entry.script as URL)));
  }
});
