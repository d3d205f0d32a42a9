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
import { packedMap } from './packed.js';

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
  const run = new RunLoop(variant, options);
  const perception = options.perception;
  if (perception.kind === 'model') {
    const detector = await loopDetector(perception.modelPath, perception.configPath);
    run.attach(detector);
    const { width, height } = run.camera;
    const minScore = options.minScore ?? 0.3;
    for (let rgb = run.next(); rgb !== null; rgb = run.next()) {
      run.detected((await detector.detect([{ width, height, data: rgb }], minScore))[0]!);
    }
  } else {
    run.next();
  }
  return run.result((performance.now() - wall0) / 1000);
}

/**
 * The state of one run and its fixed-step loop, cut into small methods (one per phase of a tick):
 * V8 optimizes and, when a type changes, re-optimizes each on its own, where one function holding
 * the whole loop was recompiled whole (~0.1 s of compiler time each, ~1 s per worker thread before
 * its runs settled). The loop stops only where the model must look at a frame: `next()` runs ticks
 * until a frame needs detections (returned) or the run ends (null); `detected()` hands the
 * detections back and finishes that tick. Ground-truth runs go start to end in one `next()`.
 */
class RunLoop {
  private readonly options: RunOptions & EngineOptions;
  private readonly variantId: string;
  private readonly sc: ScenarioVariant['scenario'];
  private readonly dt: number;
  private readonly every: number;
  private readonly seed: number;
  private readonly rnd: ReturnType<typeof drawRandomization>;
  private readonly label: string;
  private readonly bodies: Body[];
  private readonly egoIndex: number;
  private readonly ego: Body;
  private readonly world: StoryWorld;
  private readonly controller: Controller;
  private readonly egoLaneY: number;
  private readonly storyboard: Storyboard;
  private detector: LoopDetector | null = null;
  /** The ego camera (the model's input size once a detector is attached). */
  camera: Camera = defaultCamera();
  private tracker: Tracker;
  private renderCtx: RenderContext | null;
  private readonly look: RunLook;
  private readonly frames: RecordedFrame[] = [];
  private readonly timing: PhaseTiming | undefined;
  private readonly clock: () => number;
  private readonly moved: Uint8Array;
  private readonly gtRange: number;
  // metrics state
  private readonly stats: ActorStats[];
  private collision: { body: Body; speed: number } | null = null;
  private minTtc = Infinity;
  private maxDecel = 0;
  private maxJerk = 0;
  private falseBrakes = 0;
  // a braking episode: consecutive ticks in which the controller brakes for a perceived object
  private inBrake = false;
  private brakeJustified = false;
  private laneDeparture = false;
  private speedViolation = 0;
  private fcwTime: number | null = null;
  private aebTime: number | null = null;
  private endReason = 'max-duration';
  private decision: ControlDecision | null = null;
  private lastPerceptionOdo: number;
  private readonly f: EgoFrame;
  /** Half the sum of the ego's and each body's footprint diagonals (constant over the run). */
  private readonly reaches: number[];
  private readonly extent: EgoExtent = { xMin: 0, xMax: 0, yMin: 0, yMax: 0 };
  /** The ego's jerk limits of this tick (the decision's; one object per run, not one per tick). */
  private readonly egoLimits: MotionLimits = { jerkUp: 0, jerkDown: 0 };
  private readonly laneRight: number;
  private readonly laneLeft: number;
  private readonly maxSteps: number;
  private step = 0;
  private time = 0;
  private ended = false;
  /** The frame handed out by next() whose detections are awaited, and when its phase began. */
  private pending: Uint8Array | null = null;
  private tPhase = 0;

  constructor(variant: ScenarioVariant, options: RunOptions & EngineOptions) {
    this.options = options;
    this.variantId = variant.id;
    const sc = variant.scenario;
    this.sc = sc;
    const dt = options.dt ?? 0.01;
    const hz = options.perceptionHz ?? 10;
    if (!(dt > 0 && dt <= 0.1)) throw new RangeError(`dt must be in (0, 0.1], got ${dt}`);
    if (!(hz > 0 && hz <= 1 / dt)) throw new RangeError(`perceptionHz must be in (0, 1/dt], got ${hz}`);
    this.dt = dt;
    this.every = Math.max(1, Math.round(1 / (hz * dt)));
    const seed = normalizeSeed(options.seed);
    this.seed = seed;
    const rnd = drawRandomization(sc, seed);
    this.rnd = rnd;
    const perception = options.perception;
    this.label = perception.kind === 'ground-truth' ? 'ground-truth' : perception.label;

    // bodies
    const specs = [...sc.entities, ...rnd.background];
    const bodies = packedMap(specs, (s, i) => makeBody(i, s));
    this.bodies = bodies;
    const egoIndex = sc.entities.findIndex((e) => e.name === sc.ego);
    if (egoIndex < 0) throw new Error(`scenario ${sc.file}: ego '${sc.ego}' is not an entity`);
    this.egoIndex = egoIndex;
    const ego = bodies[egoIndex]!;
    this.ego = ego;
    const byName = new Map(bodies.map((b) => [b.spec.name, b]));
    const world: StoryWorld = { time: 0, dt, road: sc.road, byName };
    this.world = world;
    const controller = new Controller({
      ...DEFAULT_CONTROLLER,
      framePeriod: 1 / hz,
      ...options.controller,
    });
    this.controller = controller;

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
    this.egoLaneY = ego.targetY;

    this.storyboard = new Storyboard(sc.events, sc.stop, dt, sc.ego, (v) => {
      controller.setSpeed = v;
    });

    // perception (a detector, when the run has one, is attached before the first tick)
    this.tracker = new Tracker(this.camera, { ...DEFAULT_TRACKER, ...options.tracker });
    this.renderCtx = options.record === true ? new RenderContext() : null;
    this.look = {
      region: rnd.region,
      road: roadLook(rnd.region, sc.road.roadType),
      colors: rnd.colors,
      lightsOn: sc.environment.timeOfDay !== 'day' || sc.environment.weather !== 'clear',
    };
    this.timing = options.timing;
    this.clock = options.timing?.clock ?? ((): number => performance.now());
    this.moved = new Uint8Array(bodies.length);
    // ground truth sees as far as the air lets a camera: the meteorological visual range in fog
    this.gtRange = rnd.conditions.fogDensity > 0 ? KOSCHMIEDER / rnd.conditions.fogDensity : Infinity;

    this.stats = packedMap(bodies, (): ActorStats => ({
      minDist: Infinity,
      firstInPath: null,
      firstDetected: null,
    }));
    this.lastPerceptionOdo = ego.odometer;
    this.f = egoFrame(ego, sc.road, this.egoLaneY);
    this.reaches = packedMap(
      bodies,
      (b) => (Math.hypot(ego.spec.size.length, ego.spec.size.width) + Math.hypot(b.length, b.width)) / 2,
    );
    this.laneRight = this.f.laneRight;
    this.laneLeft = this.f.laneLeft;
    this.maxSteps = Math.round(sc.maxDuration / dt);
  }

  /** Runs the loop with this detector's view of the world (its input size is the camera's). */
  attach(detector: LoopDetector): void {
    this.detector = detector;
    this.camera = defaultCamera(detector.config.input.width, detector.config.input.height);
    this.tracker = new Tracker(this.camera, { ...DEFAULT_TRACKER, ...this.options.tracker });
    this.renderCtx ??= new RenderContext();
  }

  /** Runs ticks until a frame needs the detector (returned) or the run ends (null). */
  next(): Uint8Array | null {
    if (this.pending !== null) throw new Error('simulateRun: next() before detected() of the last frame');
    while (!this.ended && this.step < this.maxSteps) {
      const rgb = this.beginTick();
      if (rgb !== null) {
        this.pending = rgb;
        return rgb;
      }
      this.endTick();
    }
    return null;
  }

  /** The detector's detections of the frame next() returned; finishes that tick. */
  detected(detections: TrackerDetection[]): void {
    const rgb = this.pending;
    if (rgb === null) throw new Error('simulateRun: detected() without a frame');
    this.pending = null;
    const timing = this.timing;
    if (timing !== undefined) {
      const now = this.clock();
      timing.detect += now - this.tPhase;
      this.tPhase = now;
    }
    const objects = this.tracker.update(
      detections,
      this.every * this.dt,
      this.ego.odometer - this.lastPerceptionOdo,
    );
    if (timing !== undefined) timing.track += this.clock() - this.tPhase;
    this.perceived(objects, detections, rgb);
    this.endTick();
  }

  /**
   * The first half of a tick: the storyboard, and at the perception rate the camera frame; returns
   * the frame when the detector must see it, else perceives (ground truth) and returns null.
   */
  private beginTick(): Uint8Array | null {
    const time = this.step * this.dt;
    this.time = time;
    this.world.time = time;
    this.storyboard.tick(this.world);
    if (this.step % this.every !== 0) return null;

    const timing = this.timing;
    if (timing !== undefined) this.tPhase = this.clock();
    const f = this.f;
    const sc = this.sc;
    egoFrame(this.ego, sc.road, this.egoLaneY, f);
    let rgb: Uint8Array | null = null;
    if (this.detector !== null || this.options.record === true) {
      const state = buildWorldState(
        f,
        sc.road,
        this.bodies,
        this.egoIndex,
        this.look,
        this.rnd.conditions,
        this.camera,
        time,
        deriveSeed(this.seed, this.step),
      );
      const frame = renderCamera(state, this.renderCtx!, { reuseOutput: true });
      rgb = frame.rgb;
    }
    if (timing !== undefined) {
      const now = this.clock();
      timing.render += now - this.tPhase;
      this.tPhase = now;
      timing.frames++;
    }
    if (this.detector !== null) return rgb;
    const objects = groundTruthObjects(f, this.camera, this.bodies, this.egoIndex, this.moved, this.gtRange);
    this.perceived(objects, [], rgb);
    return null;
  }

  /** What the ego perceived this frame: the controller decides; first detections are noted. */
  private perceived(
    objects: PerceivedObject[],
    detections: TrackerDetection[],
    rgb: Uint8Array | null,
  ): void {
    const ego = this.ego;
    const f = this.f;
    const time = this.time;
    this.lastPerceptionOdo = ego.odometer;
    const egoView = {
      speed: ego.v,
      front: f.front,
      halfWidth: f.halfWidth,
      laneRight: f.laneRight - f.ry,
      laneLeft: f.laneLeft - f.ry,
    };
    const decision = this.controller.decide(objects, egoView);
    this.decision = decision;
    if (decision.fcw && this.fcwTime === null) this.fcwTime = time;
    if (decision.aeb && this.aebTime === null) this.aebTime = time;
    // time to first detection: which actors does a perceived object match?
    for (const b of this.bodies) {
      if (b === ego) continue;
      const st = this.stats[b.index]!;
      if (st.firstDetected !== null) continue;
      if (this.detector === null) {
        for (const o of objects) {
          if (o.id !== b.index) continue;
          st.firstDetected = time;
          break;
        }
      } else {
        const pr = projectBody(f, this.camera, b);
        if (pr === null) continue;
        for (const o of objects) {
          if (o.box === null || !(iou(o.box, pr.box) >= 0.3)) continue;
          st.firstDetected = time;
          break;
        }
      }
    }
    this.options.onPerception?.({ time, objects, detections, decision, egoSpeed: ego.v });
    if (this.options.record === true && rgb !== null) {
      this.frames.push(recordFrame(time, this.camera, rgb, detections, objects, this.bodies, decision, ego));
    }
  }

  /** The second half of a tick: every body moves, the metrics update, the end conditions are checked. */
  private endTick(): void {
    const d = this.decision!;
    const ego = this.ego;
    const aPrev = ego.a;
    this.move(d);
    const time = (this.step + 1) * this.dt;
    this.time = time;
    this.measure(d, aPrev, time);
    this.step++;
    if (this.collision !== null) {
      this.endReason = 'collision';
      this.ended = true;
      return;
    }
    this.world.time = time;
    if (this.storyboard.stopped(this.world)) {
      this.endReason = 'stop-trigger';
      this.ended = true;
      return;
    }
    if (ego.x + ego.spec.size.length / 2 >= this.sc.road.length) {
      this.endReason = 'road-end';
      this.ended = true;
    }
  }

  /** Moves the ego by the controller's command and every other body by its own behaviour. */
  private move(d: ControlDecision): void {
    const ego = this.ego;
    const dt = this.dt;
    const bodies = this.bodies;
    const laneWidth = this.sc.road.laneWidth;
    const limits = this.egoLimits;
    limits.jerkUp = d.jerkUp;
    limits.jerkDown = d.jerkDown;
    stepBody(ego, d.accel, dt, limits);
    for (const b of bodies) {
      if (b === ego) continue;
      stepBody(b, actorAccel(b, bodies, laneWidth, dt), dt, b.pedestrian ? null : ACTOR_LIMITS);
    }
  }

  /** Updates the metrics after a move (`time` is the end of the tick). */
  private measure(d: ControlDecision, aPrev: number, time: number): void {
    const ego = this.ego;
    const dt = this.dt;
    const sc = this.sc;
    const f = this.f;
    const decel = -ego.a;
    if (decel > this.maxDecel) this.maxDecel = decel;
    // jerk while moving (the step to a = 0 when the car comes to rest is not a control jerk)
    if (ego.v > 0.05) {
      const jerk = Math.abs(ego.a - aPrev) / dt;
      if (jerk > this.maxJerk) this.maxJerk = jerk;
    }
    if (ego.v > sc.road.speedLimit + 1) this.speedViolation += dt;
    egoFrame(ego, sc.road, this.egoLaneY, f);
    if (!this.laneDeparture) {
      const hl = ego.spec.size.length / 2;
      const hw = ego.spec.size.width / 2;
      const reach = Math.abs(Math.sin(ego.h)) * hl + Math.abs(Math.cos(ego.h)) * hw;
      if (ego.y + reach > this.laneLeft || ego.y - reach < this.laneRight) this.laneDeparture = true;
    }
    const threatNow = this.actorMetrics(time);
    const braking = d.fcw || d.aeb || (d.mode !== 'cruise' && d.accel < -COMFORT_DECEL);
    if (braking) {
      if (!this.inBrake) {
        this.inBrake = true;
        this.brakeJustified = false;
      }
      if (threatNow) this.brakeJustified = true;
    } else if (this.inBrake) {
      this.inBrake = false;
      if (!this.brakeJustified) this.falseBrakes++;
    }
  }

  /**
   * Distances, collision, the ego path's occupants and TTC for every actor after a move; returns
   * whether a real threat is in (or entering) the ego's path now.
   */
  private actorMetrics(time: number): boolean {
    const ego = this.ego;
    const f = this.f;
    const egoBox = footprint(ego);
    const extent = this.extent;
    let minTtc = this.minTtc;
    let threatNow = false;
    for (const b of this.bodies) {
      if (b === ego) continue;
      const st = this.stats[b.index]!;
      const bBox = footprint(b);
      const reach = this.reaches[b.index]!;
      const centre = centreDistance(b.x - ego.x, b.y - ego.y, reach, st.minDist);
      if (centre - reach < st.minDist) {
        const dist = obbDistance(egoBox, bBox);
        if (dist < st.minDist) st.minDist = dist;
      }
      if (this.collision === null && centre <= reach && obbOverlap(egoBox, bBox)) {
        const evx = ego.v * Math.cos(ego.h) - b.v * Math.cos(b.h);
        const evy = ego.v * Math.sin(ego.h) - b.v * Math.sin(b.h);
        this.collision = { body: b, speed: Math.hypot(evx, evy) };
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
          const cp = this.controller.params;
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
    this.minTtc = minTtc;
    return threatNow;
  }

  /** The run's result, once next() returned null. */
  result(wallS: number): RunResult {
    const { bodies, ego, stats, sc, collision, minTtc } = this;
    let falseBrakes = this.falseBrakes;
    if (this.inBrake && !this.brakeJustified) falseBrakes++;

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
    const simS = this.step * this.dt;
    const metrics: RunMetrics = {
      collision: collision !== null,
      collisionEntity: collision?.body.spec.name ?? null,
      collisionClass: (collision?.body.spec.cls as ActorClass | undefined) ?? null,
      impactSpeedMps: collision?.speed ?? 0,
      minTtcS: Number.isFinite(minTtc) ? minTtc : null,
      minDistanceM: Number.isFinite(minDistance) ? minDistance : 0,
      maxDecelMps2: this.maxDecel,
      maxJerkMps3: this.maxJerk,
      falseBrakeEvents: falseBrakes,
      laneDeparture: this.laneDeparture,
      speedLimitViolationS: this.speedViolation,
      timeToFirstDetectionS: ttfd,
      fcwTimeS: this.fcwTime,
      aebTimeS: this.aebTime,
      nearMiss: collision === null && ((Number.isFinite(minTtc) && minTtc < 1) || minDistance < 0.5),
      threatClass: threat?.spec.cls ?? null,
      distanceM: ego.odometer,
      durationS: simS,
      endReason: this.endReason,
    };
    const result: RunResult = {
      variantId: this.variantId,
      seed: this.options.seed,
      model: this.label,
      metrics,
      randomization: this.rnd.record,
      wallS,
      simS,
    };
    if (this.options.record === true) result.frames = this.frames;
    return result;
  }
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
