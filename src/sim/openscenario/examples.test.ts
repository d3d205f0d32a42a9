/**
 * The shipped example scenarios: every file validates against its declared XSD and builds, the sweeps
 * expand to the documented counts, and every variant is a real threat: with an ego that holds its
 * speed (no braking), a small independent kinematic check finds a collision.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../core/paths.js';
import type { Scenario, SimCondition, SimPosition } from '../types.js';
import { loadScenario, loadVariants, parseFilter, validateScenarios } from './index.js';

const dir = join(packageRoot(), 'examples', 'scenarios');

test('every example file validates against its declared XSD and builds', async () => {
  const files = await validateScenarios(dir);
  const byName = Object.fromEntries(files.map((f) => [f.file.split('/').pop() ?? '', f]));
  for (const fam of ['CCRs', 'CCRm', 'CCRb', 'CPNA', 'CPFA', 'CBLA']) {
    assert.equal(byName[`${fam}.xosc`]?.kind, 'scenario', fam);
    assert.equal(byName[`${fam}_sweep.xosc`]?.kind, 'distribution', fam);
  }
  assert.equal(byName['cut-in.xosc']?.version, '1.0');
  assert.deepEqual([...new Set(files.map((f) => f.version))].sort(), ['1.0', '1.1', '1.3']);
});

test('the example sweeps expand to the documented variant counts, with fog and night for CCRs and CPNA', async () => {
  const variants = await loadVariants(dir);
  const count: Record<string, number> = {};
  for (const v of variants) count[v.family] = (count[v.family] ?? 0) + 1;
  assert.deepEqual(count, { CBLA: 16, CCRb: 8, CCRm: 36, CCRs: 96, CPFA: 10, CPNA: 40, 'cut-in': 8 });
  assert.equal(new Set(variants.map((v) => v.id)).size, variants.length);
  for (const [fam, half] of [
    ['CCRs', 48],
    ['CPNA', 20],
  ] as const) {
    const fog = await loadVariants(dir, parseFilter(`family=${fam},weather=fog`));
    const night = await loadVariants(dir, parseFilter(`family=${fam},time_of_day=night`));
    assert.equal(fog.length, half, fam);
    assert.equal(night.length, half, fam);
    assert.ok(
      fog.every(
        (v) => v.scenario.environment.fogVisualRange !== null && v.scenario.environment.fogVisualRange < 1000,
      ),
    );
  }
  for (const v of variants) {
    assert.equal(v.category, v.family === 'cut-in' ? 'cut-in' : 'ncap');
  }
});

interface Body {
  x: number;
  y: number;
  h: number;
  v: number;
  target: number;
  rate: number;
  length: number;
  width: number;
  lane: { y0: number; y1: number; t0: number; T: number } | null;
}

/** First time (s) an ego that never brakes touches another entity, or null. */
function noBrakeCollision(s: Scenario): number | null {
  const W = s.road.laneWidth;
  const laneY = (k: number): number => -(-k - 0.5) * W;
  const place = (p: SimPosition): { x: number; y: number; h: number } => {
    if (p.kind === 'world') return { x: p.x, y: p.y, h: p.h };
    if (p.kind === 'lane') return { x: p.s, y: laneY(p.laneId) + p.offset, h: 0 };
    throw new Error('relative positions are not used by the examples');
  };
  const bodies = new Map<string, Body>();
  for (const e of s.entities) {
    const b: Body = {
      x: 0,
      y: 0,
      h: 0,
      v: 0,
      target: 0,
      rate: Infinity,
      length: e.size.length,
      width: e.size.width,
      lane: null,
    };
    for (const a of s.init.find((i) => i.entity === e.name)?.actions ?? []) {
      if (a.kind === 'teleport') Object.assign(b, place(a.position));
      if (a.kind === 'speed') b.v = b.target = a.target;
    }
    bodies.set(e.name, b);
  }
  const ego = bodies.get(s.ego) as Body;
  const holds = (c: SimCondition, t: number): boolean => {
    const cmp = (x: number): boolean =>
      c.kind === 'reachPosition'
        ? false
        : c.rule === 'lessThan'
          ? x < c.value
          : c.rule === 'greaterThan'
            ? x > c.value
            : x === c.value;
    if (c.kind === 'simulationTime') return cmp(t);
    if (c.kind === 'timeToCollision' && 'position' in c.target) {
      const p = place(c.target.position);
      const who = bodies.get(c.entities[0] ?? '') as Body;
      const gap = p.x - (who.x + who.length / 2);
      return gap > 0 && who.v > 0 && cmp(gap / who.v);
    }
    if (c.kind === 'relativeDistance' && c.distanceType === 'longitudinal' && c.freespace) {
      const a = bodies.get(c.entities[0] ?? '') as Body;
      const r = bodies.get(c.ref) as Body;
      return cmp(Math.abs(a.x - r.x) - (a.length + r.length) / 2);
    }
    throw new Error(`condition ${c.kind} not covered by the check`);
  };
  const fired = new Set<number>();
  const prev = new Map<number, boolean>();
  const dt = 0.01;
  for (let t = 0; t <= s.maxDuration; t += dt) {
    s.events.forEach((ev, i) => {
      if (fired.has(i)) return;
      const now = ev.start.groups.some((g) => g.every((c) => holds(c, t)));
      const edge = ev.start.groups[0]?.[0]?.edge ?? 'none';
      if (now && (edge !== 'rising' || prev.get(i) === false)) {
        fired.add(i);
        for (const actor of ev.actors) {
          const b = bodies.get(actor) as Body;
          for (const a of ev.actions) {
            if (a.kind === 'speed') {
              b.target = a.target;
              b.rate = a.dynamics.dimension === 'rate' ? a.dynamics.value : Infinity;
            } else if (a.kind === 'laneChange') {
              const ref = 'relative' in a.target ? (bodies.get(a.target.relative.entity) as Body) : null;
              const lane =
                ref !== null
                  ? -Math.floor(-ref.y / W) - 1 - ('relative' in a.target ? a.target.relative.value : 0)
                  : (a.target as { absolute: number }).absolute;
              b.lane = { y0: b.y, y1: laneY(lane) + a.targetLaneOffset, t0: t, T: a.dynamics.value };
            }
          }
        }
      }
      prev.set(i, now);
    });
    for (const b of bodies.values()) {
      const dv = b.target - b.v;
      b.v += Math.sign(dv) * Math.min(Math.abs(dv), b.rate * dt);
      b.x += b.v * Math.cos(b.h) * dt;
      b.y += b.v * Math.sin(b.h) * dt;
      if (b.lane !== null) {
        const tau = Math.min(1, (t - b.lane.t0) / b.lane.T);
        b.y = b.lane.y0 + ((b.lane.y1 - b.lane.y0) * (1 - Math.cos(Math.PI * tau))) / 2;
      }
    }
    for (const [name, b] of bodies) {
      if (name === s.ego) continue;
      const across = Math.abs(Math.sin(b.h)) > 0.7;
      const bl = across ? b.width : b.length;
      const bw = across ? b.length : b.width;
      if (Math.abs(b.x - ego.x) < (ego.length + bl) / 2 && Math.abs(b.y - ego.y) < (ego.width + bw) / 2)
        return t;
    }
  }
  return null;
}

test('every example variant is a real threat: an ego that does not brake collides, and not at once', async () => {
  const variants = await loadVariants(dir);
  for (const v of variants) {
    const t = noBrakeCollision(v.scenario);
    assert.ok(t !== null, `${v.id}: no collision without braking`);
    assert.ok(t > 1.5, `${v.id}: collision already at ${t.toFixed(2)} s`);
  }
});

test('the threat check notices a mistimed pedestrian or a target out of the ego path', async () => {
  const cpna = join(dir, 'ncap', 'CPNA.xosc');
  assert.notEqual(noBrakeCollision(await loadScenario(cpna)), null);
  // the trigger computed for a longer walk: starts about 4 s too early and has crossed before the ego arrives
  assert.equal(noBrakeCollision(await loadScenario(cpna, { walk_distance_m: 8 })), null);
  // the trigger computed for a very short walk: starts too late, the ego has passed
  assert.equal(noBrakeCollision(await loadScenario(cpna, { walk_distance_m: 0.2 })), null);
  // a bicyclist riding 2.7 m to the left of the ego's centre line is no threat
  assert.equal(
    noBrakeCollision(await loadScenario(join(dir, 'ncap', 'CBLA.xosc'), { impact_pct: 200 })),
    null,
  );
});
