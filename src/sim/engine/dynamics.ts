/**
 * Motion of the simulated bodies: OpenSCENARIO transition shapes, the kinematic bicycle model with
 * acceleration and jerk limits (vehicles, the ego included), holonomic walking (pedestrians), and
 * the Intelligent Driver Model for actors that follow traffic.
 *
 * All positions are in the road frame (x along the road, y to the left, h counter-clockwise) and
 * refer to the centre of the entity's bounding box on the ground.
 */
import type { EntitySpec, TransitionDynamics } from '../types.js';
import { wrapAngle } from './geometry.js';

/** The value of a transition shape at progress p in [0, 1] (0 at the start, 1 at the end). */
export function shapeValue(shape: TransitionDynamics['shape'], p: number): number {
  const q = p <= 0 ? 0 : p >= 1 ? 1 : p;
  switch (shape) {
    case 'step':
      return 1;
    case 'linear':
      return q;
    case 'cubic':
      return q * q * (3 - 2 * q);
    case 'sinusoidal':
      return (1 - Math.cos(Math.PI * q)) / 2;
  }
}

/** Derivative of the shape with respect to progress (for feed-forward rates). */
export function shapeSlope(shape: TransitionDynamics['shape'], p: number): number {
  if (p <= 0 || p >= 1) return 0;
  switch (shape) {
    case 'step':
      return 0;
    case 'linear':
      return 1;
    case 'cubic':
      return 6 * p * (1 - p);
    case 'sinusoidal':
      return (Math.PI / 2) * Math.sin(Math.PI * p);
  }
}

/**
 * A running transition from `from` to `to` (a speed, or a lateral position) along a shape, measured
 * in time or in distance travelled. 'rate' dynamics become a time span of |to - from| / rate.
 */
export interface Transition {
  from: number;
  to: number;
  shape: TransitionDynamics['shape'];
  /** What progress is measured in. */
  over: 'time' | 'distance';
  /** Total span (seconds or metres); 0 means immediate. */
  span: number;
  /** Elapsed seconds or metres so far. */
  elapsed: number;
}

/** Builds a transition from OpenSCENARIO dynamics. */
export function makeTransition(from: number, to: number, d: TransitionDynamics): Transition {
  if (d.shape === 'step' || !(d.value > 0)) {
    return { from, to, shape: 'step', over: 'time', span: 0, elapsed: 0 };
  }
  if (d.dimension === 'rate') {
    return { from, to, shape: d.shape, over: 'time', span: Math.abs(to - from) / d.value, elapsed: 0 };
  }
  return { from, to, shape: d.shape, over: d.dimension, span: d.value, elapsed: 0 };
}

/** Progress of a transition in [0, 1]. */
export function transitionProgress(t: Transition): number {
  return t.span <= 0 ? 1 : Math.min(1, t.elapsed / t.span);
}

/** Value of a transition at its current progress. */
export function transitionValue(t: Transition): number {
  return t.from + (t.to - t.from) * shapeValue(t.shape, transitionProgress(t));
}

/** Rate of change of the value per second, given the body's speed (for distance-based spans). */
export function transitionRate(t: Transition, speed: number): number {
  if (t.span <= 0) return 0;
  const dp = t.over === 'time' ? 1 / t.span : Math.abs(speed) / t.span;
  return (t.to - t.from) * shapeSlope(t.shape, transitionProgress(t)) * dp;
}

/** One simulated body (ego, vehicle or pedestrian). */
export interface Body {
  index: number;
  spec: EntitySpec;
  pedestrian: boolean;
  x: number;
  y: number;
  h: number;
  /** Speed along the heading, m/s (>= 0). */
  v: number;
  /** Longitudinal acceleration applied in the last step, m/s^2. */
  a: number;
  /** Steering angle (vehicles), radians. */
  steer: number;
  /** Wheelbase (vehicles), metres. */
  wheelbase: number;
  /** Running longitudinal (speed) and lateral (lane change) actions. */
  speedAction: Transition | null;
  laneAction: Transition | null;
  /** Lateral position the body keeps when no lane change runs. */
  targetY: number;
  /** Speed the body keeps when no speed action runs (IDM desired speed for actors). */
  cruise: number;
  /** Distance travelled, metres. */
  odometer: number;
  /** Footprint length and width (the spec's size), so that a body is its own footprint (an Obb). */
  readonly length: number;
  readonly width: number;
}

/** Limits of the ego's longitudinal motion beyond its EntitySpec. */
export interface MotionLimits {
  /** Largest |jerk| while increasing braking / while releasing or accelerating, m/s^3. */
  jerkUp: number;
  jerkDown: number;
}

/** Creates a body from its spec at rest at the origin. */
export function makeBody(index: number, spec: EntitySpec): Body {
  return {
    index,
    spec,
    pedestrian: spec.cls === 'pedestrian',
    x: 0,
    y: 0,
    h: 0,
    v: 0,
    a: 0,
    steer: 0,
    wheelbase: Math.max(0.8, 0.6 * spec.size.length),
    speedAction: null,
    laneAction: null,
    targetY: 0,
    cruise: 0,
    odometer: 0,
    length: spec.size.length,
    width: spec.size.width,
  };
}

const LAT_GAIN = 1.5; // 1/s: lateral position error -> lateral velocity
const HEADING_GAIN = 6; // 1/s: heading error -> yaw rate
const MAX_STEER = 0.6; // rad

/**
 * Advances a body by dt with a commanded longitudinal acceleration: the command is clamped to the
 * body's acceleration/deceleration limits and, when `jerk` is given, to the jerk limits; speed
 * never goes negative. Vehicles move as a kinematic bicycle steered towards the lateral target
 * (the lane-change profile when one runs, else `targetY`), pedestrians walk along their heading.
 */
export function stepBody(b: Body, aCmd: number, dt: number, jerk: MotionLimits | null): void {
  let a = Math.max(-b.spec.maxDeceleration, Math.min(b.spec.maxAcceleration, aCmd));
  if (jerk !== null) {
    const da = a - b.a;
    const lim = (da < 0 ? jerk.jerkUp : jerk.jerkDown) * dt;
    if (da > lim) a = b.a + lim;
    else if (da < -lim) a = b.a - lim;
  }
  let v = b.v + a * dt;
  if (v < 0) {
    v = 0;
    // stopping: the effective deceleration is what took the speed to 0
    if (b.v <= 0) a = Math.max(a, 0);
  }
  if (b.spec.maxSpeed > 0 && v > b.spec.maxSpeed) v = b.spec.maxSpeed;
  const vMean = (b.v + v) / 2;
  b.a = a;
  b.v = v;
  if (b.pedestrian) {
    b.x += vMean * Math.cos(b.h) * dt;
    b.y += vMean * Math.sin(b.h) * dt;
  } else {
    let yRef = b.targetY;
    let yRate = 0;
    if (b.laneAction !== null) {
      yRef = transitionValue(b.laneAction);
      yRate = transitionRate(b.laneAction, vMean);
    }
    const vx = Math.max(vMean, 0.5);
    const hRef = Math.atan2(yRate + LAT_GAIN * (yRef - b.y), vx);
    const yawRate = HEADING_GAIN * wrapAngle(hRef - b.h);
    // centre-of-gravity kinematic bicycle with lf = lr = wheelbase / 2
    const lr = b.wheelbase / 2;
    const sinBeta = vMean > 0.05 ? Math.max(-0.5, Math.min(0.5, (yawRate * lr) / vMean)) : 0;
    const beta = Math.asin(sinBeta);
    b.steer = Math.max(-MAX_STEER, Math.min(MAX_STEER, Math.atan(2 * Math.tan(beta))));
    const betaEff = Math.atan(Math.tan(b.steer) / 2);
    b.x += vMean * Math.cos(b.h + betaEff) * dt;
    b.y += vMean * Math.sin(b.h + betaEff) * dt;
    b.h = wrapAngle(b.h + (vMean / lr) * Math.sin(betaEff) * dt);
  }
  b.odometer += vMean * dt;
  advanceActions(b, vMean, dt);
}

function advanceActions(b: Body, vMean: number, dt: number): void {
  const sa = b.speedAction;
  if (sa !== null && advanceTransition(sa, vMean, dt)) {
    b.cruise = sa.to;
    b.speedAction = null;
  }
  const la = b.laneAction;
  if (la !== null && advanceTransition(la, vMean, dt)) {
    b.targetY = la.to;
    b.laneAction = null;
  }
}

/** Advances a transition by one step (seconds or metres, by what it is measured in); true once it is complete. */
function advanceTransition(t: Transition, vMean: number, dt: number): boolean {
  t.elapsed += t.over === 'time' ? dt : vMean * dt;
  return transitionProgress(t) >= 1;
}

/** Intelligent Driver Model parameters (Treiber et al. 2000, typical urban/highway values). */
export const IDM = { accel: 1.5, decel: 2.0, headway: 1.5, minGap: 2.0, delta: 4 } as const;

/**
 * IDM acceleration of a follower at speed v wanting v0, with a leader `gap` metres ahead (free
 * space) closing at `dv` = v - vLeader; gap = Infinity for a free road.
 */
export function idmAccel(v: number, v0: number, gap: number, dv: number): number {
  const free = v0 > 0.1 ? 1 - Math.pow(v / v0, IDM.delta) : v > 0.05 ? -Infinity : 0;
  if (!Number.isFinite(gap)) return free === -Infinity ? -IDM.decel : IDM.accel * free;
  const sStar = IDM.minGap + Math.max(0, v * IDM.headway + (v * dv) / (2 * Math.sqrt(IDM.accel * IDM.decel)));
  const inter = Math.pow(sStar / Math.max(gap, 0.1), 2);
  if (free === -Infinity) return -IDM.decel;
  return IDM.accel * (free - inter);
}

/** Desired acceleration of an actor that tracks its speed action profile exactly (clamped later). */
export function profileAccel(b: Body, dt: number): number {
  const t = b.speedAction;
  if (t === null) return 0;
  const elapsed = t.elapsed + (t.over === 'time' ? dt : b.v * dt);
  const p = t.span <= 0 ? 1 : Math.min(1, elapsed / t.span);
  return (t.from + (t.to - t.from) * shapeValue(t.shape, p) - b.v) / dt;
}
