/**
 * Run seeds and run ids of a sweep. Seed k of variant v is derived from the variant id and k alone
 * (sha256 of `<variant id>#<k>`, first 4 bytes), so a run draws the same randomization whichever
 * worker runs it, in whatever order, in whichever sweep, and candidate and baseline see the same
 * seeds.
 */
import { createHash } from 'node:crypto';

/** The seed of run `k` (0-based) of a variant: an unsigned 32-bit integer. */
export function runSeed(variantId: string, k: number): number {
  return createHash('sha256').update(`${variantId}#${k}`).digest().readUInt32BE(0);
}

/** Which side of the comparison a run belongs to. */
export type RunRole = 'candidate' | 'baseline';

/** The id of a run in a sweep: `<role>:<variant id>#<k>` (unique across candidate and baseline). */
export function runIdOf(role: RunRole, variantId: string, k: number): string {
  return `${role}:${variantId}#${k}`;
}
