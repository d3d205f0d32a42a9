import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng, deriveSeed, hashString, normalizeSeed } from './random.js';

test('the same seed gives the same sequence, a different seed a different one', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const sa = Array.from({ length: 100 }, () => a.nextU32());
  const sb = Array.from({ length: 100 }, () => b.nextU32());
  const sc = Array.from({ length: 100 }, () => c.nextU32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test('floats lie in [0, 1) and are roughly uniform', () => {
  const r = new Rng(7);
  const bins = new Array<number>(10).fill(0);
  for (let i = 0; i < 20000; i++) {
    const v = r.next();
    assert.ok(v >= 0 && v < 1);
    bins[Math.floor(v * 10)]!++;
  }
  for (const b of bins) assert.ok(b > 1800 && b < 2200, `bin count ${b}`);
});

test('int, range, pick and weighted stay within their bounds and respect zero weights', () => {
  const r = new Rng(1);
  for (let i = 0; i < 1000; i++) {
    const n = r.int(3, 5);
    assert.ok(n >= 3 && n <= 5 && Number.isInteger(n));
    const x = r.range(-2, 2);
    assert.ok(x >= -2 && x < 2);
    assert.ok(['a', 'b'].includes(r.pick(['a', 'b'])));
    assert.equal(
      r.weighted([
        { value: 'never', weight: 0 },
        { value: 'always', weight: 1 },
      ]),
      'always',
    );
  }
  const counts = { a: 0, b: 0 };
  for (let i = 0; i < 10000; i++) {
    counts[
      r.weighted([
        { value: 'a' as const, weight: 0.8 },
        { value: 'b' as const, weight: 0.2 },
      ])
    ]++;
  }
  assert.ok(counts.a > 7600 && counts.a < 8400, `a drawn ${counts.a} times`);
  assert.throws(() => r.weighted([{ value: 1, weight: 0 }]), RangeError);
});

test('derived seeds differ per label and do not depend on draws of the parent', () => {
  assert.notEqual(deriveSeed(1, 0), deriveSeed(1, 1));
  assert.notEqual(deriveSeed(1, 'a'), deriveSeed(2, 'a'));
  assert.equal(deriveSeed(5, 'scene'), deriveSeed(5, 'scene'));
  assert.notEqual(hashString('ab'), hashString('ba'));
});

test('small non-negative seeds are their own seed; others fold to 32 bits', () => {
  assert.equal(normalizeSeed(0), 0);
  assert.equal(normalizeSeed(4294967295), 4294967295);
  const big = normalizeSeed(2 ** 40 + 5);
  assert.ok(big >= 0 && big <= 0xffffffff);
  assert.notEqual(normalizeSeed(-5), normalizeSeed(5));
  assert.throws(() => normalizeSeed(1.5), RangeError);
});
