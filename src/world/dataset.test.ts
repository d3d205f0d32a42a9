import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { sha256 } from '../core/digest.js';
import { DrivegateError } from '../core/errors.js';
import { validateCoco } from './coco.js';
import { generateDataset } from './dataset.js';
import type { DatasetOptions, ManifestRecord } from './dataset.js';
import { decodePng } from './png.js';
import { SPLITS, checkSplitSeparation } from './splits.js';

const base = mkdtempSync(join(tmpdir(), 'drivegate-world-test-'));
after(() => rmSync(base, { recursive: true, force: true }));

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

function readManifest(path: string): ManifestRecord[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ManifestRecord);
}

const small: Omit<DatasetOptions, 'out'> = { scenes: 6, framesPerScene: 3, seed: 123 };

test('the same seed gives byte-identical output, in this thread or with two workers', async () => {
  const a = join(base, 'a');
  const b = join(base, 'b');
  const sa = await generateDataset({ ...small, out: a, workers: 0 });
  const sb = await generateDataset({ ...small, out: b, workers: 2 });
  assert.equal(sa.digest, sb.digest);
  const files = listFiles(a);
  assert.deepEqual(listFiles(b), files);
  assert.ok(files.length >= 6 * 3 * 2 + 6 + 8);
  for (const f of files) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs`);
  // and another seed gives another dataset
  const sc = await generateDataset({ ...small, seed: 124, out: join(base, 'c'), workers: 0 });
  assert.notEqual(sc.digest, sa.digest);
});

test('COCO files are valid, splits are disjoint by scene and manifests match the files', async () => {
  const out = join(base, 'a');
  const sceneSplit = new Map<string, string>();
  const allImageIds = new Set<number>();
  for (const split of SPLITS) {
    const coco = validateCoco(
      JSON.parse(readFileSync(join(out, `golden_${split}.json`), 'utf8')),
      `golden_${split}.json`,
    );
    assert.deepEqual(
      coco.categories.map((c) => c.name),
      ['car', 'truck', 'pedestrian', 'cyclist'],
    );
    const manifest = readManifest(join(out, `golden_${split}.manifest`));
    assert.deepEqual(
      manifest.map((m) => m.image_id),
      coco.images.map((i) => i.id),
    );
    for (const img of coco.images) {
      assert.ok(!allImageIds.has(img.id), 'image ids are unique across splits');
      allImageIds.add(img.id);
      const png = decodePng(readFileSync(join(out, img.file_name)));
      assert.equal(png.width, img.width);
      assert.equal(png.height, img.height);
    }
    for (const m of manifest) {
      assert.equal(m.split, split);
      assert.equal(sha256(readFileSync(join(out, m.image))), m.sha256, `${m.image} digest`);
      assert.equal(sha256(readFileSync(join(out, m.mask))), m.mask_sha256);
      assert.match(m.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.match(m.geo_cell, new RegExp(`^${m.region}:\\d+:\\d+$`));
      const seen = sceneSplit.get(m.scene_id);
      assert.ok(seen === undefined || seen === split, `${m.scene_id} is in ${seen} and ${split}`);
      sceneSplit.set(m.scene_id, split);
    }
    for (const a of coco.annotations) {
      if (a.iscrowd === 0) assert.ok(typeof a['track_id'] === 'number' && typeof a['occlusion'] === 'number');
    }
    const lanes = readFileSync(join(out, `lanes_${split}.json`), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { raw_file: string; h_samples: number[]; lanes: number[][] });
    assert.deepEqual(
      lanes.map((l) => l.raw_file),
      coco.images.map((i) => i.file_name),
    );
    for (const l of lanes) {
      assert.ok(l.lanes.length >= 2, 'at least the two road edges are seen');
      for (const lane of l.lanes) {
        assert.equal(lane.length, l.h_samples.length);
        assert.ok(lane.every((x) => x === -2 || (Number.isInteger(x) && x >= 0 && x < 192)));
      }
    }
  }
  assert.equal(sceneSplit.size, 6);
  const slices = parseYaml(readFileSync(join(out, 'slices.yaml'), 'utf8')) as {
    slices: Array<{ name: string; weight: number; critical: boolean; filter: object }>;
  };
  const names = slices.slices.map((s) => s.name);
  for (const n of [
    'all',
    'weather=rain',
    'time_of_day=night',
    'pedestrian',
    'occluded',
    'small',
    'night+rain+pedestrian',
  ]) {
    assert.ok(names.includes(n), `slice ${n}`);
  }
  assert.ok(slices.slices.find((s) => s.name === 'pedestrian')?.critical);
  const sceneDoc = JSON.parse(readFileSync(join(out, 'scenes', 'scene-00000.json'), 'utf8')) as {
    frames: Array<{ objects: Array<{ box3d: object; annotated: boolean }>; lanes: unknown[] }>;
    trajectories: Array<{ poses: unknown[] }>;
  };
  assert.equal(sceneDoc.frames.length, 3);
  assert.ok(sceneDoc.trajectories.every((t) => t.poses.length === 3));
  assert.ok(sceneDoc.frames[0]!.lanes.length >= 3);
});

test('twenty scenes generate with geo and time separation and the unknown class', async () => {
  const out = join(base, 'twenty');
  const summary = await generateDataset({
    out,
    scenes: 20,
    framesPerScene: 2,
    seed: 9,
    workers: 2,
    geoSeparation: true,
    minGapSeconds: 300,
    includeUnknown: true,
    unknownRate: 1,
  });
  assert.equal(summary.frames, 40);
  assert.equal(
    SPLITS.reduce((acc, s) => acc + summary.splits[s].scenes, 0),
    20,
  );
  const records = SPLITS.flatMap((s) => readManifest(join(out, `golden_${s}.manifest`)));
  const byScene = new Map<string, ManifestRecord>();
  for (const r of records) if (r.frame === 0) byScene.set(r.scene_id, r);
  const scenes = [...byScene.values()].map((r) => ({
    region: r.region as 'eu' | 'us' | 'asia',
    start: r.unix_time,
    end: r.unix_time + 2 * 0.5,
    geoCell: r.geo_cell,
  }));
  assert.deepEqual(
    checkSplitSeparation(
      scenes,
      [...byScene.values()].map((r) => r.split),
      { geoSeparation: true, minGapSeconds: 300 },
    ),
    [],
  );
  let unknown = 0;
  for (const s of SPLITS) {
    const coco = validateCoco(JSON.parse(readFileSync(join(out, `golden_${s}.json`), 'utf8')));
    assert.ok(coco.categories.some((c) => c.id === 5 && c.name === 'unknown'));
    unknown += coco.annotations.filter((a) => a.category_id === 5).length;
  }
  assert.ok(unknown > 0, 'some unknown objects are annotated');
});

test('bad options are usage errors naming the option, and nothing is left behind', async () => {
  const cases: Array<[Partial<DatasetOptions>, string]> = [
    [{ scenes: 0 }, '--scenes'],
    [{ framesPerScene: 1.5 }, '--frames-per-scene'],
    [{ width: 8 }, '--resolution'],
    [{ splitRatios: { train: 0, val: 0, test: 0 } }, '--split'],
    [{ unknownRate: 2 }, '--unknown-rate'],
    [{ minGapSeconds: -1 }, '--min-gap-seconds'],
  ];
  for (const [opts, option] of cases) {
    await assert.rejects(
      generateDataset({ out: join(base, 'bad'), ...opts }),
      (e: unknown) =>
        e instanceof DrivegateError && e.code === 'USAGE' && e.exitCode === 2 && e.message.includes(option),
    );
  }
  mkdirSync(join(base, 'exists'));
  writeFileSync(join(base, 'exists', 'keep.txt'), 'mine');
  await assert.rejects(
    generateDataset({ out: join(base, 'exists'), scenes: 1, framesPerScene: 1 }),
    (e: unknown) => e instanceof DrivegateError && e.code === 'CONFLICT',
  );
  assert.equal(readFileSync(join(base, 'exists', 'keep.txt'), 'utf8'), 'mine');
  await assert.rejects(
    generateDataset({ out: join(base, 'exists', 'keep.txt', 'sub'), scenes: 1, framesPerScene: 1 }),
    (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT' && e.message.includes('--out'),
  );
  assert.ok(!readdirSync(base).some((n) => n.includes('.tmp-')), 'no temp folder left behind');
});

test('--overwrite replaces an existing dataset as a whole', async () => {
  const out = join(base, 'replace');
  mkdirSync(out);
  writeFileSync(join(out, 'stale.txt'), 'old');
  const summary = await generateDataset({
    out,
    scenes: 2,
    framesPerScene: 1,
    seed: 1,
    workers: 0,
    overwrite: true,
  });
  assert.equal(summary.frames, 2);
  assert.ok(!listFiles(out).includes('stale.txt'));
  assert.ok(listFiles(out).includes('golden_train.json'));
  assert.ok(!readdirSync(base).some((n) => n.includes('.old-') || n.includes('.tmp-')));
});
