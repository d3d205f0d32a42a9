import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cameraToEgo,
  defaultCamera,
  egoToCamera,
  fieldOfView,
  groundDistanceFromPixel,
  groundPointFromPixel,
  horizonRow,
  projectEgoPoint,
  rowOfGroundDistance,
} from './camera-model.js';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);

test('the default camera is 192x96 with a 60-70 degree horizontal field of view, 1.4 m up, pitched down', () => {
  const cam = defaultCamera();
  assert.equal(cam.width, 192);
  assert.equal(cam.height, 96);
  const fov = (fieldOfView(cam).horizontal * 180) / Math.PI;
  assert.ok(fov >= 60 && fov <= 70, `fov ${fov}`);
  close(cam.position.z, 1.4, 1e-9, 'height');
  assert.ok(cam.pitch > 0 && cam.pitch < 0.1);
});

test('a point straight ahead at camera height projects to the principal column, above centre by the pitch', () => {
  const cam = defaultCamera();
  const p = projectEgoPoint(cam, { x: cam.position.x + 20, y: 0, z: cam.position.z });
  assert.ok(p);
  close(p.u, cam.cx, 1e-9, 'u');
  close(p.v, cam.cy - cam.fy * Math.tan(cam.pitch), 1e-9, 'v');
  close(p.depth, 20 * Math.cos(cam.pitch), 1e-9, 'depth');
});

test('a point to the left (ego +y) appears left of centre; a point behind the camera does not project', () => {
  const cam = defaultCamera();
  const p = projectEgoPoint(cam, { x: 20, y: 3, z: 1 });
  assert.ok(p && p.u < cam.cx);
  assert.equal(projectEgoPoint(cam, { x: 0, y: 0, z: 1 }), null);
});

test('ego -> camera -> ego is the identity', () => {
  const cam = defaultCamera(384, 192);
  const p = { x: 12.3, y: -4.5, z: 0.7 };
  const q = cameraToEgo(cam, egoToCamera(cam, p));
  close(q.x, p.x, 1e-9, 'x');
  close(q.y, p.y, 1e-9, 'y');
  close(q.z, p.z, 1e-9, 'z');
});

test('the ground-plane inverse recovers the distance of a projected road point within 1 cm', () => {
  const cam = defaultCamera();
  for (const [x, y] of [
    [5, 0],
    [12, 1.5],
    [30, -3.5],
    [60, 2],
  ] as const) {
    const p = projectEgoPoint(cam, { x, y, z: 0 })!;
    const g = groundPointFromPixel(cam, p.u, p.v)!;
    close(g.x, x, 0.01, `x at ${x}`);
    close(g.y, y, 0.01, `y at ${x}`);
    close(groundDistanceFromPixel(cam, p.u, p.v)!, x - cam.position.x, 0.01, 'ahead');
  }
  close(groundDistanceFromPixel(cam, cam.cx, rowOfGroundDistance(cam, 25))!, 25, 1e-6, 'row of distance');
});

test('pixels at or above the horizon have no ground point', () => {
  const cam = defaultCamera();
  assert.equal(groundPointFromPixel(cam, cam.cx, horizonRow(cam) - 0.5), null);
  assert.ok(groundPointFromPixel(cam, cam.cx, horizonRow(cam) + 0.5));
});
