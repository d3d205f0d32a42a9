/**
 * The filesystem ArtifactStore (the default). Layout under the store folder:
 *
 *   blobs/sha256/<ab>/<hex>   immutable, read-only blob files (ab = first two hex digits)
 *   refs/<name>               a small file holding `sha256:<hex>\n`
 *   tmp/<host>.<pid>.<rand>.tmp  writes in progress (same filesystem, so rename is atomic)
 *   quarantine/               corrupt blobs moved aside by fsck --repair
 *
 * Every write goes to a temp file, is fsynced, renamed into place and the folder fsynced, so a killed
 * process leaves either nothing or a complete file (plus at worst a stray temp that fsck removes).
 * A blob is always complete before any ref to it can be written (setRef checks it exists).
 * Concurrent writers of the same blob are safe: each renames identical content onto the same name.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sha256File } from '../core/digest.js';
import { DrivegateError } from '../core/errors.js';
import { isProcessGone } from '../core/procs.js';
import { fsyncDir, listFilesRecursive, tempPathFor } from '../core/fsutil.js';
import { verifiedChunks } from './verify.js';
import { digestHex, normalizeDigest, validateRefName, validateRefPrefix } from './types.js';
import type { ArtifactStore, BlobInfo, FsckOptions, FsckReport, PutOptions, RefEntry } from './types.js';

/** Temp files older than this are stray even when their writer cannot be checked. */
const STRAY_AGE_MS = 24 * 3600 * 1000;
const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '_') || 'host';

/** Opens (lazily creates) a filesystem store at `root` (a folder path or a file:// URI). */
export function openFsStore(root: string): FsStore {
  return new FsStore(root.startsWith('file:') ? fileURLToPath(root) : root);
}

/** The filesystem implementation of ArtifactStore. */
export class FsStore implements ArtifactStore {
  readonly uri: string;
  readonly root: string;

  /** A store rooted at the folder `root` (created on first write). */
  constructor(root: string) {
    this.root = root;
    this.uri = pathToFileURL(root).href;
  }

  /** The path of a blob file. */
  blobPath(digest: string): string {
    const hex = digestHex(digest);
    return join(this.root, 'blobs', 'sha256', hex.slice(0, 2), hex);
  }

  private refPath(name: string): string {
    return join(this.root, 'refs', ...validateRefName(name).split('/'));
  }

  private async newTemp(): Promise<{ path: string; handle: FileHandle }> {
    const dir = join(this.root, 'tmp');
    await fs.mkdir(dir, { recursive: true });
    const path = join(dir, `${HOST}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`);
    return { path, handle: await fs.open(path, 'wx', 0o444) };
  }

  /** Stores a buffer or string. */
  async put(data: Uint8Array | string, options: PutOptions = {}): Promise<BlobInfo> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    return this.putStream([buf], options);
  }

  /** Stores a file, streamed. */
  async putFile(path: string, options: PutOptions = {}): Promise<BlobInfo> {
    let stream: Readable;
    try {
      const handle = await fs.open(path, 'r');
      stream = handle.createReadStream({ highWaterMark: 1 << 20 });
    } catch (err) {
      throw notFoundFile(path, err);
    }
    return this.putStream(stream, options);
  }

  /** Stores a stream: written to a temp file while hashed, fsynced, then renamed to its digest. */
  async putStream(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: PutOptions = {},
  ): Promise<BlobInfo> {
    const expected = options.expectedDigest !== undefined ? digestHex(options.expectedDigest) : undefined;
    const { path: tmp, handle } = await this.newTemp();
    let renamed = false;
    try {
      const hash = createHash('sha256');
      let size = 0;
      try {
        for await (const chunk of source) {
          hash.update(chunk);
          size += chunk.length;
          let off = 0;
          while (off < chunk.length) {
            const { bytesWritten } = await handle.write(chunk, off, chunk.length - off);
            off += bytesWritten;
          }
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      const hex = hash.digest('hex');
      if (expected !== undefined && hex !== expected) {
        throw new DrivegateError('INTEGRITY', 'content does not match the expected digest', {
          expected: `sha256:${expected}`,
          found: `sha256:${hex}`,
        });
      }
      const target = this.blobPath(hex);
      const created = await fs.mkdir(dirname(target), { recursive: true });
      // rename(2) replaces atomically; a concurrent writer of the same digest renames identical bytes.
      await fs.rename(tmp, target);
      renamed = true;
      await fsyncDir(dirname(target));
      if (created !== undefined) await fsyncDir(dirname(dirname(target)));
      return { digest: `sha256:${hex}`, size };
    } finally {
      if (!renamed) await fs.rm(tmp, { force: true });
    }
  }

  /** Reads a blob whole, verified. */
  async get(digest: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.getStream(digest)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** A verifying stream of a blob. */
  async getStream(digest: string): Promise<Readable> {
    const path = this.blobPath(digest);
    let handle: FileHandle;
    try {
      handle = await fs.open(path, 'r');
    } catch (err) {
      throw blobNotFound(digest, err);
    }
    const source = handle.createReadStream({ highWaterMark: 1 << 20 });
    return Readable.from(verifiedChunks(source, digestHex(digest), path), { objectMode: false });
  }

  /** Writes a blob to `path` atomically after verifying it. */
  async getToFile(digest: string, path: string): Promise<BlobInfo> {
    const stream = await this.getStream(digest);
    await fs.mkdir(dirname(path), { recursive: true });
    const tmp = tempPathFor(path);
    const handle = await fs.open(tmp, 'wx');
    let size = 0;
    let done = false;
    try {
      try {
        for await (const chunk of stream) {
          const buf = chunk as Buffer;
          size += buf.length;
          await handle.write(buf);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, path);
      done = true;
      await fsyncDir(dirname(path));
      return { digest: normalizeDigest(digest), size };
    } finally {
      if (!done) await fs.rm(tmp, { force: true });
    }
  }

  /** True when the blob exists. */
  async has(digest: string): Promise<boolean> {
    return (await this.stat(digest)) !== undefined;
  }

  /** The blob's size, or undefined when absent. */
  async stat(digest: string): Promise<BlobInfo | undefined> {
    try {
      const st = await fs.stat(this.blobPath(digest));
      return st.isFile() ? { digest: normalizeDigest(digest), size: st.size } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** Points `name` at an existing blob, atomically. */
  async setRef(name: string, digest: string): Promise<void> {
    const path = this.refPath(name);
    const normalized = normalizeDigest(digest);
    if (!(await this.has(normalized))) {
      throw new DrivegateError('NOT_FOUND', `cannot point ref ${name} at a blob that is not in the store`, {
        field: 'digest',
        found: normalized,
      });
    }
    const { path: tmp, handle } = await this.newTemp();
    let renamed = false;
    try {
      try {
        await handle.writeFile(normalized + '\n');
        await handle.sync();
      } finally {
        await handle.close();
      }
      // A concurrent deleteRef may remove an emptied parent folder between mkdir and rename: retry.
      for (let attempt = 0; ; attempt++) {
        try {
          await fs.mkdir(dirname(path), { recursive: true });
          await fs.rename(tmp, path);
          renamed = true;
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' && attempt < 5) continue;
          if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR') {
            throw new DrivegateError('CONFLICT', 'ref name collides with another ref', {
              field: 'ref',
              expected: 'a name that is neither a prefix folder of other refs nor below an existing ref',
              found: JSON.stringify(name),
              cause: err,
            });
          }
          throw err;
        }
      }
      await fsyncDir(dirname(path));
    } finally {
      if (!renamed) await fs.rm(tmp, { force: true });
    }
  }

  /** The digest `name` points at, or undefined. */
  async getRef(name: string): Promise<string | undefined> {
    const path = this.refPath(name);
    let text: string;
    try {
      text = await fs.readFile(path, 'utf8');
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
      throw err;
    }
    return parseRefContent(text, name);
  }

  /** Every ref whose name starts with `prefix`, sorted by name. */
  async listRefs(prefix = ''): Promise<RefEntry[]> {
    validateRefPrefix(prefix);
    const refsRoot = join(this.root, 'refs');
    const cut = prefix.lastIndexOf('/');
    const start = cut < 0 ? refsRoot : join(refsRoot, ...prefix.slice(0, cut).split('/'));
    const out: RefEntry[] = [];
    for (const file of await listFilesRecursive(start)) {
      const name = relative(refsRoot, file).split(sep).join('/');
      if (!name.startsWith(prefix) || name.split('/').some((s) => s.startsWith('.'))) continue;
      try {
        out.push({ name, digest: parseRefContent(await fs.readFile(file, 'utf8'), name) });
      } catch (err) {
        if (isMissing(err)) continue; // deleted while listing
        throw err;
      }
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Removes a ref and the folders it leaves empty. */
  async deleteRef(name: string): Promise<boolean> {
    const path = this.refPath(name);
    try {
      await fs.unlink(path);
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'EISDIR') return false;
      throw err;
    }
    await fsyncDir(dirname(path));
    const refsRoot = join(this.root, 'refs');
    for (let dir = dirname(path); dir !== refsRoot && dir.startsWith(refsRoot); dir = dirname(dir)) {
      try {
        await fs.rmdir(dir);
      } catch {
        break; // not empty (or already gone): stop
      }
    }
    return true;
  }

  /** Checks blobs (re-hashed), refs and temps; with repair removes stray temps and quarantines corrupt blobs. */
  async fsck(options: FsckOptions = {}): Promise<FsckReport> {
    const verify = options.verify ?? true;
    const report: FsckReport = {
      blobs: 0,
      bytes: 0,
      refs: 0,
      corrupt: [],
      dangling: [],
      badRefs: [],
      strayTemps: [],
      repaired: { removedTemps: 0, quarantined: [] },
      ok: true,
    };
    const blobsRoot = join(this.root, 'blobs', 'sha256');
    for (const file of await listFilesRecursive(blobsRoot)) {
      const rel = relative(blobsRoot, file).split(sep);
      const hex = rel[1] ?? '';
      report.blobs++;
      if (rel.length !== 2 || !/^[0-9a-f]{64}$/.test(hex) || rel[0] !== hex.slice(0, 2)) {
        report.corrupt.push({ digest: '', location: file, reason: 'not a blob name' });
        continue;
      }
      const st = await fs.stat(file);
      report.bytes += st.size;
      if (!verify) continue;
      const actual = (await sha256File(file)).sha256;
      if (actual !== hex) {
        report.corrupt.push({
          digest: `sha256:${hex}`,
          location: file,
          reason: `content hashes to sha256:${actual}`,
        });
      }
    }
    const refsRoot = join(this.root, 'refs');
    for (const file of await listFilesRecursive(refsRoot)) {
      const name = relative(refsRoot, file).split(sep).join('/');
      report.refs++;
      let digest: string;
      try {
        digest = parseRefContent(await fs.readFile(file, 'utf8'), name);
      } catch (err) {
        report.badRefs.push({ name, reason: err instanceof Error ? err.message : String(err) });
        continue;
      }
      if (!(await this.has(digest))) report.dangling.push({ name, digest });
    }
    const tmpRoot = join(this.root, 'tmp');
    for (const file of await listFilesRecursive(tmpRoot)) {
      let st;
      try {
        st = await fs.stat(file);
      } catch {
        continue; // finished while we looked
      }
      const base = file.slice(tmpRoot.length + 1);
      if (!isStrayTemp(base, st.mtimeMs)) continue;
      report.strayTemps.push({ location: file, bytes: st.size });
      if (options.repair) {
        await fs.rm(file, { force: true });
        report.repaired.removedTemps++;
      }
    }
    if (options.repair) {
      for (const c of report.corrupt) {
        const dest = join(this.root, 'quarantine', `${c.location.split(sep).pop() ?? 'blob'}.${Date.now()}`);
        await fs.mkdir(dirname(dest), { recursive: true });
        await fs.rename(c.location, dest);
        report.repaired.quarantined.push(dest);
      }
    }
    report.ok = report.corrupt.length === 0 && report.dangling.length === 0 && report.badRefs.length === 0;
    return report;
  }
}

/** A temp is stray when its writer (on this host) is gone, or it is older than a day. */
function isStrayTemp(base: string, mtimeMs: number): boolean {
  if (Date.now() - mtimeMs > STRAY_AGE_MS) return true;
  const m = /^(.+)\.(\d+)\.[0-9a-f]+\.tmp$/.exec(base);
  if (m === null) return true;
  // Temp names carry a sanitized host name; map ours back so the liveness check knows it is local.
  return isProcessGone(m[1] === HOST ? hostname() : (m[1] ?? ''), Number(m[2]));
}

function parseRefContent(text: string, name: string): string {
  const digest = text.trim();
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) {
    throw new DrivegateError('INTEGRITY', 'ref file does not hold a digest', {
      record: name,
      expected: 'sha256:<64 hex>',
      found: JSON.stringify(digest.slice(0, 80)),
    });
  }
  return digest;
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function blobNotFound(digest: string, err: unknown): DrivegateError {
  if (!isMissing(err)) return new DrivegateError('INTERNAL', `cannot read blob ${digest}`, { cause: err });
  return new DrivegateError('NOT_FOUND', `blob ${normalizeDigest(digest)} is not in the store`, {
    cause: err,
  });
}

function notFoundFile(path: string, err: unknown): DrivegateError {
  const code = (err as NodeJS.ErrnoException).code ?? 'an error';
  return new DrivegateError(isMissing(err) ? 'NOT_FOUND' : 'BAD_INPUT', 'cannot read file', {
    file: path,
    expected: 'a readable file',
    found: isMissing(err) ? 'no such file' : code,
    cause: err,
  });
}
