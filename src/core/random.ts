/**
 * mulberry32: a small seeded pseudo-random generator (32-bit state) giving floats in [0, 1), for
 * reproducible synthetic inputs in benchmarks, tests and sanity smokes. Not for cryptography. The
 * reference world has its own generator with independent streams (src/world/random.ts).
 */

/** Returns a generator of floats in [0, 1): the same seed always gives the same sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
