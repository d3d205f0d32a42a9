/**
 * The proxy planner/controller that drives the ego from perceived objects: adaptive cruise control
 * (set speed from the scenario's ego SpeedAction, constant-time-gap following of the in-path lead
 * vehicle), forward collision warning and staged autonomous emergency braking on time to
 * collision, with jerk limits. Threshold values and their sources: docs/decisions-sim-engine.md.
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
  /** Jerk limits: comfort (ACC) and emergency (AEB), m/s^3. */
  comfortJerk: number;
  emergencyJerk: number;
  /** Lateral margin added to the ego lane corridor for the in-path test, m (negative narrows it). */
  corridorMargin: number;
  /** Longest look-ahead of the lateral prediction of objects, s. */
  predictionHorizon: number;
}

/** Defaults (sources in docs/decisions-sim-engine.md). */
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
  comfortJerk: 2.5,
  emergencyJerk: 50,
  corridorMargin: 0,
  predictionHorizon: 3,
};

/** Controller modes, as RecordedFrame.mode reports them. */
export type ControlMode = 'cruise' | 'follow' | 'fcw' | 'aeb-partial' | 'aeb-full';

/** What the controller knows of the ego and its lane (ego frame). */
export interface EgoView {
  speed: number;
  /** Front bumper ahead of the rear axle, m. */
  front: number;
  /** Ego lane corridor, lateral bounds in the ego frame. */
  laneRight: number;
  laneLeft: number;
}

/** One assessed object: its gap, closing speed, TTC and whether it is in the ego path. */
export interface Assessment {
  obj: PerceivedObject;
  gap: number;
  closing: number;
  ttc: number;
  inPath: boolean;
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

/** Gap, closing speed, TTC and in-path test of an object (in-path: ego lane corridor, predicted at TTC). */
export function assess(o: PerceivedObject, ego: EgoView, p: ControllerParams): Assessment {
  const gap = o.x - ego.front;
  const closing = ego.speed - o.vx;
  const ttc = gap <= 0 ? 0 : closing > 0.1 ? gap / closing : Infinity;
  const horizon = Math.min(Number.isFinite(ttc) ? ttc : p.predictionHorizon, p.predictionHorizon);
  const yNow = o.y;
  const yThen = o.y + o.vy * horizon;
  const lo = ego.laneRight - p.corridorMargin;
  const hi = ego.laneLeft + p.corridorMargin;
  const overlaps = (y: number): boolean => y + o.halfWidth > lo && y - o.halfWidth < hi;
  // in path: inside the corridor now and not leaving it before arrival, or entering it by then
  const inPath = gap > -0.5 && (overlaps(yThen) || (overlaps(yNow) && Math.abs(o.vy) < 0.3));
  return { obj: o, gap, closing, ttc, inPath };
}

/**
 * The staged controller. Keeps its AEB stage between frames (latched until the threat is gone or
 * the ego has stopped) so that braking does not chatter.
 */
export class Controller {
  private stage: 0 | 1 | 2 = 0;
  setSpeed = 0;

  constructor(readonly params: ControllerParams = DEFAULT_CONTROLLER) {}

  /** Decides the command for this perception frame. */
  decide(objects: readonly PerceivedObject[], ego: EgoView): ControlDecision {
    const p = this.params;
    let lead: Assessment | null = null;
    let threat: Assessment | null = null;
    for (const o of objects) {
      const a = assess(o, ego, p);
      if (!a.inPath) continue;
      if (threat === null || a.ttc < threat.ttc || (a.ttc === threat.ttc && a.gap < threat.gap)) threat = a;
      if (VEHICLES.has(o.cls) && a.gap > -0.5 && (lead === null || a.gap < lead.gap)) lead = a;
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
    // AEB stages: escalate on TTC; release when not closing any more or the threat left the path
    if (!closing || ego.speed < 0.05) this.stage = 0;
    else if (ttc < p.fullTtc) this.stage = 2;
    else if (ttc < p.partialTtc && this.stage < 1) this.stage = 1;
    else if (ttc > p.fcwTtc) this.stage = 0;
    const fcw = closing && ttc < p.fcwTtc;
    let accel = acc;
    if (fcw && mode !== 'follow') mode = 'fcw';
    else if (fcw) mode = 'fcw';
    let jerkUp = p.comfortJerk * 2;
    let jerkDown = p.comfortJerk;
    if (this.stage === 1) {
      accel = Math.min(acc, -p.partialDecel);
      mode = 'aeb-partial';
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
