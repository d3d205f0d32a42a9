/** Verified reading: chunks pass through while hashed, and a mismatch at the end fails with INTEGRITY. */
import { createHash } from 'node:crypto';
import { DrivegateError } from '../core/errors.js';

/**
 * Yields the chunks of `source` while hashing them; after the last one, throws INTEGRITY when the
 * sha256 (or the byte count, when `expectedSize` is given) differs from what was expected. `what`
 * names the blob in the error. Lazy: nothing is read until the result is iterated.
 */
export async function* verifiedChunks(
  source: AsyncIterable<Uint8Array>,
  expectedHex: string,
  what: string,
  expectedSize?: number,
): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of source) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    hash.update(buf);
    size += buf.length;
    yield buf;
  }
  const actual = hash.digest('hex');
  if (actual !== expectedHex || (expectedSize !== undefined && size !== expectedSize)) {
    throw new DrivegateError('INTEGRITY', 'stored content does not match its digest', {
      file: what,
      expected: `sha256:${expectedHex}${expectedSize !== undefined ? ` (${expectedSize} bytes)` : ''}`,
      found: `sha256:${actual} (${size} bytes)`,
    });
  }
}
