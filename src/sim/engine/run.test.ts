import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { packageRoot } from '../../core/paths.js';
import { ccrsScenario, cpnaScenario } from './hand-scenarios.js';
import { closeLoopDetectors } from './model.js';
import { simulateRun, type PerceptionInfo } from './run.js';

const GT = { kind: 'ground-truth' } as const;

describe('closed-loop runs with ground-truth perception', () => {
  it('AEB avoids a stationary car at 50 km/h (CCRs), braking in stages after a warning', async () => {
    const r = await simulateRun(ccrsScenario({ egoSpeedKmh: 50 }), { seed: 1, perception: GT });
    const m = r.metrics;
    assert.equal(m.collision, false);
    assert.ok(m.minDistanceM > 0.5 && m.minDistanceM < 6, `stops close behind (${m.minDistanceM} m)`);
    assert.ok(m.fcwTimeS !== null && m.aebTimeS !== null && m.fcwTimeS <= m.aebTimeS);
    assert.ok(m.maxDecelMps2 > 8, 'full braking was needed');
    assert.equal(m.falseBrakeEvents, 0);
    assert.equal(m.threatClass, 'car');
    assert.equal(m.timeToFirstDetectionS, 0);
    assert.ok(m.minTtcS !== null && m.minTtcS < 1.6);
    assert.equal(r.model, 'ground-truth');
  });

  it('without AEB the same approach ends in a collision at full speed', async () => {
    const r = await simulateRun(ccrsScenario({ egoSpeedKmh: 50 }), {
      seed: 1,
      perception: GT,
      controller: { fcwTtc: 0, partialTtc: 0, fullTtc: 0 },
    });
    assert.equal(r.metrics.collision, true);
    assert.equal(r.metrics.endReason, 'collision');
    assert.equal(r.metrics.collisionEntity, 'Target');
    assert.equal(r.metrics.collisionClass, 'car');
    assert.ok(Math.abs(r.metrics.impactSpeedMps - 50 / 3.6) < 0.01);
  });

  it('brakes for a pedestrian crossing from the nearside (CPNA) and lets it pass', async () => {
    const r = await simulateRun(cpnaScenario({ egoSpeedKmh: 40 }), { seed: 3, perception: GT });
    assert.equal(r.metrics.collision, false);
    assert.equal(r.metrics.threatClass, 'pedestrian');
    assert.ok(r.metrics.aebTimeS !== null);
    assert.ok(r.metrics.minDistanceM < 6);
  });

  it('counts a warning or braking episode with no real threat as false braking, one per episode', async () => {
    // FCW armed at any TTC: it warns for the car 100 m ahead (ground-truth TTC > 7 s) and the run
    // ends before the car is a threat; the ego never decelerated, the activation alone counts
    const v = ccrsScenario({ egoSpeedKmh: 50, gap: 100, maxDuration: 2 });
    const r = await simulateRun(v, {
      seed: 1,
      perception: GT,
      controller: { fcwTtc: 100, partialTtc: 0, fullTtc: 0 },
    });
    assert.ok(r.metrics.fcwTimeS !== null && r.metrics.maxDecelMps2 < 0.5);
    assert.equal(r.metrics.falseBrakeEvents, 1);
    // the same warning in a run that goes on to the real threat is one justified episode
    const full = await simulateRun(ccrsScenario({ egoSpeedKmh: 50, gap: 100 }), {
      seed: 1,
      perception: GT,
      controller: { fcwTtc: 100 },
    });
    assert.equal(full.metrics.collision, false);
    assert.equal(full.metrics.falseBrakeEvents, 0);
  });

  it('is deterministic: the same seed gives bit-identical metrics and randomization', async () => {
    const v = cpnaScenario({ egoSpeedKmh: 50, env: { weather: 'rain', precipitationIntensity: 5 } });
    const a = await simulateRun(v, { seed: 42, perception: GT });
    const b = await simulateRun(v, { seed: 42, perception: GT });
    assert.deepEqual(a.metrics, b.metrics);
    assert.deepEqual(a.randomization, b.randomization);
    const c = await simulateRun(v, { seed: 43, perception: GT });
    assert.notDeepEqual(a.randomization, c.randomization, 'another seed draws other conditions');
    assert.equal(a.randomization['weather'], 'rain');
    assert.ok(Number(a.randomization['precipitation']) > 0);
  });

  it('records frames at the perception rate with the camera image and the top-down state', async () => {
    const r = await simulateRun(ccrsScenario({ egoSpeedKmh: 30, gap: 40, maxDuration: 2 }), {
      seed: 1,
      perception: GT,
      record: true,
    });
    const frames = r.frames!;
    assert.equal(frames.length, 20);
    const f = frames[5]!;
    assert.equal(f.rgb.length, f.width * f.height * 3);
    assert.ok(Math.abs(f.time - 0.5) < 1e-9);
    assert.deepEqual(
      f.entities.map((e) => e.name),
      ['Ego', 'Target'],
    );
    assert.equal(f.detections.length, 1, 'the target car is seen');
    assert.equal(f.detections[0]!.cls, 'car');
  });

  it('adds background traffic when the scenario asks for it', async () => {
    const v = ccrsScenario({ egoSpeedKmh: 50 });
    v.scenario.parameters['background_traffic'] = 20;
    const r = await simulateRun(v, { seed: 5, perception: GT });
    assert.ok(Number(r.randomization['background_vehicles']) > 0);
  });
});

describe('model in the loop', () => {
  after(() => closeLoopDetectors());

  it('renders the camera, runs the detector and tracks the car it detects', async () => {
    const root = packageRoot();
    const seen: PerceptionInfo[] = [];
    const r = await simulateRun(ccrsScenario({ egoSpeedKmh: 30, gap: 45, maxDuration: 3 }), {
      seed: 1,
      perception: {
        kind: 'model',
        modelPath: join(root, 'models', 'detector-v1.1.0.onnx'),
        configPath: join(root, 'models', 'detector-v1.1.0.inference_config.json'),
        label: 'v1.1.0',
      },
      onPerception: (i) => seen.push(i),
    });
    assert.equal(r.model, 'v1.1.0');
    assert.equal(seen.length, 30);
    const withCar = seen.filter((i) => i.detections.some((d) => d.cls === 'car' && d.score > 0.5));
    assert.ok(withCar.length >= 20, `the car is detected in most frames (${withCar.length})`);
    const last = seen[seen.length - 1]!;
    const car = last.objects.find((o) => o.cls === 'car');
    assert.ok(car !== undefined, 'a confirmed car track');
    // ground truth in the ego frame: target rear face at 20 + 45 - 2.3 (road x), ego rear axle at
    // its centre (20 + distance driven) minus 0.29 of its length
    const trueX = 20 + 45 - 2.3 - (20 + r.metrics.distanceM - 0.29 * 4.6);
    assert.ok(Math.abs(car.x - trueX) < 0.15 * trueX, `ranged from the box bottom: ${car.x} vs ${trueX}`);
    assert.ok(r.metrics.timeToFirstDetectionS !== null);
  });

  it('is deterministic with the model in the loop too', async () => {
    const root = packageRoot();
    const v = cpnaScenario({ egoSpeedKmh: 30, env: { timeOfDay: 'night' } });
    v.scenario.maxDuration = 4;
    const opts = {
      seed: 11,
      perception: {
        kind: 'model' as const,
        modelPath: join(root, 'models', 'detector-v1.0.0.onnx'),
        configPath: join(root, 'models', 'detector-v1.0.0.inference_config.json'),
        label: 'v1.0.0',
      },
    };
    const a: PerceptionInfo[] = [];
    const b: PerceptionInfo[] = [];
    const ra = await simulateRun(v, { ...opts, onPerception: (i) => a.push(i) });
    const rb = await simulateRun(v, { ...opts, onPerception: (i) => b.push(i) });
    assert.deepEqual(ra.metrics, rb.metrics);
    assert.deepEqual(
      a.map((i) => i.detections),
      b.map((i) => i.detections),
    );
  });
});
