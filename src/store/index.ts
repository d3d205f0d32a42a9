/**
 * The artifact store: content-addressed, verified-on-read blobs (sha256) and named refs, behind one
 * ArtifactStore interface. The filesystem implementation is the default; `openStore(uri)` picks
 * the implementation by URI scheme (file:// now; s3:// and oci:// register later). The contract
 * suite in contract.ts is what every implementation must pass (import it from tests only).
 */
export type { ArtifactStore, BlobInfo, RefEntry, PutOptions, FsckOptions, FsckReport } from './types.js';
export {
  validateRefName,
  validateRefPrefix,
  digestHex,
  normalizeDigest,
  looksLikeDigest,
  MAX_REF_NAME,
} from './types.js';
export { FsStore, openFsStore } from './fs.js';
export { openStore, registerStoreScheme, storeSchemes } from './open.js';
export type { StoreOpener } from './open.js';
export { verifiedChunks } from './verify.js';
export { resolveBlob } from './resolve.js';
