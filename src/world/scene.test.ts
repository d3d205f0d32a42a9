import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorldSim, drawAttributes, generateScene } from './scene.js';
import type { Scene } from './scene.js';
import { parseWeights } from './weights.js';

const SEEDS = Array.from({ length: 40 }, (_, i) => i * 7919 + 3);
const scenes: Scene[] = SEEDS.map((s) => generateScene(s, { frames: 20, frameInterval: 0.5 }));

test('the same seed gives the same scene, another seed another scene', () => {
  assert.deepEqual(generateScene(17, { frames: 5 }), generateScene(17, { frames: 5 }));
  assert.notDeepEqual(generateScene(17, { frames: 5 }).frames[0], generateScene(18, { frames: 5 }).frames[0]);
});

test('a scene has K frames at the frame interval, with the same actors (track ids) in every frame', () => {
  for (const sc of scenes) {
    assert.equal(sc.frames.length, 20);
    sc.frames.forEach((f, k) => {
      assert.equal(f.time, k * 0.5);
      assert.deepEqual(
        f.actors.map((a) => a.id),
        sc.frames[0]!.actors.map((a) => a.id),
      );
      assert.equal(f.conditions.weather, sc.attributes.weather);
      assert.equal(f.road.type, sc.attributes.roadType);
    });
    const ids = sc.frames[0]!.actors.map((a) => a.id);
    assert.equal(new Set(ids).size, ids.length);
  }
});

test('roads are straight or gently curved and the ego moves forward', () => {
  for (const sc of scenes) {
    const road = sc.frames[0]!.road;
    assert.ok(Math.abs(road.curvature) <= 1 / 300 + 1e-9, `curvature ${road.curvature}`);
    assert.ok(road.egoLane >= 0 && road.egoLane < road.laneCount);
    for (let k = 1; k < sc.ego.length; k++) {
      assert.ok(sc.ego[k]!.odometer >= sc.ego[k - 1]!.odometer);
      assert.equal(sc.frames[k]!.odometer, sc.ego[k]!.odometer);
    }
  }
});

test('actors have plausible sizes, speeds and places for their class', () => {
  const seen = new Set<string>();
  for (const sc of scenes) {
    const road = sc.frames[0]!.road;
    const right = -(road.egoLane + 0.5) * road.laneWidth;
    const left = right + road.laneCount * road.laneWidth;
    sc.frames.forEach((f, k) => {
      f.actors.forEach((a, i) => {
        seen.add(a.cls);
        const pose = sc.roadPoses[k]![i]!;
        const onRoad = pose.d > right && pose.d < left;
        if (a.cls === 'car') assert.ok(a.size.length > 3 && a.size.length < 6 && a.size.height < 2.5);
        if (a.cls === 'truck') assert.ok(a.size.length > 3 && a.size.height > 1.6);
        if (a.cls === 'pedestrian') assert.ok(a.size.height > 1 && a.size.height < 2.1 && a.speed <= 2);
        if (a.cls === 'cyclist') assert.ok(onRoad && a.speed <= 13);
        if (a.cls === 'car' || a.cls === 'truck') {
          assert.ok(
            pose.d > right - road.shoulderWidth && pose.d < left + road.shoulderWidth,
            `vehicle off road`,
          );
          assert.ok(a.speed <= 40);
          if (onRoad && road.oncomingLanes) {
            const oncomingFrom = right + (road.laneCount - road.oncomingLanes) * road.laneWidth;
            // vehicles on the far side drive the other way
            if (pose.d > oncomingFrom + 0.5) assert.ok(Math.cos(pose.heading) < 0);
            if (pose.d < oncomingFrom - 0.5) assert.ok(Math.cos(pose.heading) > 0);
          }
        }
        if (a.cls === 'pedestrian' && onRoad) {
          // only crossing pedestrians are on the road, and they walk across it
          assert.ok(Math.abs(Math.sin(pose.heading)) > 0.99, `pedestrian on the road at d=${pose.d}`);
        }
        assert.ok(a.yaw > -Math.PI - 1e-9 && a.yaw <= Math.PI + 1e-9);
      });
    });
  }
  for (const cls of ['car', 'truck', 'pedestrian', 'cyclist'])
    assert.ok(seen.has(cls), `no ${cls} in 40 scenes`);
});

test('actors move along their trajectories by at most their speed times the time step', () => {
  for (const sc of scenes) {
    for (let k = 1; k < sc.frames.length; k++) {
      sc.roadPoses[k]!.forEach((p, i) => {
        const q = sc.roadPoses[k - 1]![i]!;
        const step = Math.hypot(p.s - q.s, p.d - q.d);
        assert.ok(step <= Math.max(p.speed, q.speed, 0) * 0.5 + 0.9 * 0.5 + 1e-6, `jump of ${step} m`);
      });
    }
  }
});

test('nothing drives or walks into the ego', () => {
  for (const sc of scenes) {
    for (const f of sc.frames) {
      for (const a of f.actors) {
        const overlapX = Math.abs(a.position.x - 1.35) < (a.size.length + 4.7) / 2 - 0.3;
        const overlapY = Math.abs(a.position.y) < (a.size.width + 1.9) / 2 - 0.3;
        assert.ok(
          !(overlapX && overlapY),
          `actor ${a.id} (${a.cls}) overlaps the ego at t=${f.time} in ${sc.sceneId}`,
        );
      }
    }
  }
});

test('conditions follow weather and time of day', () => {
  for (const weather of ['clear', 'rain', 'fog', 'snow'] as const) {
    for (const timeOfDay of ['day', 'dusk', 'night'] as const) {
      const c = generateScene(5, { frames: 1, attributes: { weather, timeOfDay } }).frames[0]!.conditions;
      assert.equal(c.weather, weather);
      if (weather === 'fog') assert.ok(c.fogDensity >= 0.02 && c.fogDensity <= 0.08);
      if (weather === 'clear') assert.equal(c.fogDensity, 0);
      assert.equal(c.precipitation > 0, weather === 'rain' || weather === 'snow');
      if (timeOfDay === 'night') assert.ok(c.ambient < 0.1 && c.noiseSigma > 5);
      if (timeOfDay === 'day' && weather === 'clear') assert.ok(c.ambient > 0.85);
    }
  }
});

test('condition weights steer the attributes, and an unknown-rate of 1 always adds an unknown object', () => {
  const weights = parseWeights(['weather=fog:1;time_of_day=night:1;road_type=rural:1;region=asia:1']);
  for (let s = 0; s < 10; s++) {
    assert.deepEqual(drawAttributes(s, weights), {
      weather: 'fog',
      timeOfDay: 'night',
      roadType: 'rural',
      region: 'asia',
    });
    const sc = generateScene(s, { frames: 1, unknownRate: 1 });
    assert.ok(sc.frames[0]!.actors.some((a) => a.cls === 'unknown'));
  }
});

test('regions differ in marking colours and road surface', () => {
  const road = (region: 'eu' | 'us' | 'asia') =>
    generateScene(3, { frames: 1, attributes: { region, roadType: 'urban' } }).frames[0]!.road;
  assert.notDeepEqual(road('eu').marking.centerColor, road('us').marking.centerColor);
  assert.notDeepEqual(road('eu').surface, road('asia').surface);
});

test('a WorldSim brakes the ego when told to and then stands still', () => {
  const sim = new WorldSim(9, { attributes: { roadType: 'highway' } });
  const v0 = sim.ego().speed;
  for (let i = 0; i < 100; i++) sim.step(0.1, { egoAcceleration: -8 });
  assert.ok(v0 > 10);
  assert.equal(sim.ego().speed, 0);
  const s = sim.odometer;
  sim.step(1, { egoAcceleration: -8 });
  assert.equal(sim.odometer, s);
});

test('a scenario can start from an empty road and add actors; the built-in driver stops for a crossing', () => {
  const sim = new WorldSim(4, { traffic: false, attributes: { roadType: 'urban' } });
  assert.equal(sim.state().actors.length, 0);
  const { right, left } = sim.roadEdges();
  assert.ok(right < 0 && left > 0 && Math.abs(sim.laneOffset(0) - right) > 1);
  const id = sim.addActor({
    cls: 'pedestrian',
    s: 30,
    d: right - 1,
    speed: 0.6,
    behavior: 'cross',
    crossTo: left + 1,
  });
  const lead = sim.addActor({ cls: 'car', s: 200, d: 0, speed: 5 });
  let minGap = Infinity;
  for (let i = 0; i < 300; i++) {
    sim.step(0.1);
    const ped = sim.roadPoses().find((p) => p.id === id)!;
    if (Math.abs(ped.d) < 1.5) minGap = Math.min(minGap, ped.s - (sim.odometer + 3.7));
  }
  assert.ok(minGap > 0.5, `the ego came within ${minGap} m of the crossing pedestrian`);
  assert.ok(sim.roadPoses().find((p) => p.id === id)!.d > left, 'the pedestrian got across');
  assert.ok(sim.odometer > 40, 'the ego drove on after the crossing');
  assert.ok(sim.removeActor(lead));
  assert.equal(sim.state().actors.length, 1);
  assert.throws(() => sim.addActor({ cls: 'pedestrian', s: 5, d: 0, behavior: 'cross' }), RangeError);
});
