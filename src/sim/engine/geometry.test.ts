import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { obbCorners, obbDistance, obbOverlap, wrapAngle, type Obb } from './geometry.js';

const car = (x: number, y: number, h = 0): Obb => ({ x, y, h, length: 4.6, width: 1.8 });

describe('collision detection (oriented boxes)', () => {
  it('detects overlap of aligned boxes and its absence just beyond contact', () => {
    assert.equal(obbOverlap(car(0, 0), car(4.5, 0)), true);
    assert.equal(obbOverlap(car(0, 0), car(4.61, 0)), false);
    assert.equal(obbOverlap(car(0, 0), car(0, 1.79)), true);
    assert.equal(obbOverlap(car(0, 0), car(0, 1.81)), false);
  });

  it('uses the rotated axes: a box turned 45 degrees misses where its bounding square would hit', () => {
    const a: Obb = { x: 0, y: 0, h: 0, length: 2, width: 2 };
    const b: Obb = { x: 2.3, y: 2.3, h: Math.PI / 4, length: 2, width: 2 };
    // their axis-aligned bounding boxes overlap (|dx| = 2.3 < 1 + sqrt 2), the boxes do not
    assert.equal(obbOverlap(a, b), false);
    const c: Obb = { ...b, x: 1.6, y: 1.6 };
    assert.equal(obbOverlap(a, { ...b, x: 1.75, y: 1.75 }), false);
    assert.equal(obbOverlap(a, c), true);
  });

  it('detects a crossing pedestrian hitting the side of a car', () => {
    const ped: Obb = { x: 1, y: 1.1, h: Math.PI / 2, length: 0.45, width: 0.6 };
    assert.equal(obbOverlap(car(0, 0), ped), true);
    assert.equal(obbOverlap(car(0, 0), { ...ped, y: 1.2 }), false);
  });

  it('measures free-space distance between boxes, 0 when overlapping', () => {
    assert.ok(Math.abs(obbDistance(car(0, 0), car(10, 0)) - 5.4) < 1e-9);
    assert.ok(Math.abs(obbDistance(car(0, 0), car(0, 5)) - 3.2) < 1e-9);
    assert.equal(obbDistance(car(0, 0), car(1, 0.5)), 0);
    // corner to corner
    const d = obbDistance(car(0, 0), car(7.6, 4.8));
    assert.ok(Math.abs(d - Math.hypot(3, 3)) < 1e-9);
  });

  it('lists corners counter-clockwise from front-left', () => {
    const c = obbCorners(car(0, 0, Math.PI / 2));
    assert.ok(Math.abs(c[0]! - -0.9) < 1e-9 && Math.abs(c[1]! - 2.3) < 1e-9);
  });

  it('wraps angles into (-pi, pi]', () => {
    assert.ok(Math.abs(wrapAngle(3 * Math.PI) - Math.PI) < 1e-12);
    assert.ok(Math.abs(wrapAngle(-Math.PI / 2 - 2 * Math.PI) + Math.PI / 2) < 1e-12);
  });
});
