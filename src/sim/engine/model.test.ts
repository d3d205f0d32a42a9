import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { packageRoot } from '../../core/paths.js';
import { preprocessInto } from '../../runtime/preprocess.js';
import { renderCamera, RenderContext } from '../../world/render/camera.js';
import { actorAt, clearDay, worldState } from '../../world/render/example-states.js';
import { closeLoopDetectors, loopDetector } from './model.js';

describe('the loop detector', () => {
  after(() => closeLoopDetectors());
  const model = (): [string, string] => [
    join(packageRoot(), 'models', 'detector-v1.1.0.onnx'),
    join(packageRoot(), 'models', 'detector-v1.1.0.inference_config.json'),
  ];

  it('is opened once per process and model', async () => {
    const a = await loopDetector(...model());
    const b = await loopDetector(...model());
    assert.equal(a, b);
  });

  it('normalises input-size frames exactly as the runtime preprocessing does, and detects the car', async () => {
    const det = await loopDetector(...model());
    const st = worldState({ actors: [actorAt(1, 'sedan', 20, 0)], conditions: clearDay({ noiseSigma: 2 }) });
    const img = { width: 192, height: 96, data: renderCamera(st, new RenderContext()).rgb };
    const dets = await det.detect([img], 0.3);
    const expected = new Float32Array(3 * 192 * 96);
    preprocessInto(img, det.config, expected, 0);
    const input = (det as unknown as { input: Float32Array }).input.subarray(0, expected.length);
    assert.deepEqual(input, expected);
    assert.equal(dets.length, 1);
    assert.ok(dets[0]!.some((d) => d.cls === 'car' && d.score > 0.5));
  });

  it('gives the same detections for an image alone and in a batch', async () => {
    const det = await loopDetector(...model());
    const ctx = new RenderContext();
    const imgs = [10, 25, 40].map((x) => ({
      width: 192,
      height: 96,
      data: renderCamera(worldState({ actors: [actorAt(1, 'suv', x, 0.5)] }), ctx).rgb,
    }));
    const alone = await det.detect([imgs[1]!], 0.3);
    const batch = await det.detect(imgs, 0.3);
    assert.equal(batch.length, 3);
    assert.deepEqual(
      batch[1]!.map((d) => d.cls),
      alone[0]!.map((d) => d.cls),
    );
    for (let i = 0; i < alone[0]!.length; i++) {
      for (let k = 0; k < 4; k++) assert.ok(Math.abs(batch[1]![i]!.box[k]! - alone[0]![i]!.box[k]!) < 1e-3);
    }
  });
});
