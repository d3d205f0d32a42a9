/**
 * The ArtifactStore contract: content-addressed blobs (by sha256) plus named refs pointing at them.
 * Every implementation (filesystem now; S3 and OCI later) satisfies this interface and passes the
 * contract suite in contract.ts. Helpers shared by every implementation (digest parsing, ref-name
 * validation) live here too.
 */
import type { Readable } from 'node:stream';
import { isSha256 } from '../core/digest.js';
import { badInput } from '../core/errors.js';

/** A stored blob: its digest (`sha256:<hex>`) and size in bytes. */
export interface BlobInfo {
  digest: string;
  size: number;
}

/** A named ref and the digest it points at. */
export interface RefEntry {
  name: string;
  digest: string;
}

/** Options of the put methods. */
export interface PutOptions {
  /** When given, the put fails with INTEGRITY (and stores nothing) if the content's digest differs. */
  expectedDigest?: string;
}

/** What fsck found (and, with repair, what it did). */
export interface FsckReport {
  /** Blobs examined and their total size. */
  blobs: number;
  bytes: number;
  /** Refs examined. */
  refs: number;
  /** Blobs whose content does not match their digest (or files that are not blobs), by location. */
  corrupt: { digest: string; location: string; reason: string }[];
  /** Refs pointing at a blob that does not exist. */
  dangling: RefEntry[];
  /** Refs whose content is not a digest. */
  badRefs: { name: string; reason: string }[];
  /** Temp files left by writers that died (or are older than a day). */
  strayTemps: { location: string; bytes: number }[];
  /** With repair: stray temps removed and corrupt blobs moved aside. */
  repaired: { removedTemps: number; quarantined: string[] };
  /** True when there is nothing corrupt, dangling or bad (stray temps are harmless). */
  ok: boolean;
}

/** Options of fsck. */
export interface FsckOptions {
  /** Remove stray temps and move corrupt blobs aside (dangling refs are only reported). */
  repair?: boolean;
  /** Re-hash every blob (default true); false checks structure only. */
  verify?: boolean;
}

/**
 * A content-addressed artifact store. Blobs are immutable and named by `sha256:<hex>`; every read
 * is verified against the digest (a mismatch fails with INTEGRITY). Refs are mutable names
 * (`models/det/1.2.0/model.onnx`) that can only point at blobs that exist.
 */
export interface ArtifactStore {
  /** The store's location, as a URI. */
  readonly uri: string;
  /** Stores a buffer or string. */
  put(data: Uint8Array | string, options?: PutOptions): Promise<BlobInfo>;
  /** Stores a stream (or any async iterable of chunks), hashing while writing (never buffered whole). */
  putStream(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options?: PutOptions,
  ): Promise<BlobInfo>;
  /** Stores a file, streamed. */
  putFile(path: string, options?: PutOptions): Promise<BlobInfo>;
  /** Reads a blob whole, verified. NOT_FOUND when absent, INTEGRITY when damaged. */
  get(digest: string): Promise<Buffer>;
  /** A stream of a blob that fails with INTEGRITY at the end if the content does not match. */
  getStream(digest: string): Promise<Readable>;
  /** Writes a blob to a file atomically, verified first (a damaged blob leaves no file). */
  getToFile(digest: string, path: string): Promise<BlobInfo>;
  /** True when the blob exists. */
  has(digest: string): Promise<boolean>;
  /** The blob's size, or undefined when absent. */
  stat(digest: string): Promise<BlobInfo | undefined>;
  /** Points `name` at `digest` (NOT_FOUND when the blob does not exist). */
  setRef(name: string, digest: string): Promise<void>;
  /** The digest `name` points at, or undefined. */
  getRef(name: string): Promise<string | undefined>;
  /** Every ref whose name starts with `prefix`, sorted by name. */
  listRefs(prefix?: string): Promise<RefEntry[]>;
  /** Removes a ref; false when it did not exist. */
  deleteRef(name: string): Promise<boolean>;
  /** Checks the store (and repairs what can be repaired safely). */
  fsck(options?: FsckOptions): Promise<FsckReport>;
}

/** The longest ref name accepted. */
export const MAX_REF_NAME = 512;

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._+=@-]*$/;

/**
 * Checks a ref name: slash-separated segments of [A-Za-z0-9._+=@-], none empty, none starting with
 * a dot (so no `.`/`..` and no hidden files), no leading slash, at most 512 characters. Throws
 * BAD_INPUT naming the offending part.
 */
export function validateRefName(name: string): string {
  const fail = (found: string): never => {
    throw badInput('invalid ref name', {
      field: 'ref',
      expected:
        'slash-separated segments of letters, digits and ._+=@- (not starting with a dot), e.g. models/det/1.0/model.onnx',
      found,
    });
  };
  if (typeof name !== 'string' || name.length === 0) return fail('an empty name');
  if (name.length > MAX_REF_NAME) return fail(`${name.length} characters (at most ${MAX_REF_NAME})`);
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name))
    return fail(`an absolute path ${JSON.stringify(name)}`);
  for (const seg of name.split('/')) {
    if (seg === '..' || seg === '.') return fail(`path traversal in ${JSON.stringify(name)}`);
    if (!SEGMENT.test(seg)) return fail(JSON.stringify(name));
  }
  return name;
}

/**
 * Checks a ref-name prefix for listing: like a ref name but may be empty and may end with '/' or a
 * partial segment.
 */
export function validateRefPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  const body = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  validateRefName(body);
  return prefix;
}

/**
 * Parses a digest given as `sha256:<hex>` (or bare 64-char hex) and returns the hex. Throws
 * BAD_INPUT otherwise.
 */
export function digestHex(digest: string): string {
  const hex = digest.startsWith('sha256:') ? digest.slice(7) : digest;
  if (!isSha256(hex)) {
    throw badInput('invalid digest', {
      field: 'digest',
      expected: 'sha256:<64 lowercase hex digits>',
      found: JSON.stringify(digest.length > 80 ? digest.slice(0, 80) + '…' : digest),
    });
  }
  return hex;
}

/** The canonical `sha256:<hex>` form of a digest. */
export function normalizeDigest(digest: string): string {
  return `sha256:${digestHex(digest)}`;
}

/** True when `s` looks like a digest (`sha256:<hex>` or bare hex) rather than a ref name. */
export function looksLikeDigest(s: string): boolean {
  return /^(sha256:)?[0-9a-f]{64}$/.test(s);
}
