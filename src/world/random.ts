/**
 * A small seeded pseudo-random number generator for the reference world. Everything random in the
 * world (scene layout, conditions, timelines, splits) draws from an `Rng`, never from Math.random, so
 * that one seed always gives the same world.
 *
 * The generator is a 32-bit counter-based mixer: the state advances by a fixed odd constant (a Weyl
 * sequence) and each output is the state passed through an avalanche mixer (xor-shift and multiply
 * rounds). It is fast, has a period of 2^32 per stream and is plenty for procedural content; it is
 * not for cryptography. Independent streams come from `derive`/`fork`, which hash a label into a new
 * seed, so that adding a draw in one stream never shifts the numbers of another.
 */

const GOLDEN = 0x9e3779b9;

/** Mixes a 32-bit value into a well-scrambled 32-bit value (an avalanche function). */
export function mix32(value: number): number {
  let z = value >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d);
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Hashes a string to 32 bits (FNV-1a followed by the mixer). */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/**
 * Reduces a user seed (any safe integer, or a string) to a 32-bit seed. Integers in 0..2^32-1 are
 * their own seed; other integers fold their high part and sign in; strings are hashed.
 */
export function normalizeSeed(seed: number | string): number {
  if (typeof seed === 'string') return hashString(seed);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${String(seed)}`);
  if (seed >= 0 && seed <= 0xffffffff) return seed;
  const magnitude = Math.abs(seed);
  const low = magnitude % 0x100000000;
  const high = Math.floor(magnitude / 0x100000000);
  return (low ^ mix32(high + (seed < 0 ? 0x5bd1e995 : 0))) >>> 0;
}

/** A seed for the sub-stream `label` of `seed` (e.g. one per scene: derive(root, `scene:${i}`)). */
export function deriveSeed(seed: number, label: string | number): number {
  const l = typeof label === 'number' ? mix32(label + 0x6a09e667) : hashString(label);
  return mix32((seed >>> 0) ^ mix32(l + GOLDEN));
}

/** One weighted choice: a value and its non-negative weight. */
export interface Weighted<T> {
  value: T;
  weight: number;
}

/** The seeded generator. */
export class Rng {
  private state: number;

  /** Creates a generator from a 32-bit seed (use normalizeSeed for user input). */
  constructor(seed: number) {
    this.state = mix32((seed >>> 0) ^ 0x2545f491);
  }

  /** The next raw 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + GOLDEN) >>> 0;
    return mix32(this.state);
  }

  /** A float uniformly in [0, 1), with 32 bits of resolution. */
  next(): number {
    return this.nextU32() / 0x100000000;
  }

  /** A float uniformly in [min, max). */
  range(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** An integer uniformly in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** +1 or -1 with equal probability. */
  sign(): 1 | -1 {
    return this.next() < 0.5 ? 1 : -1;
  }

  /** A normally distributed number (Box-Muller), mean and standard deviation given. */
  normal(mean = 0, sd = 1): number {
    const u = 1 - this.next(); // (0, 1]
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** One element of a non-empty array, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** One value drawn with probability proportional to its weight (weights >= 0, sum > 0). */
  weighted<T>(choices: ReadonlyArray<Weighted<T>>): T {
    let total = 0;
    for (const c of choices) total += c.weight;
    if (!(total > 0)) throw new RangeError('weighted choice needs a positive total weight');
    let r = this.next() * total;
    let last: T | undefined;
    for (const c of choices) {
      if (c.weight <= 0) continue;
      last = c.value;
      r -= c.weight;
      if (r < 0) return c.value;
    }
    return last as T;
  }

  /** Shuffles an array in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** An independent generator for the sub-stream `label`; does not advance this one. */
  fork(label: string | number): Rng {
    return new Rng(deriveSeed(this.state, label));
  }
}
