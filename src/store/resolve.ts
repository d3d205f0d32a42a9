/** Resolving what a user typed (a digest or a ref name) to a digest. */
import { DrivegateError } from '../core/errors.js';
import { looksLikeDigest, normalizeDigest } from './types.js';
import type { ArtifactStore } from './types.js';

/**
 * The digest that `digestOrRef` names: a `sha256:<hex>` (or bare hex) digest as it is, otherwise the
 * target of the ref of that name. NOT_FOUND when the ref does not exist.
 */
export async function resolveBlob(store: ArtifactStore, digestOrRef: string): Promise<string> {
  if (looksLikeDigest(digestOrRef)) return normalizeDigest(digestOrRef);
  const digest = await store.getRef(digestOrRef);
  if (digest === undefined) {
    throw new DrivegateError('NOT_FOUND', `no ref named ${digestOrRef} in the store`, {
      field: 'ref',
      expected: 'a digest (sha256:<hex>) or an existing ref name',
      found: JSON.stringify(digestOrRef),
    });
  }
  return digest;
}
