/**
 * The ArtifactStore contract suite: the behaviour every store implementation must have. A test file
 * per implementation calls `storeContract(name, factory)`; the factory makes a fresh, empty store and
 * knows how to damage one of its blobs (to check that reads are verified).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '../core/digest.js';
import { rejectsWith } from '../core/testing.js';
import type { ArtifactStore } from './types.js';

/** A fresh store for one test, with hooks the suite needs. */
export interface StoreUnderTest {
  store: ArtifactStore;
  /** Overwrites the stored bytes of a blob ('corrupt') or removes it ('delete'), behind the store's back. */
  damage(digest: string, how: 'corrupt' | 'delete'): Promise<void>;
  /** Removes everything the store created. */
  cleanup(): Promise<void>;
}

/** Makes a fresh, empty store. */
export type StoreFactory = () => Promise<StoreUnderTest>;

async function withStore(factory: StoreFactory, fn: (s: StoreUnderTest) => Promise<void>): Promise<void> {
  const s = await factory();
  try {
    await fn(s);
  } finally {
    await s.cleanup();
  }
}

async function* chunks(parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) {
    await new Promise((r) => setImmediate(r));
    yield Buffer.from(p);
  }
}

/** Registers the contract tests for a store implementation named `name`. */
export function storeContract(name: string, factory: StoreFactory): void {
  describe(`ArtifactStore contract: ${name}`, () => {
    test('put returns the sha256 digest and size, and get returns the same bytes', () =>
      withStore(factory, async ({ store }) => {
        const info = await store.put('hello drivegate');
        assert.deepEqual(info, { digest: `sha256:${sha256('hello drivegate')}`, size: 15 });
        assert.equal(await store.has(info.digest), true);
        assert.deepEqual(await store.stat(info.digest), info);
        assert.equal((await store.get(info.digest)).toString(), 'hello drivegate');
        assert.equal((await store.get(info.digest.slice(7))).toString(), 'hello drivegate');
      }));

    test('put of the same content twice is idempotent, and an empty blob is a blob', () =>
      withStore(factory, async ({ store }) => {
        const a = await store.put(Buffer.from('same'));
        const b = await store.put('same');
        assert.deepEqual(a, b);
        const empty = await store.put('');
        assert.equal(empty.size, 0);
        assert.equal((await store.get(empty.digest)).length, 0);
      }));

    test('a stream and a file give the digest of their concatenated bytes', () =>
      withStore(factory, async ({ store }) => {
        const s = await store.putStream(chunks(['ab', 'cd', '', 'ef']));
        assert.equal(s.digest, `sha256:${sha256('abcdef')}`);
        const dir = await mkdtemp(join(tmpdir(), 'dg-contract-'));
        try {
          const file = join(dir, 'in.bin');
          await writeFile(file, 'abcdef');
          assert.deepEqual(await store.putFile(file), s);
          await rejectsWith(store.putFile(join(dir, 'missing.bin')), 'NOT_FOUND');
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }));

    test('a put whose content differs from the expected digest fails with INTEGRITY and stores nothing', () =>
      withStore(factory, async ({ store }) => {
        const wrong = `sha256:${sha256('other')}`;
        await rejectsWith(store.put('content', { expectedDigest: wrong }), 'INTEGRITY');
        assert.equal(await store.has(`sha256:${sha256('content')}`), false);
        const ok = await store.put('content', { expectedDigest: `sha256:${sha256('content')}` });
        assert.equal(ok.size, 7);
      }));

    test('an absent blob is NOT_FOUND on get, undefined on stat, false on has', () =>
      withStore(factory, async ({ store }) => {
        const d = `sha256:${sha256('never stored')}`;
        await rejectsWith(store.get(d), 'NOT_FOUND');
        await rejectsWith(store.getStream(d), 'NOT_FOUND');
        assert.equal(await store.stat(d), undefined);
        assert.equal(await store.has(d), false);
      }));

    test('a malformed digest is BAD_INPUT', () =>
      withStore(factory, async ({ store }) => {
        await rejectsWith(store.get('sha256:xyz'), 'BAD_INPUT');
        await rejectsWith(store.has('../../etc/passwd'), 'BAD_INPUT');
        await rejectsWith(store.setRef('a', 'md5:abc'), 'BAD_INPUT');
      }));

    test('every read of a damaged blob fails with INTEGRITY, leaves no output file, and fsck reports it', () =>
      withStore(factory, async (s) => {
        const { store } = s;
        const info = await store.put('precious bytes');
        await s.damage(info.digest, 'corrupt');
        await rejectsWith(store.get(info.digest), 'INTEGRITY');
        const stream = await store.getStream(info.digest);
        await rejectsWith(
          (async () => {
            for await (const _ of stream) void _;
          })(),
          'INTEGRITY',
        );
        const dir = await mkdtemp(join(tmpdir(), 'dg-contract-'));
        try {
          await rejectsWith(store.getToFile(info.digest, join(dir, 'out.bin')), 'INTEGRITY');
          assert.deepEqual(await readdir(dir), []);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
        const report = await store.fsck();
        assert.equal(report.ok, false);
        assert.deepEqual(
          report.corrupt.map((c) => c.digest),
          [info.digest],
        );
        const repaired = await store.fsck({ repair: true });
        assert.equal(repaired.repaired.quarantined.length, 1);
        assert.equal(await store.has(info.digest), false);
        await store.put('precious bytes');
        assert.equal((await store.fsck()).ok, true);
      }));

    test('getToFile writes the verified blob to a file', () =>
      withStore(factory, async ({ store }) => {
        const info = await store.put('to a file');
        const dir = await mkdtemp(join(tmpdir(), 'dg-contract-'));
        try {
          const out = join(dir, 'sub', 'out.txt');
          assert.deepEqual(await store.getToFile(info.digest, out), info);
          assert.equal(await readFile(out, 'utf8'), 'to a file');
          assert.deepEqual(await readdir(join(dir, 'sub')), ['out.txt']);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }));

    test('refs point at blobs, list by prefix in name order, move and delete', () =>
      withStore(factory, async ({ store }) => {
        assert.deepEqual(await store.listRefs(), []);
        const a = await store.put('model a');
        const b = await store.put('model b');
        await store.setRef('models/det/1.0.0/model.onnx', a.digest);
        await store.setRef('models/det/1.1.0/model.onnx', b.digest);
        await store.setRef('models/seg/0.1.0/model.onnx', b.digest.slice(7));
        await store.setRef('latest', a.digest);
        assert.equal(await store.getRef('models/det/1.0.0/model.onnx'), a.digest);
        assert.equal(await store.getRef('models/seg/0.1.0/model.onnx'), b.digest);
        assert.deepEqual(await store.listRefs('models/det/'), [
          { name: 'models/det/1.0.0/model.onnx', digest: a.digest },
          { name: 'models/det/1.1.0/model.onnx', digest: b.digest },
        ]);
        assert.deepEqual(
          (await store.listRefs('models/d')).map((r) => r.name),
          ['models/det/1.0.0/model.onnx', 'models/det/1.1.0/model.onnx'],
        );
        assert.equal((await store.listRefs()).length, 4);
        await store.setRef('latest', b.digest);
        assert.equal(await store.getRef('latest'), b.digest);
        assert.equal(await store.deleteRef('models/det/1.0.0/model.onnx'), true);
        assert.equal(await store.deleteRef('models/det/1.0.0/model.onnx'), false);
        assert.equal(await store.getRef('models/det/1.0.0/model.onnx'), undefined);
        assert.equal(await store.getRef('models/det'), undefined);
        assert.deepEqual(
          (await store.listRefs('models/')).map((r) => r.name),
          ['models/det/1.1.0/model.onnx', 'models/seg/0.1.0/model.onnx'],
        );
        assert.equal((await store.fsck()).ok, true);
      }));

    test('a ref can only point at a blob that exists', () =>
      withStore(factory, async ({ store }) => {
        await rejectsWith(store.setRef('x', `sha256:${sha256('absent')}`), 'NOT_FOUND');
        assert.equal(await store.getRef('x'), undefined);
      }));

    test('rejects path traversal, absolute and malformed ref names with BAD_INPUT', () =>
      withStore(factory, async ({ store }) => {
        const info = await store.put('x');
        for (const bad of [
          '../escape',
          'a/../../b',
          '/etc/passwd',
          'a//b',
          'a/',
          '.hidden',
          'a/./b',
          'with space',
          'back\\slash',
          'C:evil',
          '',
          'x'.repeat(513),
        ]) {
          const e = await rejectsWith(store.setRef(bad, info.digest), 'BAD_INPUT');
          assert.equal(e.location.field, 'ref');
          await rejectsWith(store.getRef(bad), 'BAD_INPUT');
        }
        await rejectsWith(store.listRefs('../'), 'BAD_INPUT');
        await rejectsWith(store.deleteRef('../x'), 'BAD_INPUT');
      }));

    test('fsck reports a ref whose blob disappeared as dangling, and a healthy store as ok', () =>
      withStore(factory, async (s) => {
        const { store } = s;
        const keep = await store.put('keep');
        const lose = await store.put('lose');
        await store.setRef('keep', keep.digest);
        await store.setRef('lose', lose.digest);
        const healthy = await store.fsck();
        assert.equal(healthy.ok, true);
        assert.equal(healthy.blobs, 2);
        assert.equal(healthy.refs, 2);
        await s.damage(lose.digest, 'delete');
        const report = await store.fsck();
        assert.equal(report.ok, false);
        assert.deepEqual(report.dangling, [{ name: 'lose', digest: lose.digest }]);
      }));
  });
}
