import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { idmAccel, makeBody, makeTransition, profileAccel, shapeValue, stepBody } from './dynamics.js';
import { carSpec, pedestrianSpec } from './hand-scenarios.js';

const close = (a: number, b: number, tol: number, what = ''): void =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b} (tol ${tol})`);

/** Runs an actor's speed action from v0 to v1 and samples its speed at the given times. */
function speedProfile(
  shape: 'step' | 'linear' | 'cubic' | 'sinusoidal',
  dimension: 'time' | 'rate' | 'distance',
  value: number,
  v0: number,
  v1: number,
  at: number[],
): number[] {
  const b = makeBody(0, { ...carSpec('A'), maxAcceleration: 20, maxDeceleration: 20 });
  b.v = v0;
  b.cruise = v0;
  b.speedAction = makeTransition(v0, v1, { shape, dimension, value });
  const out: number[] = [];
  const dt = 0.01;
  for (let k = 1; k <= Math.round(Math.max(...at) / dt); k++) {
    stepBody(b, b.speedAction !== null ? profileAccel(b, dt) : idmAccel(b.v, b.cruise, Infinity, 0), dt, {
      jerkUp: 1000,
      jerkDown: 1000,
    });
    if (at.some((t) => Math.abs(t - k * dt) < 1e-9)) out.push(b.v);
  }
  return out;
}

describe('speed transition shapes', () => {
  it('shape values: linear, cubic (smoothstep) and sinusoidal go from 0 to 1 with their midpoints', () => {
    for (const s of ['linear', 'cubic', 'sinusoidal'] as const) {
      close(shapeValue(s, 0), 0, 1e-12, s);
      close(shapeValue(s, 1), 1, 1e-12, s);
      close(shapeValue(s, 0.5), 0.5, 1e-12, s);
    }
    close(shapeValue('linear', 0.25), 0.25, 1e-12);
    close(shapeValue('cubic', 0.25), 0.15625, 1e-12);
    close(shapeValue('sinusoidal', 0.25), (1 - Math.cos(Math.PI / 4)) / 2, 1e-12);
    assert.equal(shapeValue('step', 0), 1);
  });

  it('a linear speed change over 2 s passes through the straight line', () => {
    const v = speedProfile('linear', 'time', 2, 10, 20, [0.5, 1, 2, 3]);
    close(v[0]!, 12.5, 0.06);
    close(v[1]!, 15, 0.06);
    close(v[2]!, 20, 0.06);
    close(v[3]!, 20, 0.06, 'then keeps the target speed');
  });

  it('a cubic change is slow at both ends and a sinusoidal one follows the half cosine', () => {
    const c = speedProfile('cubic', 'time', 2, 0, 10, [0.5, 1, 1.5]);
    close(c[0]!, 1.5625, 0.06);
    close(c[1]!, 5, 0.06);
    close(c[2]!, 8.4375, 0.06);
    const s = speedProfile('sinusoidal', 'time', 2, 0, 10, [0.5, 1]);
    close(s[0]!, (10 * (1 - Math.cos(Math.PI / 4))) / 2, 0.06);
    close(s[1]!, 5, 0.06);
  });

  it("a 'rate' change brakes at that deceleration: 6 m/s^2 from 20 m/s stops in 3.33 s", () => {
    const v = speedProfile('linear', 'rate', 6, 20, 0, [1, 2, 3, 3.5]);
    close(v[0]!, 14, 0.07);
    close(v[1]!, 8, 0.07);
    close(v[2]!, 2, 0.07);
    close(v[3]!, 0, 1e-9);
  });

  it("a 'distance' change completes over that distance", () => {
    const b = makeBody(0, { ...carSpec('A'), maxAcceleration: 20, maxDeceleration: 20 });
    b.v = 10;
    b.speedAction = makeTransition(10, 20, { shape: 'linear', dimension: 'distance', value: 25 });
    for (let k = 0; k < 1000 && b.speedAction !== null; k++) stepBody(b, profileAccel(b, 0.01), 0.01, null);
    assert.equal(b.speedAction, null);
    close(b.odometer, 25, 0.25);
    close(b.v, 20, 0.05);
  });

  it('the entity performance limits the achievable acceleration', () => {
    const b = makeBody(0, carSpec('A')); // maxAcceleration 4
    b.speedAction = makeTransition(0, 20, { shape: 'linear', dimension: 'time', value: 1 });
    for (let k = 0; k < 100; k++) stepBody(b, profileAccel(b, 0.01), 0.01, null);
    close(b.v, 4, 1e-9);
  });
});

describe('vehicle and pedestrian motion', () => {
  it('jerk limits bound the change of acceleration', () => {
    const b = makeBody(0, carSpec('Ego', true));
    b.v = 20;
    const a: number[] = [];
    for (let k = 0; k < 30; k++) {
      stepBody(b, -9, 0.01, { jerkUp: 50, jerkDown: 10 });
      a.push(b.a);
    }
    close(a[0]!, -0.5, 1e-9);
    close(a[9]!, -5, 1e-9);
    close(a[29]!, -9, 1e-9);
  });

  it('a vehicle keeps its lane and speed without commands (kinematic bicycle, no drift)', () => {
    const b = makeBody(0, carSpec('A'));
    b.y = -1.75;
    b.targetY = -1.75;
    b.v = 15;
    for (let k = 0; k < 1000; k++) stepBody(b, 0, 0.01, null);
    close(b.x, 150, 1e-6);
    close(b.y, -1.75, 1e-9);
  });

  it('a pedestrian walks along its heading at its speed', () => {
    const p = makeBody(0, pedestrianSpec('P'));
    p.h = Math.PI / 2;
    p.v = 1.4;
    p.cruise = 1.4;
    for (let k = 0; k < 500; k++) stepBody(p, 0, 0.01, null);
    close(p.y, 7, 1e-6);
    close(p.x, 0, 1e-9);
  });

  it('IDM brakes behind a slower leader and keeps the desired speed on a free road', () => {
    assert.ok(idmAccel(20, 20, Infinity, 0) === 0);
    assert.ok(idmAccel(20, 25, 15, 10) < -2);
    assert.ok(idmAccel(10, 20, Infinity, 0) > 1);
  });
});
