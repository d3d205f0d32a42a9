import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../core/paths.js';
import { generateDataset } from '../world/dataset.js';
import { runDetect, type CocoResult } from './detect.js';
import { resolveModel } from './resolve.js';

test('trains a tiny detector with tools/train_detector.py and runs it with drivegate detect', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-train-'));
  try {
    const data = join(dir, 'data');
    await generateDataset({
      out: data,
      scenes: 2,
      framesPerScene: 3,
      seed: 5,
      workers: 0,
      splitRatios: { train: 1, val: 0, test: 0 },
    });
    const model = join(dir, 'models', 'detector-v0.0.1.onnx');
    const r = spawnSync(
      '/usr/bin/python3',
      [
        join(packageRoot(), 'tools', 'train_detector.py'),
        '--train-manifest',
        join(data, 'golden_train.manifest'),
        '--train-coco',
        join(data, 'golden_train.json'),
        '--val-manifest',
        join(data, 'golden_train.manifest'),
        '--val-coco',
        join(data, 'golden_train.json'),
        '--tiny',
        '--quiet',
        '--seed',
        '3',
        '--threads',
        '2',
        '--drop-class',
        'pedestrian:0.5',
        '--out',
        model,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.ok(statSync(model).size < 5 * 1024 * 1024);

    const record = JSON.parse(readFileSync(join(dir, 'models', 'detector-v0.0.1.training.json'), 'utf8'));
    assert.equal(record.seed, 3);
    assert.equal(record.model.version, '0.0.1');
    assert.match(record.data.train.manifest.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(record.data.drop_class, { pedestrian: 0.5 });
    assert.ok(record.training.history.length === 1 && Number.isFinite(record.training.history[0].train.loss));

    const resolved = resolveModel(model);
    assert.equal(resolved.config.input.width, 192);
    assert.deepEqual(
      Object.values(resolved.config.classes).map((c) => c.name),
      ['car', 'truck', 'pedestrian', 'cyclist'],
    );
    const out = join(dir, 'dets.json');
    const s = await runDetect({
      model: resolved,
      images: join(data, 'golden_train.manifest'),
      gt: join(data, 'golden_train.json'),
      out,
    });
    assert.equal(s.images, 6);
    const gt = JSON.parse(readFileSync(join(data, 'golden_train.json'), 'utf8')) as {
      images: Array<{ id: number }>;
    };
    const ids = new Set(gt.images.map((i) => i.id));
    const dets = JSON.parse(readFileSync(out, 'utf8')) as CocoResult[];
    for (const d of dets) {
      assert.ok(ids.has(d.image_id));
      assert.ok([1, 2, 3, 4].includes(d.category_id));
      assert.ok(d.bbox[0] >= 0 && d.bbox[0] + d.bbox[2] <= 192.001 && d.bbox[1] + d.bbox[3] <= 96.001);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
