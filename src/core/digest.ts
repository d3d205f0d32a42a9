/** sha256 digests of buffers, strings, files and canonical JSON. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Hex sha256 of a buffer or string. */
export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Hex sha256 and size of a file, streamed (never read whole). */
export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const buf = chunk as Buffer;
    size += buf.length;
    hash.update(buf);
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * JSON with object keys sorted at every level, so that equal values give equal bytes (and digests).
 * Arrays keep their order; undefined members are dropped as JSON.stringify drops them.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Hex sha256 of a value's canonical JSON. */
export function digestOf(value: unknown): string {
  return sha256(canonicalJson(value));
}

/** True when `s` is a 64-char lowercase hex sha256. */
export function isSha256(s: string): boolean {
  return /^[0-9a-f]{64}$/.test(s);
}
