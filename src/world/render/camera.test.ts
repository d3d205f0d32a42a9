import { test } from 'node:test';
import assert from 'node:assert/strict';
import { projectEgoPoint, boxCorners } from '../camera-model.js';
import { SEMANTIC_CLASSES, type Camera, type Actor, type CameraFrame } from '../types.js';
import { createRenderContext, renderCamera } from './camera.js';
import { lightingFor } from './parts.js';
import { actorAt, boxAt, clearDay, exampleScenes, worldState } from './example-states.js';

/** The expected unclipped 2D box of an actor from the camera model (all corners in front). */
function expectedBox(cam: Camera, a: Actor): [number, number, number, number] {
  let u0 = Infinity;
  let v0 = Infinity;
  let u1 = -Infinity;
  let v1 = -Infinity;
  for (const c of boxCorners(a.position, a.size, a.yaw)) {
    const p = projectEgoPoint(cam, c);
    assert.ok(p, 'corner in front of the camera');
    u0 = Math.min(u0, p.u);
    v0 = Math.min(v0, p.v);
    u1 = Math.max(u1, p.u);
    v1 = Math.max(v1, p.v);
  }
  return [u0, v0, u1, v1];
}

/** Pixel extent of an instance in the instance mask: [minI, minJ, maxI, maxJ]. */
function maskExtent(f: CameraFrame, id: number): [number, number, number, number] | null {
  let e: [number, number, number, number] | null = null;
  for (let j = 0; j < f.height; j++) {
    for (let i = 0; i < f.width; i++) {
      if (f.instance[j * f.width + i] !== id + 1) continue;
      e =
        e === null
          ? [i, j, i, j]
          : [Math.min(e[0], i), Math.min(e[1], j), Math.max(e[2], i), Math.max(e[3], j)];
    }
  }
  return e;
}

const vis = (f: CameraFrame, id: number) => f.visibility.find((v) => v.id === id)!;

function meanLuma(f: CameraFrame): number {
  let s = 0;
  for (let p = 0; p < f.width * f.height; p++) {
    s += 0.299 * f.rgb[3 * p]! + 0.587 * f.rgb[3 * p + 1]! + 0.114 * f.rgb[3 * p + 2]!;
  }
  return s / (f.width * f.height);
}

test('a box straight ahead projects to the pixel box the camera model predicts, and its mask fills it', () => {
  const a = boxAt(7, 20, 0.5, { length: 4, width: 2, height: 1.6 });
  const st = worldState({ actors: [a], width: 384, height: 192 });
  const f = renderCamera(st);
  const [u0, v0, u1, v1] = expectedBox(st.camera, a);
  const v = vis(f, 7);
  assert.ok(v.bbox);
  assert.ok(Math.abs(v.bbox[0] - u0) < 0.01 && Math.abs(v.bbox[1] - v0) < 0.01, `${v.bbox} vs ${[u0, v0]}`);
  assert.ok(Math.abs(v.bbox[2] - (u1 - u0)) < 0.02 && Math.abs(v.bbox[3] - (v1 - v0)) < 0.02);
  assert.equal(v.truncation, 0);
  assert.equal(v.occlusion, 0);
  // The rasterized pixels lie within one pixel of the geometric box.
  const m = maskExtent(f, 7)!;
  assert.ok(Math.abs(m[0] - u0) <= 1 && Math.abs(m[2] + 1 - u1) <= 1, `mask ${m} vs ${[u0, u1]}`);
  assert.ok(Math.abs(m[1] - v0) <= 1 && Math.abs(m[3] + 1 - v1) <= 1, `mask ${m} vs ${[v0, v1]}`);
  assert.equal(v.visiblePixels, f.instance.filter((x) => x === 8).length);
  // Distance is camera to box centre.
  const c = st.camera.position;
  assert.ok(Math.abs(v.distance - Math.hypot(20 - c.x, 0.5, 0.8 - c.z)) < 0.01);
});

test('a nearer box hides the expected fraction of a farther one', () => {
  // Far: 3 m tall wall-like box at 30 m; near: a thin, low, wide box at 10 m covering its lower part.
  const far = boxAt(1, 30, 0, { length: 0.5, width: 2, height: 3 });
  const near = boxAt(2, 10, 0, { length: 0.05, width: 6, height: 1.3 });
  const st = worldState({ actors: [far, near], width: 384, height: 192 });
  const cam = st.camera;
  const f = renderCamera(st);
  // Far box's visible (front) face rows, and the near box's top edge row.
  const farTop = projectEgoPoint(cam, { x: 29.75, y: 0, z: 3 })!.v;
  const farBot = projectEgoPoint(cam, { x: 29.75, y: 0, z: 0 })!.v;
  const nearTop = projectEgoPoint(cam, { x: 10.025, y: 0, z: 1.3 })!.v;
  const expected = (farBot - nearTop) / (farBot - farTop);
  const o = vis(f, 1).occlusion;
  assert.ok(expected > 0.2 && expected < 0.8, `setup: expected ${expected}`);
  assert.ok(Math.abs(o - expected) < 0.06, `occlusion ${o} vs expected ${expected}`);
  assert.equal(vis(f, 2).occlusion, 0);
  // Swapping the drawing order gives the same result (depth test, not painter's order).
  const g = renderCamera(worldState({ actors: [near, far], width: 384, height: 192 }));
  assert.equal(vis(g, 1).occlusion, o);
});

test('a box crossing the left image edge reports the truncated fraction of its projected box', () => {
  const a = boxAt(3, 15, 8.5, { length: 4, width: 2, height: 1.5 });
  const st = worldState({ actors: [a] });
  const f = renderCamera(st);
  const [u0, v0, u1, v1] = expectedBox(st.camera, a);
  assert.ok(u0 < 0 && u1 > 0, 'setup: straddles the left edge');
  const expected = 1 - ((u1 - 0) * (v1 - v0)) / ((u1 - u0) * (v1 - v0));
  const v = vis(f, 3);
  assert.ok(Math.abs(v.truncation - expected) < 0.005, `${v.truncation} vs ${expected}`);
  assert.equal(v.bbox![0], 0);
});

test('a box beside the camera that crosses the near plane is clipped without wrap-around', () => {
  // A long truck alongside the ego on the left, from 10 m behind to 6 m ahead of the camera.
  const a = boxAt(4, -0.5, 3.6, { length: 16, width: 2.5, height: 3.8 });
  const st = worldState({ actors: [a] });
  const f = renderCamera(st);
  const v = vis(f, 4);
  assert.ok(v.bbox, 'visible');
  assert.ok(v.truncation > 0 && v.truncation <= 1);
  for (const x of v.bbox) assert.ok(Number.isFinite(x));
  // Every pixel of it is in the left half of the image (it is on the left).
  for (let j = 0; j < f.height; j++) {
    for (let i = f.width / 2; i < f.width; i++)
      assert.notEqual(f.instance[j * f.width + i], 5, `pixel ${i},${j}`);
  }
  assert.ok(v.visiblePixels > 100);
});

test('actors behind the camera or beyond 120 m are culled', () => {
  const st = worldState({
    actors: [
      boxAt(1, -8, 0, { length: 4, width: 2, height: 1.5 }),
      boxAt(2, 140, 0, { length: 4, width: 2, height: 1.5 }),
    ],
  });
  const f = renderCamera(st);
  for (const id of [1, 2]) {
    assert.equal(vis(f, id).bbox, null);
    assert.equal(vis(f, id).visiblePixels, 0);
  }
  assert.equal(f.instance.filter((x) => x !== 0).length, 0);
});

test('fog pulls distant pixels toward the fog colour, more than near ones', () => {
  const base = { width: 192, height: 96 };
  const clear = renderCamera(worldState({ ...base, conditions: clearDay() }), undefined, { scenery: false });
  const fogCond = clearDay({ weather: 'fog', fogDensity: 0.05 });
  const fog = renderCamera(worldState({ ...base, conditions: fogCond }), undefined, { scenery: false });
  const fc = lightingFor(fogCond).fogColor;
  const dist = (f: CameraFrame, p: number) =>
    Math.hypot(f.rgb[3 * p]! - fc[0], f.rgb[3 * p + 1]! - fc[1], f.rgb[3 * p + 2]! - fc[2]);
  const far = 46 * 192 + 96; // just below the horizon: road ~56 m away
  const near = 95 * 192 + 96; // bottom row: road ~4 m away
  assert.ok(dist(fog, far) < dist(clear, far) * 0.3, `far: ${dist(fog, far)} vs ${dist(clear, far)}`);
  assert.ok(dist(fog, far) < dist(fog, near), 'distant road is closer to the fog colour than near road');
});

test('night is darker than day, dusk in between', () => {
  const scene = (timeOfDay: 'day' | 'dusk' | 'night', ambient: number) =>
    meanLuma(
      renderCamera(
        worldState({ actors: [actorAt(1, 'sedan', 15, 0)], conditions: clearDay({ timeOfDay, ambient }) }),
      ),
    );
  const day = scene('day', 1);
  const dusk = scene('dusk', 0.45);
  const night = scene('night', 0.06);
  assert.ok(night < dusk && dusk < day, `night ${night}, dusk ${dusk}, day ${day}`);
  assert.ok(night < day * 0.35);
});

test('rendering is deterministic: the same state gives the same bytes; the render seed changes the noise', () => {
  const [, , , rain] = exampleScenes(192, 96);
  const st = rain!.state;
  const a = renderCamera(st);
  const b = renderCamera(st, createRenderContext());
  assert.deepEqual(Buffer.from(a.rgb), Buffer.from(b.rgb));
  assert.deepEqual(Buffer.from(a.semantic), Buffer.from(b.semantic));
  assert.deepEqual(a.visibility, b.visibility);
  const c = renderCamera({ ...st, renderSeed: st.renderSeed + 1 });
  assert.notDeepEqual(Buffer.from(a.rgb), Buffer.from(c.rgb));
  assert.deepEqual(Buffer.from(a.semantic), Buffer.from(c.semantic), 'masks do not depend on the seed');
});

test('an example scene has road, markings, vehicles and people in its semantic mask, and instance ids match visibility', () => {
  const ex = exampleScenes(384, 192)[0]!;
  const f = renderCamera(ex.state);
  const counts = new Array<number>(SEMANTIC_CLASSES.length).fill(0);
  for (const c of f.semantic) counts[c]!++;
  for (const cls of ['background', 'road', 'lane_marking', 'vehicle', 'person'] as const) {
    assert.ok(
      counts[SEMANTIC_CLASSES.indexOf(cls)]! > 20,
      `${cls}: ${counts[SEMANTIC_CLASSES.indexOf(cls)]}`,
    );
  }
  for (const v of f.visibility) {
    assert.equal(f.instance.filter((x) => x === v.id + 1).length, v.visiblePixels, `actor ${v.id}`);
    assert.ok(v.occlusion >= 0 && v.occlusion <= 1);
  }
});

test('a reused render context gives the same frame as a fresh one after rendering other sizes', () => {
  const ctx = createRenderContext();
  const small = exampleScenes(192, 96)[1]!.state;
  const big = exampleScenes(384, 192)[1]!.state;
  const first = renderCamera(small, ctx);
  renderCamera(big, ctx);
  const again = renderCamera(small, ctx);
  assert.deepEqual(Buffer.from(first.rgb), Buffer.from(again.rgb));
});

test('reused output buffers hold the same frame as fresh ones', () => {
  const ctx = createRenderContext();
  const st = exampleScenes(192, 96)[1]!.state;
  const fresh = renderCamera(st, ctx);
  renderCamera(exampleScenes(192, 96)[0]!.state, ctx, { reuseOutput: true });
  const reused = renderCamera(st, ctx, { reuseOutput: true });
  assert.deepEqual(Buffer.from(reused.rgb), Buffer.from(fresh.rgb));
  assert.deepEqual(Buffer.from(reused.semantic), Buffer.from(fresh.semantic));
  assert.deepEqual([...reused.instance], [...fresh.instance]);
  assert.deepEqual(reused.visibility, fresh.visibility);
  assert.equal(renderCamera(st, ctx, { reuseOutput: true }).rgb, reused.rgb, 'same buffer each time');
});

test('by day an actor darkens the road around its footprint (contact shadow), not at night', () => {
  // A low, thin box: its shadow patch reaches 0.15 m beyond the footprint, visible in front of it.
  const a = boxAt(1, 12, 0, { length: 1, width: 2, height: 0.05 });
  const cond = clearDay();
  const withBox = renderCamera(
    worldState({ actors: [a], width: 384, height: 192, conditions: cond }),
    undefined,
    {
      scenery: false,
    },
  );
  const without = renderCamera(worldState({ width: 384, height: 192, conditions: cond }), undefined, {
    scenery: false,
  });
  const cam = worldState({ width: 384, height: 192 }).camera;
  // A ground point just in front of the box's rear edge shadow band: x = 11.4 (box rear face at 11.5).
  const p = projectEgoPoint(cam, { x: 11.42, y: 0, z: 0 })!;
  const idx = 3 * (Math.floor(p.v) * 384 + Math.floor(p.u));
  assert.ok(withBox.rgb[idx]! < without.rgb[idx]! * 0.8, `${withBox.rgb[idx]} vs ${without.rgb[idx]}`);
  assert.deepEqual(Buffer.from(withBox.semantic).subarray(idx / 3, idx / 3 + 1), Buffer.from([1]));
  const night = clearDay({ timeOfDay: 'night', ambient: 0.06 });
  const nightWith = renderCamera(
    worldState({ actors: [a], width: 384, height: 192, conditions: night }),
    undefined,
    {
      scenery: false,
    },
  );
  const nightWithout = renderCamera(worldState({ width: 384, height: 192, conditions: night }), undefined, {
    scenery: false,
  });
  assert.equal(nightWith.rgb[idx], nightWithout.rgb[idx]);
});
