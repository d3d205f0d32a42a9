/**
 * Opening a store by URI. Each URI scheme maps to an opener; `file://` (and a plain path) open the
 * filesystem store. Later backends register their scheme with registerStoreScheme; until then a
 * known future scheme (s3://, oci://) fails with UNAVAILABLE naming it.
 */
import { DrivegateError, badInput } from '../core/errors.js';
import { openFsStore } from './fs.js';
import type { ArtifactStore } from './types.js';

/** Opens a store for a parsed URI. */
export type StoreOpener = (uri: URL) => ArtifactStore | Promise<ArtifactStore>;

const openers = new Map<string, StoreOpener>([['file', (uri) => openFsStore(uri.href)]]);

/** Schemes that are planned but not implemented yet, with what they are. */
const PLANNED: Record<string, string> = {
  s3: 'S3-compatible object storage',
  oci: 'OCI registry (ORAS artifacts)',
};

/** Registers (or replaces) the opener of a URI scheme, e.g. `s3`. */
export function registerStoreScheme(scheme: string, opener: StoreOpener): void {
  openers.set(scheme.toLowerCase(), opener);
}

/** The URI schemes that can be opened now. */
export function storeSchemes(): string[] {
  return [...openers.keys()].sort();
}

/**
 * Opens the store at `uri`: `file:///abs/path`, a plain path, or a registered scheme. Fails with
 * UNAVAILABLE for a planned scheme that is not implemented and BAD_INPUT for an unknown one.
 */
export async function openStore(uri: string): Promise<ArtifactStore> {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri);
  if (m === null) return openFsStore(uri);
  const scheme = (m[1] ?? '').toLowerCase();
  const opener = openers.get(scheme);
  if (opener !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch (err) {
      throw badInput('invalid store URI', { field: 'store.uri', found: JSON.stringify(uri), cause: err });
    }
    return opener(parsed);
  }
  const planned = PLANNED[scheme];
  if (planned !== undefined) {
    throw new DrivegateError('UNAVAILABLE', `the ${scheme}:// store (${planned}) is not available yet`, {
      field: 'store.uri',
      expected: `a scheme of ${storeSchemes().join(', ')} (or a plain path)`,
      found: JSON.stringify(uri),
    });
  }
  throw badInput('unknown store URI scheme', {
    field: 'store.uri',
    expected: `a scheme of ${storeSchemes().join(', ')} (or a plain path)`,
    found: JSON.stringify(uri),
  });
}
