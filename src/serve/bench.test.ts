import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertLoopback, formatServeBench, percentile, summarise } from './bench.js';

test('computes nearest-rank percentiles', () => {
  const s = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(s, 50), 50);
  assert.equal(percentile(s, 99), 99);
  assert.equal(percentile([7], 90), 7);
  assert.deepEqual(summarise([4, 1, 3, 2]), { p50: 2, p90: 4, p95: 4, p99: 4, mean: 2.5, max: 4 });
});

test('accepts loopback URLs only', () => {
  for (const u of ['http://127.0.0.1:8000', 'http://localhost:1', 'http://[::1]:8000']) assertLoopback(u);
  for (const u of ['http://10.0.0.1:8000', 'https://127.0.0.1', 'not a url', 'http://example.com']) {
    assert.throws(() => assertLoopback(u), /USAGE|only drives servers on this machine|bad --url/);
  }
});

test('prints a table with one row per concurrency level', () => {
  const text = formatServeBench({
    url: 'http://127.0.0.1:1',
    model: 'm',
    version: null,
    batch: 1,
    duration_s: 1,
    results: [
      {
        concurrency: 1,
        requests: 10,
        errors: 0,
        throughput_rps: 10,
        inferences_per_s: 10,
        latency_ms: { p50: 1, p90: 2, p95: 3, p99: 4, mean: 1.5, max: 4 },
      },
    ],
  });
  assert.match(
    text,
    /concurrency\s+req\/s\s+infer\/s\s+p50 ms\s+p90 ms\s+p95 ms\s+p99 ms\s+errors\n\s+1\s+10\.0\s+10\.0\s+1\.000\s+2\.000\s+3\.000\s+4\.000\s+0/,
  );
});
