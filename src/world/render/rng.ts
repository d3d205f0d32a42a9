/**
 * Integer hashing and fast math for rendering: textures and scenery placement that must not change
 * from frame to frame are pure functions of integer coordinates (hash3); per-pixel exponentials use
 * a table (expNeg). Sequences (noise, rain, snow) use the world's Rng (../random.ts).
 */

/** A well-mixed 32-bit hash of three integers (same inputs, same output, everywhere). */
export function hash3(a: number, b: number, c: number): number {
  let h =
    Math.imul(a | 0, 0x27d4eb2d) ^
    Math.imul((b | 0) + 0x165667b1, 0x9e3779b1) ^
    Math.imul((c | 0) + 0x6a09e667, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}

const EXP_SCALE = 256;
const EXP_MAX = 16;
const EXP_TABLE = (() => {
  const t = new Float32Array(EXP_MAX * EXP_SCALE + 2);
  for (let i = 0; i < t.length; i++) t[i] = Math.exp(-i / EXP_SCALE);
  return t;
})();

/**
 * exp(-x) for x >= 0 by table lookup with linear interpolation (absolute error < 1e-6 plus float32 rounding; 0 beyond 16).
 * Deterministic and several times faster than Math.exp in per-pixel loops.
 */
export function expNeg(x: number): number {
  if (!(x < EXP_MAX)) return 0;
  if (x <= 0) return 1;
  const f = x * EXP_SCALE;
  const k = f | 0;
  const a = EXP_TABLE[k]!;
  return a + (EXP_TABLE[k + 1]! - a) * (f - k);
}
