import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultCamera, projectEgoPoint } from '../../world/camera-model.js';
import type { ActorClass } from '../../world/types.js';
import { DEFAULT_TRACKER, Tracker, plausibleSize, type TrackerDetection } from './perception.js';

const cam = defaultCamera(192, 96);

/** The image box of an upright box `h` m tall and `w` m wide whose near face is `x` m ahead (ego frame). */
function boxAt(x: number, y: number, w: number, h: number, cls: ActorClass = 'car'): TrackerDetection {
  const corners = [
    projectEgoPoint(cam, { x, y: y - w / 2, z: 0 })!,
    projectEgoPoint(cam, { x, y: y + w / 2, z: 0 })!,
    projectEgoPoint(cam, { x, y: y - w / 2, z: h })!,
    projectEgoPoint(cam, { x, y: y + w / 2, z: h })!,
  ];
  const u0 = Math.min(...corners.map((c) => c.u));
  const u1 = Math.max(...corners.map((c) => c.u));
  const v0 = Math.min(...corners.map((c) => c.v));
  const v1 = Math.max(...corners.map((c) => c.v));
  return { box: [u0, v0, u1 - u0, v1 - v0], cls, score: 0.9 };
}

/** Feeds the same detections `n` frames (stationary ego) and returns the last output. */
function feed(t: Tracker, dets: TrackerDetection[], n: number): ReturnType<Tracker['update']> {
  let out: ReturnType<Tracker['update']> = [];
  for (let i = 0; i < n; i++) out = t.update(dets, 0.1, 0);
  return out;
}

describe('tracker confirmation and trust', () => {
  it('confirms a track only after confirmHits ranged hits', () => {
    assert.equal(DEFAULT_TRACKER.confirmHits, 3);
    const t = new Tracker(cam);
    const car = boxAt(25, 0, 1.8, 1.45);
    assert.equal(feed(t, [car], 2).length, 0, 'two hits: not yet handed to the controller');
    const out = feed(t, [car], 1);
    assert.equal(out.length, 1);
    assert.ok(Math.abs(out[0]!.x - 25) < 1, `ranged from the box bottom (${out[0]!.x})`);
  });

  it('accepts a car-sized box and rejects one too tall or too wide for a car at its ground-plane range', () => {
    const p = DEFAULT_TRACKER;
    const car = boxAt(20, 0, 1.8, 1.5);
    assert.equal(plausibleSize(cam, car, 20, false, false, p), true);
    // a 'car' whose box implies 5 m of height at 20 m (a phantom filling the image)
    assert.equal(plausibleSize(cam, boxAt(20, 0, 1.8, 5), 20, false, false, p), false);
    // a 'car' 12 m wide at 20 m (wider than any car seen at any angle)
    assert.equal(plausibleSize(cam, boxAt(20, 0, 12, 1.5), 20, false, false, p), false);
    // a 'truck' of 3.5 m height is fine, a 'pedestrian' box of car width is not
    assert.equal(plausibleSize(cam, boxAt(20, 0, 2.4, 3.5, 'truck'), 20, false, false, p), true);
    assert.equal(plausibleSize(cam, boxAt(20, 0, 2.4, 1.7, 'pedestrian'), 20, false, false, p), false);
  });

  it('never starts a track from implausibly sized boxes', () => {
    const t = new Tracker(cam);
    assert.equal(feed(t, [boxAt(20, 0, 1.8, 5)], 10).length, 0);
  });

  it('never starts a track from a box touching an image border, but keeps tracking an object that reaches it', () => {
    const t = new Tracker(cam);
    const atLeft: TrackerDetection = { box: [0, 30, 40, 30], cls: 'car', score: 0.9 };
    assert.equal(feed(t, [atLeft], 10).length, 0, 'a box cut by the left border starts nothing');
    // a car fully in view, tracked, then partly cut by the right border keeps its track
    const t2 = new Tracker(cam);
    const inView = boxAt(12, -3, 1.8, 1.45);
    assert.equal(feed(t2, [inView], 3).length, 1);
    const cut: TrackerDetection = {
      box: [inView.box[0], inView.box[1], cam.width - inView.box[0], inView.box[3]],
      cls: 'car',
      score: 0.9,
    };
    assert.ok(inView.box[0] + inView.box[2] < cam.width - 2 && cut.box[0] + cut.box[2] >= cam.width - 2);
    assert.equal(feed(t2, [cut], 3).length, 1);
  });

  it('does not average in a range far outside the track gate, and re-starts the track when it persists', () => {
    const t = new Tracker(cam);
    const near = boxAt(15, 0, 1.8, 1.45);
    const far = boxAt(30, 0, 1.8, 1.45);
    const before = feed(t, [near], 10)[0]!;
    assert.ok(Math.abs(before.x - 15) < 0.5);
    // one outlier: no jump of range or velocity (a jump used to make a phantom look like a moving car)
    const one = t.update([far], 0.1, 0);
    assert.equal(one.length, 1);
    assert.ok(Math.abs(one[0]!.x - before.x) < 0.5, `range held (${one[0]!.x})`);
    assert.ok(Math.abs(one[0]!.vx) < 1 && !one[0]!.seenMoving, `no velocity jump (${one[0]!.vx})`);
    // persistent disagreement: the track restarts at the measured range and must be confirmed again
    assert.equal(t.update([far], 0.1, 0).length, 0);
    const again = feed(t, [far], 2);
    assert.equal(again.length, 1);
    assert.ok(Math.abs(again[0]!.x - 30) < 1.5, `re-ranged (${again[0]!.x})`);
  });
});
