import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../core/paths.js';
import { loadScenario } from '../openscenario/index.js';
import type { Scenario, ScenarioVariant } from '../types.js';
import { simulateRun, type PerceptionInfo } from './run.js';

const dir = (): string => join(packageRoot(), 'examples', 'scenarios');

function variant(s: Scenario): ScenarioVariant {
  return {
    id: `${s.family}/default`,
    family: s.family,
    category: s.category,
    file: s.file,
    parameters: {},
    scenario: s,
  };
}

async function runGt(file: string, overrides: Record<string, string | number> = {}) {
  const s = await loadScenario(join(dir(), file), overrides);
  const seen: PerceptionInfo[] = [];
  const r = await simulateRun(variant(s), {
    seed: 7,
    perception: { kind: 'ground-truth' },
    onPerception: (i) => seen.push(i),
  });
  return { s, r, seen };
}

describe('the example OpenSCENARIO files run in the engine (ground truth)', () => {
  it('CCRs at 50 km/h: AEB stops behind the stationary target', async () => {
    const { r } = await runGt('ncap/CCRs.xosc', { ego_speed_kph: 50 });
    assert.equal(r.metrics.collision, false);
    assert.ok(r.metrics.aebTimeS !== null);
    assert.equal(r.metrics.threatClass, 'car');
  });

  it('CPNA: the pedestrian starts walking on its TTC trigger and the ego brakes for it', async () => {
    const { r, seen } = await runGt('ncap/CPNA.xosc', { ego_speed_kph: 40 });
    assert.equal(r.metrics.threatClass, 'pedestrian');
    assert.equal(r.metrics.collision, false);
    assert.ok(r.metrics.aebTimeS !== null);
    assert.ok(
      seen.some((i) => i.objects.some((o) => o.cls === 'pedestrian' && Math.abs(o.vy) > 1)),
      'it walks',
    );
  });

  it('without braking, CPNA ends in a collision with the pedestrian (the trigger times the impact)', async () => {
    const s = await loadScenario(join(dir(), 'ncap/CPNA.xosc'), { ego_speed_kph: 40 });
    const r = await simulateRun(variant(s), {
      seed: 7,
      perception: { kind: 'ground-truth' },
      controller: { fcwTtc: 0, partialTtc: 0, fullTtc: 0 },
    });
    assert.equal(r.metrics.collision, true);
    assert.equal(r.metrics.collisionClass, 'pedestrian');
  });

  it('CCRm, CCRb, CPFA, CBLA and the cut-in run to an end with metrics', async () => {
    for (const f of [
      'ncap/CCRm.xosc',
      'ncap/CCRb.xosc',
      'ncap/CPFA.xosc',
      'ncap/CBLA.xosc',
      'cut-in/cut-in.xosc',
    ]) {
      const { s, r } = await runGt(f);
      assert.ok(r.simS > 0 && r.simS <= s.maxDuration + 1e-9, f);
      assert.ok(['stop-trigger', 'max-duration', 'collision', 'road-end'].includes(r.metrics.endReason), f);
      assert.ok(r.metrics.threatClass !== null, f);
      assert.equal(r.metrics.falseBrakeEvents, 0, `${f}: no false braking with perfect perception`);
    }
  });
});
