/**
 * `simulateRun`: one scenario variant, one seed, one perception mode, fixed-step and deterministic.
 *
 * Per tick (dt, default 0.01 s): the storyboard evaluates its triggers and starts events; at the
 * perception rate the ego perceives (ground truth or the model on the rendered camera frame) and
 * the controller decides; every body moves (ego: commanded acceleration within jerk limits;
 * vehicles: their speed/lane-change profile or IDM; pedestrians: walk); then collisions and the
 * metrics are updated and the end conditions checked.
 */
import { defaultCamera, groundDistanceFromPixel } from '../../world/camera-model.js';
import { deriveSeed, normalizeSeed } from '../../world/random.js';
import { RenderContext, renderCamera } from '../../world/render/camera.js';
import type { ActorClass, Camera } from '../../world/types.js';
import type { RecordedFrame, RunMetrics, RunOptions, RunResult, ScenarioVariant } from '../types.js';
import { DEFAULT_CONTROLLER, Controller, type ControlDecision, type ControllerParams } from './controller.js';
import { idmAccel, makeBody, profileAccel, stepBody, type Body, type MotionLimits } from './dynamics.js';
import { buildWorldState, egoFrame, roadLook, type EgoFrame, type RunLook } from './ego-frame.js';
import { obbOverlap, obbDistance } from './geometry.js';
import { loopDetector, type LoopDetector } from './model.js';
import {
  DEFAULT_TRACKER,
  Tracker,
  egoExtent,
  groundTruthObjects,
  type EgoExtent,
  projectBody,
  type PerceivedObject,
  type TrackerDetection,
  type TrackerParams,
} from './perception.js';
import { drawRandomization, KOSCHMIEDER } from './randomization.js';
import { applyAction, footprint, laneCenter, Storyboard, type StoryWorld } from './storyboard.js';
import { iou } from '../../runtime/decode.js';

/** Engine options beyond the RunOptions contract (tuning and tests; defaults are the documented values). */
export interface EngineOptions {
  controller?: Partial<ControllerParams>;
  tracker?: Partial<TrackerParams>;
  /** Detections under this score are ignored by the tracker (default 0.3). */
  minScore?: number;
  /** Called once per perception frame (tests, debugging). */
  onPerception?: (info: PerceptionInfo) => void;
  /** Accumulates wall milliseconds per phase (benchmarks); adds to the given counters. */
  timing?: PhaseTiming;
}

/** Milliseconds spent per phase of a run (filled when EngineOptions.timing is given). */
export interface PhaseTiming {
  render: number;
  detect: number;
  track: number;
  frames: number;
  /**
   * The clock the phases are measured with, milliseconds (default performance.now: wall time); a
   * CPU-time clock keeps the breakdown meaningful on a loaded machine.
   */
  clock?: () => number;
}

/** What one perception frame saw and decided (for tests and debugging). */
export interface PerceptionInfo {
  time: number;
  objects: PerceivedObject[];
  detections: TrackerDetection[];
  decision: ControlDecision;
  egoSpeed: number;
}

/**
 * Comfort threshold of the false-braking metric, m/s^2: a deceleration the controller commands
 * for a perceived object (ACC following) beyond this, or any FCW/AEB activation, is a braking
 * episode that needs a real threat.
 */
export const COMFORT_DECEL = 2;
/** Ground-truth TTC under which a braking episode counts as justified, s. */
export const THREAT_TTC = 3;
/** Lateral margin of the ego's swept path for the metrics, metres each side. */
export const PATH_MARGIN = 0.2;
/** Jerk limit of scripted/IDM actors, m/s^3. */
export const ACTOR_JERK = 30;

const ACTOR_LIMITS: MotionLimits = { jerkUp: ACTOR_JERK, jerkDown: ACTOR_JERK };

interface ActorStats {
  minDist: number;
  firstInPath: number | null;
  firstDetected: number | null;
}

/** Runs one variant with one seed; see the module comment. Same inputs, same metrics (bit-identical). */
export async function simulateRun(
  variant: ScenarioVariant,
  options: RunOptions & EngineOptions,
): Promise<RunResult> {
  const wall0 = performance.now();
  const sc = variant.scenario;
  const dt = options.dt ?? 0.01;
  const hz = options.perceptionHz ?? 10;
  if (!(dt > 0 && dt <= 0.1)) throw new RangeError(`dt must be in (0, 0.1], got ${dt}`);
  if (!(hz > 0 && hz <= 1 / dt)) throw new RangeError(`perceptionHz must be in (0, 1/dt], got ${hz}`);
  const every = Math.max(1, Math.round(1 / (hz * dt)));
  const seed = normalizeSeed(options.seed);
  const rnd = drawRandomization(sc, seed);
  const perception = options.perception;
  const label = perception.kind === 'ground-truth' ? 'ground-truth' : perception.label;

  // bodies
  const specs = [...sc.entities, ...rnd.background];
  const bodies: Body[] = specs.map((s, i) => makeBody(i, s));
  const egoIndex = sc.entities.findIndex((e) => e.name === sc.ego);
  if (egoIndex < 0) throw new Error(`scenario ${sc.file}: ego '${sc.ego}' is not an entity`);
  const ego = bodies[egoIndex]!;
  const byName = new Map(bodies.map((b) => [b.spec.name, b]));
  const world: StoryWorld = { time: 0, dt, road: sc.road, byName };
  const controller = new Controller({
    ...DEFAULT_CONTROLLER,
    framePeriod: 1 / hz,
    ...options.controller,
  });

  // Init actions (speed is set at once in Init)
  for (const init of sc.init) {
    const b = byName.get(init.entity);
    if (b === undefined) throw new Error(`scenario ${sc.file}: Init names unknown entity '${init.entity}'`);
    for (const a of init.actions) {
      if (a.kind === 'speed') {
        b.v = a.target;
        b.cruise = a.target;
        if (b === ego) controller.setSpeed = a.target;
      } else {
        applyAction(b, a, world, null);
      }
    }
  }
  placeBackground(bodies, sc.entities.length, rnd.backgroundInit, sc.road);
  const egoLaneY = ego.targetY;

  const storyboard = new Storyboard(sc.events, sc.stop, dt, sc.ego, (v) => {
    controller.setSpeed = v;
  });

  // perception
  let detector: LoopDetector | null = null;
  let camera: Camera = defaultCamera();
  if (perception.kind === 'model') {
    detector = await loopDetector(perception.modelPath, perception.configPath);
    camera = defaultCamera(detector.config.input.width, detector.config.input.height);
  }
  const tracker = new Tracker(camera, { ...DEFAULT_TRACKER, ...options.tracker });
  const minScore = options.minScore ?? 0.3;
  const renderCtx = detector !== null || options.record === true ? new RenderContext() : null;
  const look: RunLook = {
    region: rnd.region,
    road: roadLook(rnd.region, sc.road.roadType),
    colors: rnd.colors,
    lightsOn: sc.environment.timeOfDay !== 'day' || sc.environment.weather !== 'clear',
  };
  const frames: RecordedFrame[] = [];
  const timing = options.timing;
  const clock = timing?.clock ?? ((): number => performance.now());
  const moved = new Uint8Array(bodies.length);
  // ground truth sees as far as the air lets a camera: the meteorological visual range in fog
  const gtRange = rnd.conditions.fogDensity > 0 ? KOSCHMIEDER / rnd.conditions.fogDensity : Infinity;

  // metrics state
  const stats: ActorStats[] = bodies.map(() => ({
    minDist: Infinity,
    firstInPath: null,
    firstDetected: null,
  }));
  let collision: { body: Body; speed: number } | null = null;
  let minTtc = Infinity;
  let maxDecel = 0;
  let maxJerk = 0;
  let falseBrakes = 0;
  // a braking episode: consecutive ticks in which the controller brakes for a perceived object
  let inBrake = false;
  let brakeJustified = false;
  let laneDeparture = false;
  let speedViolation = 0;
  let fcwTime: number | null = null;
  let aebTime: number | null = null;
  let endReason = 'max-duration';
  let decision: ControlDecision | null = null;
  let lastPerceptionOdo = ego.odometer;
  const f: EgoFrame = egoFrame(ego, sc.road, egoLaneY);
  // half the sum of the ego's and each body's footprint diagonals (constant over the run)
  const reaches = bodies.map(
    (b) => (Math.hypot(ego.spec.size.length, ego.spec.size.width) + Math.hypot(b.length, b.width)) / 2,
  );
  const extent: EgoExtent = { xMin: 0, xMax: 0, yMin: 0, yMax: 0 };
  const laneRight = f.laneRight;
  const laneLeft = f.laneLeft;

  const maxSteps = Math.round(sc.maxDuration / dt);
  let step = 0;
  let time = 0;
  for (; step < maxSteps; step++) {
    time = step * dt;
    world.time = time;
    storyboard.tick(world);

    if (step % every === 0) {
      let tPhase = timing !== undefined ? clock() : 0;
      egoFrame(ego, sc.road, egoLaneY, f);
      let objects: PerceivedObject[];
      let detections: TrackerDetection[] = [];
      let rgb: Uint8Array | null = null;
      if (detector !== null || options.record === true) {
        const state = buildWorldState(
          f,
          sc.road,
          bodies,
          egoIndex,
          look,
          rnd.conditions,
          camera,
          time,
          deriveSeed(seed, step),
        );
        const frame = renderCamera(state, renderCtx!, { reuseOutput: true });
        rgb = frame.rgb;
      }
      if (timing !== undefined) {
        const now = clock();
        timing.render += now - tPhase;
        tPhase = now;
        timing.frames++;
      }
      if (detector !== null) {
        detections = (
          await detector.detect([{ width: camera.width, height: camera.height, data: rgb! }], minScore)
        )[0]!;
        if (timing !== undefined) {
          const now = clock();
          timing.detect += now - tPhase;
          tPhase = now;
        }
        objects = tracker.update(detections, every * dt, ego.odometer - lastPerceptionOdo);
        if (timing !== undefined) timing.track += clock() - tPhase;
      } else {
        objects = groundTruthObjects(f, camera, bodies, egoIndex, moved, gtRange);
      }
      lastPerceptionOdo = ego.odometer;
      const egoView = {
        speed: ego.v,
        front: f.front,
        halfWidth: f.halfWidth,
        laneRight: f.laneRight - f.ry,
        laneLeft: f.laneLeft - f.ry,
      };
      decision = controller.decide(objects, egoView);
      if (decision.fcw && fcwTime === null) fcwTime = time;
      if (decision.aeb && aebTime === null) aebTime = time;
      // time to first detection: which actors does a perceived object match?
      for (const b of bodies) {
        if (b === ego) continue;
        const st = stats[b.index]!;
        if (st.firstDetected !== null) continue;
        if (detector === null) {
          if (objects.some((o) => o.id === b.index)) st.firstDetected = time;
        } else {
          const pr = projectBody(f, camera, b);
          if (pr !== null && objects.some((o) => o.box !== null && iou(o.box, pr.box) >= 0.3))
            st.firstDetected = time;
        }
      }
      options.onPerception?.({ time, objects, detections, decision, egoSpeed: ego.v });
      if (options.record === true && rgb !== null) {
        frames.push(recordFrame(time, camera, rgb, detections, objects, bodies, decision, ego));
      }
    }

    // move
    const d = decision!;
    const aPrev = ego.a;
    stepBody(ego, d.accel, dt, { jerkUp: d.jerkUp, jerkDown: d.jerkDown });
    for (const b of bodies) {
      if (b === ego) continue;
      stepBody(b, actorAccel(b, bodies, sc.road.laneWidth, dt), dt, b.pedestrian ? null : ACTOR_LIMITS);
    }
    time = (step + 1) * dt;

    // metrics
    const decel = -ego.a;
    if (decel > maxDecel) maxDecel = decel;
    // jerk while moving (the step to a = 0 when the car comes to rest is not a control jerk)
    if (ego.v > 0.05) {
      const jerk = Math.abs(ego.a - aPrev) / dt;
      if (jerk > maxJerk) maxJerk = jerk;
    }
    if (ego.v > sc.road.speedLimit + 1) speedViolation += dt;
    egoFrame(ego, sc.road, egoLaneY, f);
    const egoBox = footprint(ego);
    if (!laneDeparture) {
      const hl = ego.spec.size.length / 2;
      const hw = ego.spec.size.width / 2;
      const reach = Math.abs(Math.sin(ego.h)) * hl + Math.abs(Math.cos(ego.h)) * hw;
      if (ego.y + reach > laneLeft || ego.y - reach < laneRight) laneDeparture = true;
    }
    let threatNow = false;
    for (const b of bodies) {
      if (b === ego) continue;
      const st = stats[b.index]!;
      const bBox = footprint(b);
      const reach = reaches[b.index]!;
      const centre = centreDistance(b.x - ego.x, b.y - ego.y, reach, st.minDist);
      if (centre - reach < st.minDist) {
        const dist = obbDistance(egoBox, bBox);
        if (dist < st.minDist) st.minDist = dist;
      }
      if (collision === null && centre <= reach && obbOverlap(egoBox, bBox)) {
        const evx = ego.v * Math.cos(ego.h) - b.v * Math.cos(b.h);
        const evy = ego.v * Math.sin(ego.h) - b.v * Math.sin(b.h);
        collision = { body: b, speed: Math.hypot(evx, evy) };
      }
      // ego path (metrics): the ego's swept width ahead, ground truth
      if (centre > 200) continue;
      const ext = egoExtent(f, b, extent);
      const ahead = ext.xMax > f.front - 0.5;
      if (!ahead) continue;
      const inLane = ext.yMax > f.laneRight - f.ry && ext.yMin < f.laneLeft - f.ry;
      if (inLane && st.firstInPath === null && ext.xMin - f.front < 120) st.firstInPath = time;
      const half = f.halfWidth + PATH_MARGIN;
      const inPath = ext.yMax > -half && ext.yMin < half;
      const gap = Math.max(0, ext.xMin - f.front);
      const closing = ego.v - b.v * Math.cos(b.h - ego.h);
      const ttc = closing > 0.01 ? gap / closing : Infinity;
      if (inPath) {
        if (ttc < minTtc) minTtc = ttc;
        if (ttc <= THREAT_TTC || gap < 2) threatNow = true;
        // a real vehicle ahead in the lane that the ACC law itself, on ground truth, would brake
        // for beyond the comfort threshold (a slower lead closed on from afar)
        if (inLane && b.spec.cls !== 'pedestrian') {
          const cp = controller.params;
          const desired = cp.standstillGap + cp.timeGap * ego.v;
          const follow = cp.gapGain * (gap - desired) - cp.speedDiffGain * closing;
          if (follow < -COMFORT_DECEL) threatNow = true;
        }
      } else if (ttc <= THREAT_TTC) {
        // a real threat too: an actor that will be in the path when the ego gets there
        const dy = b.v * Math.sin(b.h - ego.h) * ttc;
        if (ext.yMax + dy > -half && ext.yMin + dy < half) threatNow = true;
      }
    }
    const braking = d.fcw || d.aeb || (d.mode !== 'cruise' && d.accel < -COMFORT_DECEL);
    if (braking) {
      if (!inBrake) {
        inBrake = true;
        brakeJustified = false;
      }
      if (threatNow) brakeJustified = true;
    } else if (inBrake) {
      inBrake = false;
      if (!brakeJustified) falseBrakes++;
    }
    if (collision !== null) {
      endReason = 'collision';
      step++;
      break;
    }
    world.time = time;
    if (storyboard.stopped(world)) {
      endReason = 'stop-trigger';
      step++;
      break;
    }
    if (ego.x + ego.spec.size.length / 2 >= sc.road.length) {
      endReason = 'road-end';
      step++;
      break;
    }
  }
  if (inBrake && !brakeJustified) falseBrakes++;

  // the threat: the non-ego entity (of the scenario) that came closest
  let threat: Body | null = null;
  for (const b of bodies) {
    if (b === ego || b.index >= sc.entities.length) continue;
    if (threat === null || stats[b.index]!.minDist < stats[threat.index]!.minDist) threat = b;
  }
  let minDistance = Infinity;
  for (const b of bodies) if (b !== ego) minDistance = Math.min(minDistance, stats[b.index]!.minDist);
  let ttfd: number | null = null;
  if (threat !== null) {
    const st = stats[threat.index]!;
    if (st.firstDetected !== null) {
      ttfd = st.firstInPath === null ? 0 : Math.max(0, st.firstDetected - st.firstInPath);
    }
  }
  const simS = step * dt;
  const metrics: RunMetrics = {
    collision: collision !== null,
    collisionEntity: collision?.body.spec.name ?? null,
    collisionClass: (collision?.body.spec.cls as ActorClass | undefined) ?? null,
    impactSpeedMps: collision?.speed ?? 0,
    minTtcS: Number.isFinite(minTtc) ? minTtc : null,
    minDistanceM: Number.isFinite(minDistance) ? minDistance : 0,
    maxDecelMps2: maxDecel,
    maxJerkMps3: maxJerk,
    falseBrakeEvents: falseBrakes,
    laneDeparture,
    speedLimitViolationS: speedViolation,
    timeToFirstDetectionS: ttfd,
    fcwTimeS: fcwTime,
    aebTimeS: aebTime,
    nearMiss: collision === null && ((Number.isFinite(minTtc) && minTtc < 1) || minDistance < 0.5),
    threatClass: threat?.spec.cls ?? null,
    distanceM: ego.odometer,
    durationS: simS,
    endReason,
  };
  const result: RunResult = {
    variantId: variant.id,
    seed: options.seed,
    model: label,
    metrics,
    randomization: rnd.record,
    wallS: (performance.now() - wall0) / 1000,
    simS,
  };
  if (options.record === true) result.frames = frames;
  return result;
}

/**
 * Math.hypot(dx, dy) as far as the metrics loop's tests of it can tell: `sqrt(dx^2 + dy^2)` (no
 * allocation; Math.hypot is a builtin call that boxes its result) unless that value lies within
 * 1e-9 (relative) of a threshold it is compared with (`reach + minDist`, `reach`, 200 m), where
 * the two could round to different sides; there it is Math.hypot itself. Both are within a few
 * ulp of the exact value, so every comparison gives what Math.hypot's value would.
 */
function centreDistance(dx: number, dy: number, reach: number, minDist: number): number {
  const d = Math.sqrt(dx * dx + dy * dy);
  const tol = 1e-9 * (1 + d);
  if (Math.abs(d - reach - minDist) <= tol || Math.abs(d - reach) <= tol || Math.abs(d - 200) <= tol)
    return Math.hypot(dx, dy);
  return d;
}

/** Acceleration an actor wants: its speed profile, else IDM behind the nearest body ahead in its lane. */
function actorAccel(b: Body, bodies: readonly Body[], laneWidth: number, dt: number): number {
  if (b.speedAction !== null) return profileAccel(b, dt);
  if (b.pedestrian) return (b.cruise - b.v) / dt;
  let gap = Infinity;
  let dv = 0;
  const c = Math.cos(b.h);
  const s = Math.sin(b.h);
  for (const o of bodies) {
    if (o === b) continue;
    const dx = o.x - b.x;
    const dy = o.y - b.y;
    const lon = c * dx + s * dy;
    if (lon <= 0) continue;
    const lat = -s * dx + c * dy;
    if (Math.abs(lat) > laneWidth / 2 + (o.spec.size.width - b.spec.size.width) / 4) continue;
    const g = lon - (b.spec.size.length + o.spec.size.length) / 2;
    if (g < gap) {
      gap = g;
      dv = b.v - o.v * Math.cos(o.h - b.h);
    }
  }
  if (gap > 150) gap = Infinity;
  return idmAccel(b.v, b.cruise, gap, dv);
}

/** Puts background vehicles in their lanes, moved forward until 20 m clear of every other body. */
function placeBackground(
  bodies: Body[],
  first: number,
  init: ReadonlyArray<{ laneId: number; s: number; speed: number }>,
  road: StoryWorld['road'],
): void {
  for (let k = 0; k < init.length; k++) {
    const b = bodies[first + k]!;
    const it = init[k]!;
    b.y = laneCenter(road, it.laneId);
    b.targetY = b.y;
    b.v = it.speed;
    b.cruise = it.speed;
    let s = it.s;
    for (let tries = 0; tries < 40; tries++) {
      const clash = bodies.some(
        (o, i) =>
          i !== first + k &&
          (i < first + k || i < first) &&
          Math.abs(o.y - b.y) < road.laneWidth &&
          Math.abs(o.x - s) < 20,
      );
      if (!clash) break;
      s += 23;
    }
    b.x = s;
  }
}

function recordFrame(
  time: number,
  cam: Camera,
  rgb: Uint8Array,
  detections: readonly TrackerDetection[],
  objects: readonly PerceivedObject[],
  bodies: readonly Body[],
  decision: ControlDecision,
  ego: Body,
): RecordedFrame {
  const dets =
    detections.length > 0
      ? detections.map((d) => ({
          box: [d.box[0], d.box[1], d.box[2], d.box[3]] as [number, number, number, number],
          cls: d.cls as string,
          score: d.score,
          distanceM: groundDistanceFromPixel(cam, d.box[0] + d.box[2] / 2, d.box[1] + d.box[3]),
        }))
      : objects
          .filter((o) => o.box !== null)
          .map((o) => ({
            box: [o.box![0], o.box![1], o.box![2], o.box![3]] as [number, number, number, number],
            cls: o.cls as string,
            score: 1,
            distanceM: o.x - cam.position.x,
          }));
  return {
    time,
    width: cam.width,
    height: cam.height,
    rgb: rgb.slice(),
    detections: dets,
    entities: bodies.map((b) => ({
      name: b.spec.name,
      cls: b.spec.cls,
      x: b.x,
      y: b.y,
      h: b.h,
      length: b.spec.size.length,
      width: b.spec.size.width,
    })),
    egoSpeed: ego.v,
    egoAccel: ego.a,
    mode: decision.mode,
  };
}
