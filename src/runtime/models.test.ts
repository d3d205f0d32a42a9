import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File } from '../core/digest.js';
import { packageRoot } from '../core/paths.js';
import { exampleScenes } from '../world/render/example-states.js';
import { renderCamera } from '../world/render/camera.js';
import { Detector } from './detector.js';
import { resolveModel } from './resolve.js';

const VERSIONS = ['1.0.0', '1.1.0', '1.2.0'];
const models = join(packageRoot(), 'models');

interface TrainingRecord {
  seed: number;
  model: { onnx: string; onnx_sha256: string; onnx_bytes: number; opset: number };
}

for (const v of VERSIONS) {
  const name = `detector-v${v}`;
  test(`committed ${name}.onnx matches the sha256 its training record and model card state`, async () => {
    const record = JSON.parse(readFileSync(join(models, `${name}.training.json`), 'utf8')) as TrainingRecord;
    const { sha256, size } = await sha256File(join(models, `${name}.onnx`));
    assert.equal(sha256, record.model.onnx_sha256);
    assert.equal(size, record.model.onnx_bytes);
    assert.ok(size < 5 * 1024 * 1024, `${name}.onnx is ${size} bytes; the limit is 5 MB`);
    const card = readFileSync(join(models, `${name}.md`), 'utf8');
    assert.ok(card.includes(sha256), `${name}.md does not state the file's sha256`);
    assert.ok(card.includes('## Metrics on golden_test') && card.includes('## Known weaknesses'));
    assert.equal(record.model.opset, 17);
    const resolved = resolveModel(join(models, `${name}.onnx`));
    assert.equal(resolved.config.model?.version, v);
    assert.ok(statSync(join(models, `${name}.eval_report.json`)).size > 0);
  });
}

function iou(a: readonly number[], b: readonly number[]): number {
  const [ax, ay, aw, ah] = a as [number, number, number, number];
  const [bx, by, bw, bh] = b as [number, number, number, number];
  const iw = Math.max(0, Math.min(ax + aw, bx + bw) - Math.max(ax, bx));
  const ih = Math.max(0, Math.min(ay + ah, by + bh) - Math.max(ay, by));
  const inter = iw * ih;
  return inter / (aw * ah + bw * bh - inter);
}

test('the candidate detector finds every clearly visible car of a rendered clear-day street', async () => {
  const scene = exampleScenes(192, 96)[0];
  assert.ok(scene);
  const frame = renderCamera(scene.state);
  const cls = new Map(scene.state.actors.map((a) => [a.id, a.cls]));
  const cars = frame.visibility.filter(
    (v) => cls.get(v.id) === 'car' && v.bbox !== null && v.occlusion < 0.3 && v.truncation === 0,
  );
  assert.ok(cars.length >= 2, 'the example scene has clearly visible cars');
  const detector = await Detector.open(resolveModel(join(models, 'detector-v1.1.0.onnx')));
  try {
    const [dets] = await detector.detect([{ width: frame.width, height: frame.height, data: frame.rgb }]);
    assert.ok(dets);
    for (const car of cars) {
      const best = Math.max(
        0,
        ...dets.filter((d) => d.score >= 0.3 && d.label === 'car').map((d) => iou(d.bbox, car.bbox!)),
      );
      assert.ok(best >= 0.5, `car ${car.id}: best IoU ${best.toFixed(3)} with a car detection`);
    }
  } finally {
    await detector.close();
  }
});
