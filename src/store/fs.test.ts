import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DrivegateError } from '../core/errors.js';
import { startChildScript } from '../core/testing.js';
import type { ChildScript } from '../core/testing.js';
import { storeContract } from './contract.js';
import { FsStore, openFsStore } from './fs.js';
import { openStore } from './open.js';

storeContract('fs', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dg-store-'));
  const store = new FsStore(join(root, 'store'));
  return {
    store,
    async damage(digest, how) {
      const path = store.blobPath(digest);
      if (how === 'delete') return rm(path);
      const { size } = await stat(path);
      await chmod(path, 0o644);
      await writeFile(path, Buffer.alloc(size, 0x78));
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

function startChild(args: string[]): ChildScript {
  return startChildScript(import.meta.url, 'fs.crash-child', args);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a writer SIGKILLed at different moments leaves only complete blobs and refs to verifying blobs', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dg-crash-'));
  const size = 4 * 1024 * 1024;
  try {
    const store = new FsStore(join(root, 'store'));
    // Kill points: mid-blob, just after a ref, right at the start of the next blob, and later.
    const schedule: [string, number][] = [
      ['begin 0', 40],
      ['done 0', 0],
      ['begin 1', 1],
      ['done 1', 3],
      ['begin 2', 90],
    ];
    let strayTotal = 0;
    for (const [at, delay] of schedule) {
      const child = startChild([store.root, 'loop', String(size)]);
      await child.waitFor(at);
      if (delay > 0) await sleep(delay);
      child.kill();
      assert.equal(await child.exited, null, 'the child was killed, not exited');
      const report = await store.fsck();
      assert.deepEqual(report.corrupt, [], `after kill at "${at}" +${delay}ms`);
      assert.deepEqual(report.dangling, []);
      assert.deepEqual(report.badRefs, []);
      strayTotal += report.strayTemps.length;
      // Every visible blob is complete and verifies; every ref points at one.
      const blobs = join(store.root, 'blobs', 'sha256');
      for (const dir of await readdir(blobs).catch(() => [])) {
        for (const f of await readdir(join(blobs, dir))) {
          assert.equal((await stat(join(blobs, dir, f))).size, size);
        }
      }
      for (const ref of await store.listRefs()) {
        assert.equal((await store.get(ref.digest)).length, size);
      }
      for (const line of child.lines.filter((l) => l.startsWith('done '))) {
        const [, i, digest] = line.split(' ');
        assert.equal(await store.getRef(`crash/${i ?? ''}`), digest);
      }
    }
    assert.ok(strayTotal > 0, 'at least one kill landed mid-write and left a temp');
    const repaired = await store.fsck({ repair: true });
    assert.equal(repaired.repaired.removedTemps, repaired.strayTemps.length);
    assert.deepEqual(await readdir(join(store.root, 'tmp')), []);
    assert.equal((await store.fsck()).ok, true);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('several processes writing the same blob at once all succeed and leave one verifying blob', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dg-conc-'));
  const size = 8 * 1024 * 1024;
  try {
    const store = new FsStore(join(root, 'store'));
    const children = Array.from({ length: 4 }, () => startChild([store.root, 'same', String(size)]));
    const codes = await Promise.all(children.map((c) => c.exited));
    assert.deepEqual(codes, [0, 0, 0, 0], children.map((c) => c.stderr()).join('\n'));
    const digests = new Set(children.map((c) => c.lines.find((l) => l.startsWith('done '))?.split(' ')[2]));
    assert.equal(digests.size, 1);
    const [digest] = [...digests];
    assert.ok(digest !== undefined);
    assert.equal((await store.get(digest)).length, size);
    const refs = await store.listRefs('same/');
    assert.equal(refs.length, 4);
    assert.ok(refs.every((r) => r.digest === digest));
    const report = await store.fsck();
    assert.equal(report.ok, true);
    assert.equal(report.blobs, 1);
    assert.deepEqual(await readdir(join(store.root, 'tmp')), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('opens a filesystem store from a file:// URI or a plain path', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dg-open-'));
  try {
    const a = await openStore(`file://${root}/s`);
    const b = await openStore(join(root, 's'));
    assert.equal(a.uri, b.uri);
    const info = await a.put('shared');
    assert.equal(await b.has(info.digest), true);
    assert.equal(openFsStore(a.uri).root, join(root, 's'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('an s3:// or oci:// store is UNAVAILABLE naming the scheme; an unknown scheme is BAD_INPUT', async () => {
  for (const uri of ['s3://bucket/prefix', 'oci://registry.example/drivegate']) {
    await assert.rejects(openStore(uri), (e: unknown) => {
      assert.ok(e instanceof DrivegateError);
      assert.equal(e.code, 'UNAVAILABLE');
      assert.match(e.message, new RegExp(`${uri.split(':')[0] ?? ''}://`));
      return true;
    });
  }
  await assert.rejects(
    openStore('ftp://x/y'),
    (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT',
  );
});

test('blobs are stored read-only at blobs/sha256/<ab>/<hex>', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dg-layout-'));
  try {
    const store = new FsStore(root);
    const info = await store.put('layout');
    const hex = info.digest.slice(7);
    const st = await stat(join(root, 'blobs', 'sha256', hex.slice(0, 2), hex));
    assert.equal(st.mode & 0o222, 0);
    await store.setRef('a/b', info.digest);
    assert.equal((await stat(join(root, 'refs', 'a', 'b'))).isFile(), true);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a ref name that is a folder of other refs, or below a ref, is a CONFLICT', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dg-conflict-'));
  try {
    const store = new FsStore(root);
    const info = await store.put('c');
    await store.setRef('models/det', info.digest);
    await assert.rejects(
      store.setRef('models/det/1.0', info.digest),
      (e: unknown) => e instanceof DrivegateError && e.code === 'CONFLICT',
    );
    await store.setRef('runs/a/b', info.digest);
    await assert.rejects(
      store.setRef('runs/a', info.digest),
      (e: unknown) => e instanceof DrivegateError && e.code === 'CONFLICT',
    );
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
