/**
 * The proxy planner/controller that drives the ego from perceived objects: adaptive cruise control
 * (set speed from the scenario's ego SpeedAction, constant-time-gap following of the in-path lead
 * vehicle), forward collision warning and staged autonomous emergency braking on time to
 * collision, with jerk limits. Threshold values and their sources: docs/decisions.md#simulation-engine-6.
 */
import type { PerceivedObject } from './perception.js';

/** Controller parameters. */
export interface ControllerParams {
  /** ACC time gap (s) and standstill distance (m). */
  timeGap: number;
  standstillGap: number;
  /** ACC gains: gap error (1/s^2) and speed difference (1/s); speed control gain (1/s). */
  gapGain: number;
  speedDiffGain: number;
  speedGain: number;
  /** ACC acceleration range, m/s^2. */
  accMaxAccel: number;
  accMaxDecel: number;
  /** FCW, partial and full braking TTC thresholds, s. */
  fcwTtc: number;
  partialTtc: number;
  fullTtc: number;
  /** Partial and full AEB deceleration, m/s^2. */
  partialDecel: number;
  fullDecel: number;
  /**
   * Partial braking is raised to `neededFactor` x the deceleration needed to stop `stopMargin`
   * metres short of the object when the partial level would not suffice (m, factor).
   */
  stopMargin: number;
  neededFactor: number;
  /** Jerk limits: comfort (ACC) and emergency (AEB), m/s^3. */
  comfortJerk: number;
  emergencyJerk: number;
  /** Lateral margin beside the ego's width of the path that FCW/AEB protect, m each side. */
  pathMargin: number;
  /** FCW/AEB act only on objects whose speed estimate is this certain (1 sigma, m/s). */
  maxSpeedSigma: number;
  /** Longest look-ahead of the lateral prediction of objects, s. */
  predictionHorizon: number;
  /** AEB releases after the threat has been gone this long (s) while faster than releaseMinSpeed (m/s). */
  releaseS: number;
  releaseMinSpeed: number;
  /** Seconds between decisions (1 / perception rate; set by the engine). */
  framePeriod: number;
}

/** Defaults (sources in docs/decisions.md#simulation-engine-6). */
export const DEFAULT_CONTROLLER: ControllerParams = {
  timeGap: 1.8,
  standstillGap: 4,
  gapGain: 0.23,
  speedDiffGain: 0.7,
  speedGain: 0.4,
  accMaxAccel: 2.0,
  accMaxDecel: 3.5,
  fcwTtc: 2.6,
  partialTtc: 1.6,
  fullTtc: 0.9,
  partialDecel: 4,
  fullDecel: 9.5,
  stopMargin: 1,
  neededFactor: 1.2,
  comfortJerk: 2.5,
  emergencyJerk: 50,
  pathMargin: 0.25,
  maxSpeedSigma: 2.5,
  predictionHorizon: 3,
  releaseS: 0.5,
  releaseMinSpeed: 3,
  framePeriod: 0.1,
};

/** Controller modes, as RecordedFrame.mode reports them. */
export type ControlMode = 'cruise' | 'follow' | 'fcw' | 'aeb-partial' | 'aeb-full';

/** What the controller knows of the ego and its lane (ego frame). */
export interface EgoView {
  speed: number;
  /** Front bumper ahead of the rear axle, m. */
  front: number;
  /** Ego half width, m. */
  halfWidth: number;
  /** Ego lane corridor, lateral bounds in the ego frame. */
  laneRight: number;
  laneLeft: number;
}

/** One assessed object: its gap, closing speed, TTC, whether it is in the ego path and lane. */
export interface Assessment {
  obj: PerceivedObject;
  gap: number;
  closing: number;
  ttc: number;
  /** In the path the ego sweeps (its width + pathMargin), now or predicted at arrival: FCW/AEB. */
  inPath: boolean;
  /** Centre in the ego lane corridor now: ACC lead selection. */
  inLane: boolean;
}

/** The controller's decision of one perception frame. */
export interface ControlDecision {
  mode: ControlMode;
  /** Commanded acceleration, m/s^2. */
  accel: number;
  /** Jerk limits that apply to this command. */
  jerkUp: number;
  jerkDown: number;
  fcw: boolean;
  aeb: boolean;
  /** The most critical in-path object, if any. */
  threat: Assessment | null;
}

const VEHICLES = new Set(['car', 'truck', 'cyclist']);

/**
 * Gap, closing speed, TTC, and the two in-path tests of an object: its lateral extent overlapping
 * the ego's swept path (FCW/AEB), its centre inside the ego lane corridor (ACC lead); both now (for
 * objects not moving sideways) or predicted at the time of arrival (TTC, capped).
 */
export function assess(o: PerceivedObject, ego: EgoView, p: ControllerParams): Assessment {
  const gap = o.x - ego.front;
  const closing = ego.speed - o.vx;
  const ttc = gap <= 0 ? 0 : closing > 0.1 ? gap / closing : Infinity;
  const horizon = Math.min(Number.isFinite(ttc) ? ttc : p.predictionHorizon, p.predictionHorizon);
  // predict sideways only on a lateral velocity the track is consistent about
  const yThen = o.lateralConsistent ? o.y + o.vy * horizon : o.y;
  const still = Math.abs(o.vy) < 0.3;
  const pathHalf = ego.halfWidth + p.pathMargin;
  const inSwept = (y: number): boolean => y + o.halfWidth > -pathHalf && y - o.halfWidth < pathHalf;
  const inLane = o.y > ego.laneRight && o.y < ego.laneLeft;
  const ahead = gap > -0.5;
  return {
    obj: o,
    gap,
    closing,
    ttc,
    inPath: ahead && (inSwept(yThen) || (still && inSwept(o.y))),
    inLane: ahead && inLane,
  };
}

/**
 * The staged controller. Keeps its AEB stage between frames (latched until the threat is gone or
 * the ego has stopped) so that braking does not chatter.
 */
export class Controller {
  private stage: 0 | 1 | 2 = 0;
  /** True once AEB has brought the ego to a standstill: it then holds (no driver to resume). */
  private held = false;
  /** Consecutive frames without a critical threat while braking. */
  private calm = 0;
  setSpeed = 0;

  constructor(readonly params: ControllerParams = DEFAULT_CONTROLLER) {}

  /** Decides the command for this perception frame. */
  decide(objects: readonly PerceivedObject[], ego: EgoView): ControlDecision {
    const p = this.params;
    if (this.stage > 0 && ego.speed < 0.05) this.held = true;
    if (this.held) {
      return {
        mode: 'aeb-full',
        accel: -p.partialDecel,
        jerkUp: p.emergencyJerk,
        jerkDown: p.emergencyJerk,
        fcw: false,
        aeb: true,
        threat: null,
      };
    }
    let lead: Assessment | null = null;
    let threat: Assessment | null = null;
    for (const o of objects) {
      const a = assess(o, ego, p);
      // ACC follows moving (or once moving) vehicles only, as ISO 15622/22179 ACC does
      if (a.inLane && o.seenMoving && VEHICLES.has(o.cls) && (lead === null || a.gap < lead.gap)) lead = a;
      if (!a.inPath || o.speedSigma > p.maxSpeedSigma) continue;
      if (threat === null || a.ttc < threat.ttc || (a.ttc === threat.ttc && a.gap < threat.gap)) threat = a;
    }
    // ACC: speed control, limited by constant-time-gap following of the in-path lead vehicle
    let acc = p.speedGain * (this.setSpeed - ego.speed);
    let mode: ControlMode = 'cruise';
    if (lead !== null) {
      const desired = p.standstillGap + p.timeGap * ego.speed;
      const follow = p.gapGain * (lead.gap - desired) + p.speedDiffGain * (lead.obj.vx - ego.speed);
      if (follow < acc) {
        acc = follow;
        mode = 'follow';
      }
    }
    acc = Math.max(-p.accMaxDecel, Math.min(p.accMaxAccel, acc));
    // hold at standstill behind anything in path close ahead
    if (ego.speed < 0.5 && threat !== null && threat.gap < p.standstillGap + 2) acc = Math.min(acc, -1);

    const ttc = threat !== null ? threat.ttc : Infinity;
    const closing = threat !== null && threat.closing > 0.1;
    // AEB stages: escalate on TTC. Once braking, release only when the threat has been gone (left
    // the path, stopped closing, or TTC above the FCW threshold) for `releaseS` while the ego is
    // still above `releaseMinSpeed`; below it, brake to a standstill and hold.
    const critical = closing && ttc <= p.fcwTtc;
    // the deceleration needed to stop short of the object (relative motion, `stopMargin` to spare):
    // partial braking is raised to it (x `neededFactor`) when 4 m/s^2 would not suffice
    const needed =
      threat !== null && closing
        ? (threat.closing * threat.closing) / (2 * Math.max(threat.gap - p.stopMargin, 0.1))
        : 0;
    if (closing && ttc < p.fullTtc) this.stage = 2;
    else if (closing && ttc < p.partialTtc && this.stage < 1) this.stage = 1;
    if (this.stage > 0) {
      this.calm = critical ? 0 : this.calm + 1;
      if (this.calm * p.framePeriod >= p.releaseS && ego.speed > p.releaseMinSpeed) {
        this.stage = 0;
        this.calm = 0;
      }
    }
    const fcw = closing && ttc < p.fcwTtc;
    let accel = acc;
    if (fcw) mode = 'fcw';
    let jerkUp = p.comfortJerk * 2;
    let jerkDown = p.comfortJerk;
    if (this.stage === 1) {
      const decel = Math.min(p.fullDecel, Math.max(p.partialDecel, p.neededFactor * needed));
      accel = Math.min(acc, -decel);
      mode = decel >= p.fullDecel ? 'aeb-full' : 'aeb-partial';
    } else if (this.stage === 2) {
      accel = Math.min(acc, -p.fullDecel);
      mode = 'aeb-full';
    }
    if (this.stage > 0) {
      jerkUp = p.emergencyJerk;
      jerkDown = p.emergencyJerk / 5;
    }
    return { mode, accel, jerkUp, jerkDown, fcw, aeb: this.stage > 0, threat };
  }
}
