import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultLidar, renderLidar } from './lidar.js';
import { boxAt, clearDay, worldState } from './example-states.js';

test('the LiDAR hits a box straight ahead at the distance of its rear face', () => {
  const box = boxAt(5, 20, 0, { length: 4, width: 2, height: 1.6 });
  const st = worldState({ actors: [box] });
  const cfg = { ...defaultLidar(), rangeNoise: 0 };
  const pts = renderLidar(st, cfg);
  const hits = pts.filter((p) => p.actorId === 5);
  assert.ok(hits.length > 20, `${hits.length} hits`);
  const nearestX = Math.min(...hits.map((p) => p.x));
  assert.ok(Math.abs(nearestX - 18) < 1e-6, `rear face at x=18, got ${nearestX}`);
  for (const p of hits) {
    assert.ok(
      p.x >= 18 - 1e-6 && p.x <= 22 + 1e-6 && Math.abs(p.y) <= 1 + 1e-6 && p.z >= -1e-6 && p.z <= 1.6 + 1e-6,
    );
  }
  // The range along the forward ray at the sensor's height is the box face distance.
  const level = hits.filter((p) => Math.abs(p.y) < 0.2).sort((a, b) => a.x - b.x)[0]!;
  const range = Math.hypot(level.x - cfg.position.x, level.y - cfg.position.y, level.z - cfg.position.z);
  assert.ok(range >= 18 - cfg.position.x - 1e-6 && range < 18 - cfg.position.x + 0.5, `range ${range}`);
});

test('ground returns lie on the ground plane and nothing is returned behind the box', () => {
  const st = worldState({ actors: [boxAt(1, 20, 0, { length: 4, width: 2, height: 3 })] });
  const pts = renderLidar(st, { rangeNoise: 0 });
  const ground = pts.filter((p) => p.actorId === -1);
  assert.ok(ground.length > 1000);
  for (const p of ground) assert.ok(Math.abs(p.z) < 1e-9);
  // Straight ahead, nothing on the ground within the box's shadow just behind it.
  assert.equal(ground.filter((p) => p.x > 22 && p.x < 30 && Math.abs(p.y) < 0.3).length, 0);
  for (const p of pts) assert.ok(Math.hypot(p.x - 1.3, p.y, p.z - 1.9) <= 100 + 1e-6);
});

test('range noise and fog dropout are seeded: same state, same points; fog removes far returns', () => {
  const st = worldState({ actors: [boxAt(1, 30, 3, { length: 4, width: 2, height: 1.5 })] });
  const a = renderLidar(st, { beams: 16 });
  const b = renderLidar(st, { beams: 16 });
  assert.deepEqual(a, b);
  const c = renderLidar({ ...st, renderSeed: 99 }, { beams: 16 });
  assert.notDeepEqual(a, c);
  const foggy = renderLidar(
    { ...st, conditions: clearDay({ weather: 'fog', fogDensity: 0.05 }) },
    { beams: 16 },
  );
  assert.ok(foggy.length < a.length * 0.6, `${foggy.length} vs ${a.length}`);
});

test('beam count and resolution set the number of rays', () => {
  const st = worldState();
  const pts = renderLidar(st, { beams: 4, verticalFov: [-30, -10], horizontalResolution: 1, rangeNoise: 0 });
  assert.equal(pts.length, 4 * 360); // every downward ray hits the ground within 100 m
  const marks = pts.filter((p) => p.intensity >= 0.6);
  assert.ok(marks.length > 0, 'lane markings return higher intensity');
});
