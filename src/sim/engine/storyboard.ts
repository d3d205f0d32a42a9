/**
 * Storyboard execution: evaluates OpenSCENARIO conditions (with their rule, delay and edge) and
 * triggers (OR of AND-groups) against the simulated bodies, starts events when their act has
 * started and their own start trigger fires (priority, maximumExecutionCount), and applies their
 * actions (teleport, speed, lane change) to the actors.
 */
import type { Rule, SimAction, SimCondition, SimEvent, SimPosition, SimRoad, SimTrigger } from '../types.js';
import { makeTransition, type Body } from './dynamics.js';
import { obbDistance, type Obb } from './geometry.js';
import { packedMap } from './packed.js';

/** A resolved pose in the road frame. */
export interface Pose {
  x: number;
  y: number;
  h: number;
}

/** Centre y of lane `laneId` (OpenDRIVE id; negative ids are the +x driving lanes). */
export function laneCenter(road: SimRoad, laneId: number): number {
  return laneId < 0 ? (laneId + 0.5) * road.laneWidth : (laneId - 0.5) * road.laneWidth;
}

/** The OpenDRIVE lane id at lateral position y (driving lanes -1..-laneCount, positive to the left of the reference line). */
export function laneIdAt(road: SimRoad, y: number): number {
  return y <= 0 ? -(Math.floor(-y / road.laneWidth) + 1) : Math.floor(y / road.laneWidth) + 1;
}

/** What the storyboard reads of the simulation. */
export interface StoryWorld {
  time: number;
  dt: number;
  road: SimRoad;
  byName: ReadonlyMap<string, Body>;
}

/** Resolves a position to a pose (RelativeObject against the named body's current pose). */
export function resolvePosition(pos: SimPosition, world: StoryWorld, where: string): Pose {
  switch (pos.kind) {
    case 'world':
      return { x: pos.x, y: pos.y, h: pos.h };
    case 'lane':
      return {
        x: pos.s,
        y: laneCenter(world.road, pos.laneId) + pos.offset,
        h: pos.laneId > 0 ? Math.PI : 0,
      };
    case 'relativeObject': {
      const ref = world.byName.get(pos.entity);
      if (ref === undefined) throw new Error(`${where}: unknown entity '${pos.entity}'`);
      const c = Math.cos(ref.h);
      const s = Math.sin(ref.h);
      return { x: ref.x + c * pos.dx - s * pos.dy, y: ref.y + s * pos.dx + c * pos.dy, h: ref.h };
    }
  }
}

/** Compares a value with a condition's reference by rule (`eps` tolerance for equality). */
export function compare(value: number, rule: Rule, ref: number, eps = 1e-6): boolean {
  switch (rule) {
    case 'greaterThan':
      return value > ref;
    case 'lessThan':
      return value < ref;
    case 'equalTo':
      return Math.abs(value - ref) <= eps;
    case 'greaterOrEqual':
      return value >= ref - eps;
    case 'lessOrEqual':
      return value <= ref + eps;
    case 'notEqualTo':
      return Math.abs(value - ref) > eps;
  }
}

/** A body's footprint: the body itself (its centre, heading, length and width; no copy per call). */
export function footprint(b: Body): Obb {
  return b;
}

function body(world: StoryWorld, name: string, c: SimCondition): Body {
  const b = world.byName.get(name);
  if (b === undefined) throw new Error(`condition '${c.name}' (line ${c.line}): unknown entity '${name}'`);
  return b;
}

/** Relative distance of `e` to `ref` as a RelativeDistanceCondition measures it. */
export function relativeDistance(
  e: Body,
  ref: Body,
  type: 'longitudinal' | 'lateral' | 'cartesian',
  freespace: boolean,
): number {
  if (type === 'cartesian') {
    return freespace ? obbDistance(footprint(e), footprint(ref)) : Math.hypot(ref.x - e.x, ref.y - e.y);
  }
  // longitudinal / lateral in the road frame (the roads of the subset are straight along x)
  if (type === 'longitudinal') {
    const d = Math.abs(ref.x - e.x);
    return freespace ? Math.max(0, d - halfExtentX(e) - halfExtentX(ref)) : d;
  }
  const d = Math.abs(ref.y - e.y);
  return freespace ? Math.max(0, d - halfExtentY(e) - halfExtentY(ref)) : d;
}

function halfExtentX(b: Body): number {
  return (Math.abs(Math.cos(b.h)) * b.spec.size.length + Math.abs(Math.sin(b.h)) * b.spec.size.width) / 2;
}
function halfExtentY(b: Body): number {
  return (Math.abs(Math.sin(b.h)) * b.spec.size.length + Math.abs(Math.cos(b.h)) * b.spec.size.width) / 2;
}

/** Time headway of `e` behind `ref` (Infinity when ref is not ahead or e does not move). */
export function timeHeadway(e: Body, ref: Body, freespace: boolean): number {
  let d = ref.x - e.x;
  if (d <= 0) return Infinity;
  if (freespace) d = Math.max(0, d - halfExtentX(e) - halfExtentX(ref));
  return e.v > 1e-6 ? d / e.v : Infinity;
}

/**
 * Time to collision of `e` with another body (Infinity when not closing): distance between centres
 * (freespace: between the footprints) over the closing speed along the line between them.
 */
export function timeToCollision(e: Body, t: Body, freespace: boolean): number {
  const dx = t.x - e.x;
  const dy = t.y - e.y;
  const dist = Math.hypot(dx, dy);
  if (dist < 1e-9) return 0;
  const closing =
    ((e.v * Math.cos(e.h) - t.v * Math.cos(t.h)) * dx + (e.v * Math.sin(e.h) - t.v * Math.sin(t.h)) * dy) /
    dist;
  if (closing <= 1e-9) return Infinity;
  const gap = freespace ? obbDistance(footprint(e), footprint(t)) : dist;
  return gap / closing;
}

/**
 * Time for `e` to reach a position: the distance to it along e's heading (freespace: from e's
 * front bumper) over e's speed; Infinity when the point is behind or e does not move.
 */
export function timeToPosition(e: Body, p: Pose, freespace: boolean): number {
  const along = (p.x - e.x) * Math.cos(e.h) + (p.y - e.y) * Math.sin(e.h);
  const d = freespace ? along - e.spec.size.length / 2 : along;
  if (d < 0) return Infinity;
  return e.v > 1e-9 ? d / e.v : Infinity;
}

function checkEntity(c: SimCondition, name: string, world: StoryWorld): boolean {
  const e = body(world, name, c);
  switch (c.kind) {
    case 'simulationTime':
      return true;
    case 'reachPosition': {
      const p = resolvePosition(c.position, world, `condition '${c.name}'`);
      return Math.hypot(p.x - e.x, p.y - e.y) <= c.tolerance;
    }
    case 'relativeDistance':
      return compare(
        relativeDistance(e, body(world, c.ref, c), c.distanceType, c.freespace),
        c.rule,
        c.value,
      );
    case 'timeHeadway':
      return compare(timeHeadway(e, body(world, c.ref, c), c.freespace), c.rule, c.value);
    case 'timeToCollision': {
      const ttc =
        'entity' in c.target
          ? timeToCollision(e, body(world, c.target.entity, c), c.freespace)
          : timeToPosition(
              e,
              resolvePosition(c.target.position, world, `condition '${c.name}'`),
              c.freespace,
            );
      return compare(ttc, c.rule, c.value);
    }
  }
}

/** The raw (undelayed, edge-free) truth of a condition now. */
export function conditionValue(c: SimCondition, world: StoryWorld): boolean {
  if (c.kind === 'simulationTime') return compare(world.time, c.rule, c.value, world.dt / 2);
  const all = c.triggeringRule === 'all';
  if (c.entities.length === 0) return false;
  for (const name of c.entities) {
    const ok = checkEntity(c, name, world);
    if (all && !ok) return false;
    if (!all && ok) return true;
  }
  return all;
}

/** Evaluation state of one condition: its last raw value (edges) and a delay line (delay). */
class ConditionState {
  private prev = false;
  private readonly line: Uint8Array;
  private head = 0;

  constructor(
    readonly c: SimCondition,
    dt: number,
  ) {
    const steps = Math.max(0, Math.round(c.delay / dt));
    this.line = new Uint8Array(steps + 1);
  }

  /** Evaluates the condition at this tick: edge applied to the raw value, then delayed. */
  evaluate(world: StoryWorld): boolean {
    const raw = conditionValue(this.c, world);
    let v: boolean;
    switch (this.c.edge) {
      case 'none':
        v = raw;
        break;
      case 'rising':
        v = raw && !this.prev;
        break;
      case 'falling':
        v = !raw && this.prev;
        break;
      case 'risingOrFalling':
        v = raw !== this.prev;
        break;
    }
    this.prev = raw;
    const n = this.line.length;
    if (n === 1) return v;
    // delay line: write now, read the value written `n - 1` ticks ago
    this.line[this.head] = v ? 1 : 0;
    this.head = (this.head + 1) % n;
    return this.line[this.head] === 1;
  }
}

/** Evaluation state of a trigger (OR over groups of AND-ed conditions). */
export class TriggerState {
  private readonly groups: ConditionState[][];

  constructor(trigger: SimTrigger, dt: number) {
    this.groups = packedMap(trigger.groups, (g) => packedMap(g, (c) => new ConditionState(c, dt)));
  }

  /**
   * Evaluates every condition (all of them, so that edges and delay lines see every tick) and
   * returns true when some group has all its conditions true.
   */
  evaluate(world: StoryWorld): boolean {
    let fired = false;
    for (const g of this.groups) {
      let all = g.length > 0;
      for (const c of g) {
        if (!c.evaluate(world)) all = false;
      }
      if (all) fired = true;
    }
    return fired;
  }
}

type EventPhase = 'standby' | 'running' | 'complete';

/** An act's start trigger, shared by its events; `seen` is the tick that last evaluated it. */
interface ActState {
  trigger: TriggerState | null;
  fired: boolean;
  seen: number;
}

interface EventState {
  event: SimEvent;
  maneuver: string;
  phase: EventPhase;
  runs: number;
  start: TriggerState;
  act: ActState;
  /** Bodies and action kinds this event started, to know when it completes. */
  started: Array<{ body: Body; key: 'speedAction' | 'laneAction' | 'egoSpeed' }>;
}

/** What starting an ego SpeedAction does (the controller's set speed). */
export type EgoSpeedHandler = (target: number) => void;

/** Runs the storyboard of a scenario. */
export class Storyboard {
  private readonly events: EventState[];
  private readonly stop: TriggerState | null;
  private tickCount = 0;
  /** Log of started events (time, path), for debugging and tests. */
  readonly log: Array<{ time: number; event: string }> = [];

  constructor(
    events: readonly SimEvent[],
    stop: SimTrigger | null,
    dt: number,
    private readonly egoName: string,
    private readonly onEgoSpeed: EgoSpeedHandler,
  ) {
    const acts = new Map<string, ActState>();
    this.events = packedMap(events, (event) => {
      const parts = event.path.split('/');
      const actKey = parts.slice(0, 2).join('/');
      let act = acts.get(actKey);
      if (act === undefined) {
        act = {
          trigger: event.actStart === null ? null : new TriggerState(event.actStart, dt),
          fired: event.actStart === null,
          seen: 0,
        };
        acts.set(actKey, act);
      }
      return {
        event,
        maneuver: parts.slice(0, 4).join('/'),
        phase: 'standby' as EventPhase,
        runs: 0,
        start: new TriggerState(event.start, dt),
        act,
        started: [],
      };
    });
    this.stop = stop === null ? null : new TriggerState(stop, dt);
  }

  /** Evaluates act and event triggers at the current state and starts/completes events. */
  tick(world: StoryWorld): void {
    // each act's trigger is evaluated once per tick (events of one act share it); a tick stamp
    // marks the acts already seen (no Set per tick)
    const stamp = ++this.tickCount;
    for (const s of this.events) {
      if (!s.act.fired && s.act.trigger !== null && s.act.seen !== stamp) {
        s.act.seen = stamp;
        if (s.act.trigger.evaluate(world)) s.act.fired = true;
      }
    }
    for (const s of this.events) {
      if (s.phase === 'running' && this.finished(s)) {
        s.phase = s.runs < s.event.maximumExecutionCount ? 'standby' : 'complete';
        if (s.phase === 'standby') s.start = new TriggerState(s.event.start, world.dt);
      }
    }
    for (const s of this.events) {
      if (s.phase !== 'standby' || !s.act.fired) continue;
      if (!s.start.evaluate(world)) continue;
      if (
        s.event.priority === 'skip' &&
        this.events.some((o) => o !== s && o.maneuver === s.maneuver && o.phase === 'running')
      ) {
        continue;
      }
      if (s.event.priority === 'overwrite') {
        for (const o of this.events) {
          if (o !== s && o.maneuver === s.maneuver && o.phase === 'running') {
            o.phase = o.runs < o.event.maximumExecutionCount ? 'standby' : 'complete';
          }
        }
      }
      s.runs++;
      s.phase = 'running';
      s.started = [];
      this.log.push({ time: world.time, event: s.event.path });
      for (const actor of s.event.actors) {
        const b = world.byName.get(actor);
        if (b === undefined) throw new Error(`event ${s.event.path}: unknown actor '${actor}'`);
        for (const a of s.event.actions) {
          const key = applyAction(b, a, world, actor === this.egoName ? this.onEgoSpeed : null);
          if (key !== null) s.started.push({ body: b, key });
        }
      }
      if (this.finished(s)) s.phase = s.runs < s.event.maximumExecutionCount ? 'standby' : 'complete';
    }
  }

  /** True when the storyboard's StopTrigger fires now. */
  stopped(world: StoryWorld): boolean {
    return this.stop !== null && this.stop.evaluate(world);
  }

  /** Paths of events started so far, in order. */
  startedEvents(): string[] {
    return this.log.map((l) => l.event);
  }

  private finished(s: EventState): boolean {
    return s.started.every(({ body, key }) => key === 'egoSpeed' || body[key] === null);
  }
}

/**
 * Applies one action to a body now. Teleports happen at once; speed and lane changes start a
 * transition (on the ego, a SpeedAction sets the controller's set speed instead). Returns the
 * action slot it started, or null when it completed at once.
 */
export function applyAction(
  b: Body,
  a: SimAction,
  world: StoryWorld,
  egoSpeed: EgoSpeedHandler | null,
): 'speedAction' | 'laneAction' | 'egoSpeed' | null {
  switch (a.kind) {
    case 'teleport': {
      const p = resolvePosition(a.position, world, `teleport of ${b.spec.name}`);
      b.x = p.x;
      b.y = p.y;
      b.h = p.h;
      b.targetY = p.y;
      b.laneAction = null;
      return null;
    }
    case 'speed': {
      if (egoSpeed !== null) {
        egoSpeed(a.target);
        return 'egoSpeed';
      }
      const t = makeTransition(b.v, a.target, a.dynamics);
      if (t.span <= 0) {
        b.v = a.target;
        b.cruise = a.target;
        b.speedAction = null;
        return null;
      }
      b.speedAction = t;
      return 'speedAction';
    }
    case 'laneChange': {
      const road = world.road;
      let laneId: number;
      if ('absolute' in a.target) laneId = a.target.absolute;
      else {
        const ref = world.byName.get(a.target.relative.entity);
        if (ref === undefined)
          throw new Error(`lane change of ${b.spec.name}: unknown entity '${a.target.relative.entity}'`);
        // positive = to the left: towards -1 from -laneCount for driving lanes
        laneId = laneIdAt(road, ref.y) + a.target.relative.value;
        if (laneIdAt(road, ref.y) < 0 && laneId >= 0) laneId += 1;
      }
      const y1 = laneCenter(road, laneId) + a.targetLaneOffset;
      b.laneAction = makeTransition(b.y, y1, a.dynamics);
      if (b.laneAction.span <= 0) {
        b.y = y1;
        b.targetY = y1;
        b.laneAction = null;
        return null;
      }
      return 'laneAction';
    }
  }
}
