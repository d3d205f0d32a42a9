import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../core/random.js';
import {
  HISTOGRAM_BINS,
  HISTOGRAM_SAMPLES,
  MAX_HISTOGRAM_BINS,
  calibratedAmax,
  emptyStats,
  entropyAmax,
  observe,
  percentileAmax,
  symmetricScale,
  type TensorStats,
} from './calibrate.js';

function statsOf(...batches: Float32Array[]): TensorStats {
  const s = emptyStats();
  for (const b of batches) observe(s, b);
  return s;
}

function gaussian(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return new Float32Array(n).map(() => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
}

test('min/max and the |x| histogram cover every value across batches; zeros and NaN are kept out', () => {
  const s = statsOf(new Float32Array([-3, 0, 1]), new Float32Array([2, 2.5, Number.NaN]));
  assert.equal(s.min, -3);
  assert.equal(s.max, 2.5);
  assert.equal(s.absMax, 3);
  assert.equal(s.count, 6);
  assert.equal(s.zeros, 1);
  assert.equal(s.width, 3 / HISTOGRAM_BINS, 'the first batch sets the bin width');
  assert.equal(s.bins, HISTOGRAM_BINS);
  const h = s.histogram.subarray(0, s.bins);
  assert.equal(
    h.reduce((a, b) => a + b, 0),
    4,
  );
  assert.equal(h[HISTOGRAM_BINS - 1], 1, '|x| = absMax lands in the last bin');
  assert.equal(h[Math.floor((2 / 3) * HISTOGRAM_BINS)], 1);
});

test('a batch larger than HISTOGRAM_SAMPLES is histogrammed with a fixed stride; min/max see every value', () => {
  const data = new Float32Array(HISTOGRAM_SAMPLES * 4).fill(1);
  data[3] = 7; // not on the stride of 4
  const s = statsOf(data);
  assert.equal(s.absMax, 7);
  assert.equal(s.count, HISTOGRAM_SAMPLES * 4);
  assert.equal(
    s.histogram.subarray(0, s.bins).reduce((a, b) => a + b, 0),
    HISTOGRAM_SAMPLES,
  );
});

test('a larger value later adds bins of the same width, and past 4096 bins merges pairs (exact counts)', () => {
  const s = statsOf(new Float32Array([1, 0.5]), new Float32Array([1.5]));
  assert.equal(s.width, 1 / HISTOGRAM_BINS);
  assert.equal(s.bins, 3072);
  assert.equal(s.histogram[3071], 1);
  observe(s, new Float32Array([10]));
  assert.ok(s.bins <= MAX_HISTOGRAM_BINS && s.bins > HISTOGRAM_BINS, `bins ${s.bins}`);
  assert.equal(s.width, 8 / HISTOGRAM_BINS, 'width doubled three times');
  assert.equal(
    s.histogram.subarray(0, s.bins).reduce((a, b) => a + b, 0),
    4,
  );
  assert.equal(s.histogram[128], 1, '0.5 lands in bin 0.5 / (8/2048) = 128');
  assert.equal(s.absMax, 10);
});

test('minmax keeps the largest |x|; percentile drops the rare outliers', () => {
  const data = new Float32Array(100_000).map((_, i) => (i % 1000) / 1000);
  data[5] = -50; // one outlier in 100,000
  const s = statsOf(...Array.from({ length: 10 }, (_, k) => data.subarray(k * 10_000, (k + 1) * 10_000)));
  assert.equal(calibratedAmax(s, 'minmax'), 50);
  const p = percentileAmax(s, 99.99);
  assert.ok(p < 1.05 && p >= 0.999, `percentile amax ${p}`);
  assert.equal(percentileAmax(s, 100), 50);
});

test('entropy clips a long-tailed Gaussian below its max but keeps the bulk, and keeps a uniform range', () => {
  const s = statsOf(gaussian(200_000, 3));
  const e = entropyAmax(s);
  assert.ok(e > 2.5 && e < s.absMax, `entropy amax ${e} of ${s.absMax}`);
  const tailed = gaussian(200_000, 4);
  for (let i = 0; i < 20; i++) tailed[i] = 40 + i; // far outliers
  const t = statsOf(tailed);
  const te = entropyAmax(t);
  assert.ok(te < 10, `outliers are clipped: ${te}`);
  const u = statsOf(new Float32Array(100_000).map((_, i) => -1 + (2 * i) / 100_000));
  assert.ok(entropyAmax(u) > 0.9, 'a uniform distribution keeps (nearly) its whole range');
});

test('an all-zero tensor gets amax 0 and scale 1 (as onnxruntime); scale is amax/127 in float32', () => {
  const z = statsOf(new Float32Array(10));
  for (const k of ['minmax', 'percentile', 'entropy'] as const) assert.equal(calibratedAmax(z, k), 0);
  assert.equal(symmetricScale(0), 1);
  assert.equal(symmetricScale(127), 1);
  assert.equal(symmetricScale(1), Math.fround(1 / 127));
});

/** The entropy search written out directly (P, Q as arrays, KL summed bin by bin), as a reference. */
function entropyReference(h: Float64Array, width: number): number {
  const n = h.length;
  const total = h.reduce((a, b) => a + b, 0);
  let best = n;
  let bestKl = Infinity;
  for (let i = 128; i <= n; i++) {
    const p = Array.from(h.subarray(0, i));
    p[i - 1] = (p[i - 1] as number) + h.subarray(i).reduce((a, b) => a + b, 0);
    const q = new Array<number>(i).fill(0);
    for (let level = 0; level < 128; level++) {
      const a = Math.floor((level * i) / 128);
      const b = Math.floor(((level + 1) * i) / 128);
      let sum = 0;
      let nz = 0;
      for (let j = a; j < b; j++) {
        sum += h[j] as number;
        if ((p[j] as number) > 0) nz++;
      }
      for (let j = a; j < b; j++) q[j] = (p[j] as number) > 0 && nz > 0 ? sum / nz : 0;
    }
    const qSum = q.reduce((x, y) => x + y, 0);
    let kl = 0;
    for (let j = 0; j < i; j++) {
      const pj = (p[j] as number) / total;
      if (pj === 0) continue;
      const qj = (q[j] as number) / qSum;
      kl = qj === 0 ? Infinity : kl + pj * Math.log(pj / qj);
    }
    if (kl < bestKl - 1e-12) {
      bestKl = kl;
      best = i;
    }
  }
  return best * width;
}

test('the fast entropy search (prefix sums) picks the same threshold as the bin-by-bin KL search', () => {
  for (const seed of [1, 2, 3]) {
    const d = gaussian(20_000, seed).map((x, i) => (i % 3 === 0 ? Math.max(0, x) : x * (1 + seed)));
    const s = statsOf(d);
    const ref = Math.min(s.absMax, entropyReference(s.histogram.subarray(0, s.bins), s.width));
    assert.ok(
      Math.abs(entropyAmax(s) - ref) <= s.absMax / HISTOGRAM_BINS + 1e-12,
      `seed ${seed}: ${entropyAmax(s)} vs ${ref}`,
    );
  }
});
