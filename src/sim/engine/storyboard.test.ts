import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SimCondition, SimEvent, SimTrigger } from '../types.js';
import { makeBody, stepBody, type Body } from './dynamics.js';
import { carSpec, straightSimRoad } from './hand-scenarios.js';
import { Storyboard, TriggerState, conditionValue, timeToPosition, type StoryWorld } from './storyboard.js';

function worldWith(bodies: Body[], dt = 0.01): StoryWorld {
  return { time: 0, dt, road: straightSimRoad(), byName: new Map(bodies.map((b) => [b.spec.name, b])) };
}

function cond(c: Partial<SimCondition> & Pick<SimCondition, 'kind'>): SimCondition {
  return { name: 'c', delay: 0, edge: 'none', line: 1, ...c } as SimCondition;
}

function timeCond(value: number, extra: Partial<SimCondition> = {}): SimCondition {
  return cond({ kind: 'simulationTime', value, rule: 'greaterThan', ...extra } as SimCondition);
}

/** Steps a trigger through time and returns the times at which it evaluated true. */
function firings(trigger: SimTrigger, until: number, dt = 0.01, world = worldWith([], dt)): number[] {
  const t = new TriggerState(trigger, dt);
  const out: number[] = [];
  for (let k = 0; k * dt <= until + 1e-9; k++) {
    world.time = k * dt;
    if (t.evaluate(world)) out.push(Math.round(world.time * 100) / 100);
  }
  return out;
}

describe('trigger semantics', () => {
  it("edge 'none' is true for as long as the condition holds", () => {
    const f = firings({ groups: [[timeCond(0.5)]] }, 0.6);
    assert.deepEqual(f, [0.51, 0.52, 0.53, 0.54, 0.55, 0.56, 0.57, 0.58, 0.59, 0.6]);
  });

  it('a rising edge fires once, on the first tick the condition becomes true', () => {
    assert.deepEqual(firings({ groups: [[timeCond(0.5, { edge: 'rising' })]] }, 2), [0.51]);
  });

  it('a falling edge fires when the condition stops holding, never before it held', () => {
    const c = cond({ kind: 'simulationTime', value: 0.3, rule: 'lessThan', edge: 'falling' } as SimCondition);
    assert.deepEqual(firings({ groups: [[c]] }, 1), [0.3]);
  });

  it('a delay shifts the condition by its duration', () => {
    assert.deepEqual(firings({ groups: [[timeCond(0.5, { edge: 'rising', delay: 0.25 })]] }, 2), [0.76]);
  });

  it('conditions of a group are AND-ed and groups are OR-ed', () => {
    const and = {
      groups: [
        [timeCond(0.5), cond({ kind: 'simulationTime', value: 0.55, rule: 'lessThan' } as SimCondition)],
      ],
    };
    assert.deepEqual(firings(and, 1), [0.51, 0.52, 0.53, 0.54]);
    const or = {
      groups: [
        [timeCond(0.9)],
        [cond({ kind: 'simulationTime', value: 0.02, rule: 'lessThan' } as SimCondition)],
      ],
    };
    assert.deepEqual(firings(or, 0.92), [0, 0.01, 0.91, 0.92]);
  });

  it('equalTo on simulation time matches within half a step', () => {
    const c = cond({ kind: 'simulationTime', value: 0.333, rule: 'equalTo' } as SimCondition);
    assert.deepEqual(firings({ groups: [[c]] }, 1), [0.33]);
  });

  it('evaluates relative distance (longitudinal, freespace) with any/all triggering entities', () => {
    const ego = makeBody(0, carSpec('Ego', true));
    const a = makeBody(1, carSpec('A'));
    const b = makeBody(2, carSpec('B'));
    a.x = 30;
    b.x = 60;
    const world = worldWith([ego, a, b]);
    const base = {
      kind: 'relativeDistance',
      ref: 'Ego',
      value: 30,
      rule: 'lessThan',
      freespace: true,
      distanceType: 'longitudinal',
    } as const;
    // freespace gaps: A 25.4 m, B 55.4 m
    assert.equal(conditionValue(cond({ ...base, entities: ['A', 'B'], triggeringRule: 'any' }), world), true);
    assert.equal(
      conditionValue(cond({ ...base, entities: ['A', 'B'], triggeringRule: 'all' }), world),
      false,
    );
    assert.equal(conditionValue(cond({ ...base, entities: ['A'], freespace: false }), world), false);
  });

  it('evaluates time headway and time to collision between moving entities', () => {
    const ego = makeBody(0, carSpec('Ego', true));
    const lead = makeBody(1, carSpec('Lead'));
    ego.v = 20;
    lead.x = 40;
    lead.v = 10;
    const world = worldWith([ego, lead]);
    // headway 40 / 20 = 2 s (centres); TTC 40 / 10 = 4 s; freespace TTC (40 - 4.6) / 10 = 3.54 s
    const hw = (value: number) =>
      cond({
        kind: 'timeHeadway',
        entities: ['Ego'],
        ref: 'Lead',
        value,
        rule: 'lessThan',
        freespace: false,
      } as SimCondition);
    assert.equal(conditionValue(hw(2.01), world), true);
    assert.equal(conditionValue(hw(1.99), world), false);
    const ttc = (value: number, freespace: boolean) =>
      cond({
        kind: 'timeToCollision',
        entities: ['Ego'],
        target: { entity: 'Lead' },
        value,
        rule: 'lessThan',
        freespace,
      } as SimCondition);
    assert.equal(conditionValue(ttc(4.01, false), world), true);
    assert.equal(conditionValue(ttc(3.99, false), world), false);
    assert.equal(conditionValue(ttc(3.55, true), world), true);
    assert.equal(conditionValue(ttc(3.53, true), world), false);
  });

  it('measures time to a position from the front bumper along the heading (freespace)', () => {
    const ego = makeBody(0, carSpec('Ego', true));
    ego.v = 10;
    assert.ok(Math.abs(timeToPosition(ego, { x: 52.3, y: 1.2, h: 0 }, true) - 5) < 1e-9);
    assert.equal(timeToPosition(ego, { x: -5, y: 0, h: 0 }, true), Infinity);
  });

  it('reach position fires within the tolerance', () => {
    const ego = makeBody(0, carSpec('Ego', true));
    ego.x = 9;
    const world = worldWith([ego]);
    const c = (tolerance: number) =>
      cond({
        kind: 'reachPosition',
        entities: ['Ego'],
        position: { kind: 'world', x: 10, y: 0, h: 0 },
        tolerance,
      } as SimCondition);
    assert.equal(conditionValue(c(1.01), world), true);
    assert.equal(conditionValue(c(0.99), world), false);
  });
});

describe('storyboard execution', () => {
  function event(
    name: string,
    start: SimTrigger,
    actStart: SimTrigger | null,
    target: number,
    act = 'act',
  ): SimEvent {
    return {
      path: `story/${act}/mg/m/${name}`,
      name,
      actors: ['Car'],
      actions: [{ kind: 'speed', target, dynamics: { shape: 'step', dimension: 'time', value: 0 } }],
      start,
      priority: 'overwrite',
      maximumExecutionCount: 1,
      actStart,
    };
  }

  it('starts an event only after its act has started, and only once', () => {
    const car = makeBody(0, carSpec('Car'));
    const world = worldWith([car]);
    const always = { groups: [[timeCond(-1)]] };
    const sb = new Storyboard(
      [event('go', always, { groups: [[timeCond(1)]] }, 7)],
      null,
      0.01,
      'Ego',
      () => {},
    );
    for (let k = 0; k <= 300; k++) {
      world.time = k * 0.01;
      sb.tick(world);
      if (k === 100) assert.equal(car.v, 0, 'not before the act trigger');
    }
    assert.equal(car.v, 7);
    assert.deepEqual(
      sb.log.map((l) => [Math.round(l.time * 100) / 100, l.event]),
      [[1.01, 'story/act/mg/m/go']],
    );
  });

  it('sends an ego SpeedAction to the controller and reports the StopTrigger', () => {
    const ego = makeBody(0, carSpec('Ego', true));
    const world = worldWith([ego]);
    let set = 0;
    const ev: SimEvent = {
      ...event('slow', { groups: [[timeCond(0.2, { edge: 'rising' })]] }, null, 5),
      actors: ['Ego'],
    };
    const sb = new Storyboard([ev], { groups: [[timeCond(0.5)]] }, 0.01, 'Ego', (v) => (set = v));
    let stoppedAt = -1;
    for (let k = 0; k <= 100 && stoppedAt < 0; k++) {
      world.time = k * 0.01;
      sb.tick(world);
      if (sb.stopped(world)) stoppedAt = world.time;
    }
    assert.equal(set, 5);
    assert.equal(ego.v, 0);
    assert.ok(Math.abs(stoppedAt - 0.51) < 1e-9);
  });

  it('runs a lane change to the target lane and completes the event', () => {
    const car = makeBody(0, carSpec('Car'));
    car.y = -5.25;
    car.targetY = -5.25;
    car.v = 20;
    const world = worldWith([car]);
    const ev: SimEvent = {
      ...event('change', { groups: [[timeCond(-1)]] }, null, 0),
      actions: [
        {
          kind: 'laneChange',
          target: { absolute: -1 },
          targetLaneOffset: 0,
          dynamics: { shape: 'sinusoidal', dimension: 'time', value: 3 },
        },
      ],
    };
    const sb = new Storyboard([ev], null, 0.01, 'Ego', () => {});
    for (let k = 0; k < 600; k++) {
      world.time = k * 0.01;
      sb.tick(world);
      stepBody(car, 0, 0.01, null);
    }
    assert.ok(Math.abs(car.y - -1.75) < 0.02, `ends in lane -1 (y ${car.y})`);
    assert.ok(Math.abs(car.h) < 0.005, 'heading back along the lane');
    assert.equal(car.laneAction, null);
  });
});
