import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DrivegateError } from '../core/errors.js';
import { referenceDetectorPath } from '../onnx/testing.js';
import { parseManifest, selectShard, verifyShardImages } from './shard.js';
import type { ManifestEntry } from './shard.js';
import { assertPackageRefused, snapshotFiles, writeFastRecipe } from './testing.js';

const WEATHER = ['clear', 'fog', 'rain', 'snow'];
const TIME = ['day', 'dusk', 'night'];

/** A synthetic manifest: `per(w, t)` records for each weather x time of day. */
function entries(per: (w: string, t: string) => number): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  for (const w of WEATHER) {
    for (const t of TIME) {
      for (let i = 0; i < per(w, t); i++) {
        const line = out.length + 1;
        out.push({ line, image: `img/${w}-${t}-${i}.png`, fields: { weather: w, time_of_day: t } });
      }
    }
  }
  return out;
}

const opts = { balance: ['weather', 'time_of_day'], seed: 1, manifest: 'm.manifest' };

test('the shard takes equal counts per weather x time_of_day stratum, in manifest order', () => {
  const s = selectShard(
    entries(() => 50),
    { ...opts, count: 120 },
  );
  assert.equal(s.count, 120);
  assert.equal(Object.keys(s.strata).length, 12);
  for (const v of Object.values(s.strata)) assert.deepEqual([v.quota, v.taken], [10, 10]);
  assert.deepEqual(s.shortfall, []);
  const lines = s.images.map((i) => i.line);
  assert.deepEqual(
    lines,
    [...lines].sort((a, b) => a - b),
  );
  assert.match(s.images[0]?.stratum ?? '', /^weather=\w+,time_of_day=\w+$/);
});

test('a count that does not divide evenly gives the first strata (by key) one more', () => {
  const s = selectShard(
    entries(() => 50),
    { ...opts, count: 100 },
  );
  const taken = Object.entries(s.strata).map(([k, v]) => [k, v.taken]);
  assert.equal(s.count, 100);
  assert.deepEqual(
    taken.filter(([, n]) => n === 9).map(([k]) => k),
    Object.keys(s.strata).slice(0, 4),
  );
});

test('a stratum short of its share gives its deficit to the others and is reported', () => {
  const s = selectShard(
    entries((w, t) => (w === 'fog' && t === 'night' ? 3 : 50)),
    { ...opts, count: 120 },
  );
  assert.equal(s.count, 120);
  assert.deepEqual(s.shortfall, ['weather=fog,time_of_day=night']);
  assert.equal(s.strata['weather=fog,time_of_day=night']?.taken, 3);
  const others = Object.entries(s.strata).filter(([k]) => k !== 'weather=fog,time_of_day=night');
  assert.equal(
    others.reduce((a, [, v]) => a + v.taken, 0),
    117,
  );
  assert.ok(others.every(([, v]) => v.taken === 10 || v.taken === 11));
});

test('the same seed draws the same images and another seed others; the digest follows the selection', () => {
  const e = entries(() => 30);
  const a = selectShard(e, { ...opts, count: 24 });
  const b = selectShard(e, { ...opts, count: 24 });
  const c = selectShard(e, { ...opts, count: 24, seed: 2 });
  assert.deepEqual(a.images, b.images);
  assert.equal(a.digest, b.digest);
  assert.notDeepEqual(a.images, c.images);
  assert.notEqual(a.digest, c.digest);
});

test('a record without a balancing field or a non-JSON line is BAD_INPUT naming the manifest line', () => {
  assert.throws(
    () => selectShard([{ line: 7, image: 'a.png', fields: { weather: 'fog' } }], { ...opts, count: 1 }),
    (e: unknown) =>
      e instanceof DrivegateError &&
      e.code === 'BAD_INPUT' &&
      e.location.line === 7 &&
      e.location.field === 'time_of_day',
  );
  assert.throws(
    () => parseManifest('{"image":"a.png"}\nnot json\n', 'x.manifest'),
    (e: unknown) => e instanceof DrivegateError && e.location.file === 'x.manifest' && e.location.line === 2,
  );
});

test('a shard image that is missing or differs from its sha256 is BAD_INPUT naming the manifest, line and file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-shard-'));
  try {
    mkdirSync(join(dir, 'img'));
    writeFileSync(join(dir, 'img', 'a.png'), 'not really a png');
    const manifest = join(dir, 'm.manifest');
    const shard = {
      manifest,
      count: 2,
      balance: [],
      seed: 1,
      strata: {},
      shortfall: [],
      digest: '',
      images: [
        { line: 1, image: 'img/a.png', sha256: null, stratum: '' },
        { line: 2, image: 'img/b.png', sha256: null, stratum: '' },
      ],
    };
    await assert.rejects(verifyShardImages(shard), (e: unknown) => {
      return (
        e instanceof DrivegateError &&
        e.code === 'BAD_INPUT' &&
        e.location.file === manifest &&
        e.location.line === 2 &&
        e.location.record === 'img/b.png' &&
        /img\/b\.png/.test(e.expected ?? '')
      );
    });
    const wrong = {
      ...shard,
      images: [{ line: 1, image: 'img/a.png', sha256: '0'.repeat(64), stratum: '' }],
    };
    await assert.rejects(
      verifyShardImages(wrong),
      (e: unknown) => e instanceof DrivegateError && e.location.field === 'sha256' && e.location.line === 1,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('packaging with a calibration shard whose image is missing exits 2 naming the manifest record and file; nothing sealed, store unchanged', () => {
  const home = mkdtempSync(join(tmpdir(), 'dg-pack-shard-'));
  try {
    // A manifest in the reference world's format whose second record's image is gone.
    mkdirSync(join(home, 'data', 'images'), { recursive: true });
    const png = readFileSync(referenceDetectorPath()).subarray(0, 16); // any bytes: never decoded
    const lines: string[] = [];
    for (const [i, w] of ['clear', 'fog', 'rain'].entries()) {
      const image = `images/f${i}.png`;
      if (i !== 1) writeFileSync(join(home, 'data', image), png);
      lines.push(JSON.stringify({ image, weather: w, time_of_day: 'day' }));
    }
    const manifest = join(home, 'data', 'shard.manifest');
    writeFileSync(manifest, lines.join('\n') + '\n');
    const recipe = writeFastRecipe(home, (t) => t, { int8: true });
    const before = snapshotFiles(join(home, 'store'));
    assertPackageRefused(
      import.meta.url,
      home,
      {
        what: 'a shard with a missing image',
        model: referenceDetectorPath(),
        recipe,
        stderr: [/shard\.manifest:2/, /images\/f1\.png/, /missing/],
      },
      join(home, 'out'),
      ['--calibration', manifest],
      before,
    );
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
