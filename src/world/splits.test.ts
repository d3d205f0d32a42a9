import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SPLITS, assignSplits, checkSplitSeparation } from './splits.js';
import type { SplitScene } from './splits.js';
import { planTimeline } from './timeline.js';
import { drawAttributes } from './scene.js';
import { deriveSeed } from './random.js';

function fleet(n: number, seed = 11): SplitScene[] {
  const attrs = Array.from({ length: n }, (_, i) => drawAttributes(deriveSeed(seed, i)));
  return planTimeline(seed, attrs, 5).map((p, i) => ({ ...p, region: attrs[i]!.region }));
}

test('without separation rules the split sizes follow the ratios', () => {
  const scenes = fleet(100);
  const splits = assignSplits(
    scenes,
    { train: 0.7, val: 0.15, test: 0.15 },
    { minGapSeconds: 0, geoSeparation: false },
    1,
  );
  const count = (s: string) => splits.filter((x) => x === s).length;
  assert.deepEqual([count('train'), count('val'), count('test')], [70, 15, 15]);
});

test('every split with a positive share gets a scene when there are enough scenes', () => {
  const splits = assignSplits(
    fleet(4),
    { train: 0.7, val: 0.15, test: 0.15 },
    { minGapSeconds: 0, geoSeparation: false },
    1,
  );
  for (const s of SPLITS) assert.ok(splits.includes(s), `no ${s}`);
  const none = assignSplits(
    fleet(10),
    { train: 1, val: 0, test: 0 },
    { minGapSeconds: 0, geoSeparation: false },
    1,
  );
  assert.ok(none.every((s) => s === 'train'));
});

test('geo separation keeps every geo cell in one split', () => {
  const scenes = fleet(300);
  const rules = { minGapSeconds: 0, geoSeparation: true };
  const splits = assignSplits(scenes, { train: 0.7, val: 0.15, test: 0.15 }, rules, 3);
  assert.deepEqual(checkSplitSeparation(scenes, splits, rules), []);
  for (const s of SPLITS) assert.ok(splits.includes(s));
  // and the check does find a violation when there is one
  const cell = scenes[0]!.geoCell;
  const other = scenes.findIndex((s, i) => i > 0 && s.geoCell === cell);
  if (other > 0) {
    const broken = [...splits];
    broken[other] = broken[0] === 'train' ? 'test' : 'train';
    assert.ok(checkSplitSeparation(scenes, broken, rules).some((v) => v.rule === 'geo'));
  }
});

test('a minimum time gap keeps scenes recorded close together in one split', () => {
  const scenes = fleet(300);
  const rules = { minGapSeconds: 120, geoSeparation: false };
  const splits = assignSplits(scenes, { train: 0.7, val: 0.15, test: 0.15 }, rules, 3);
  assert.deepEqual(checkSplitSeparation(scenes, splits, rules), []);
  for (const s of SPLITS) assert.ok(splits.includes(s));
  const plain = assignSplits(
    scenes,
    { train: 0.7, val: 0.15, test: 0.15 },
    { minGapSeconds: 0, geoSeparation: false },
    3,
  );
  assert.ok(checkSplitSeparation(scenes, plain, rules).length > 0, 'the fleet has near scenes to separate');
});

test('timelines are monotone per region and their local hour matches the time of day', () => {
  const attrs = Array.from({ length: 200 }, (_, i) => drawAttributes(deriveSeed(5, i)));
  const plan = planTimeline(5, attrs, 5);
  const offset = { eu: 1, us: -5, asia: 9 } as const;
  const last = new Map<string, number>();
  plan.forEach((p, i) => {
    const a = attrs[i]!;
    assert.ok(p.start >= (last.get(a.region) ?? -Infinity));
    last.set(a.region, p.end);
    assert.match(p.geoCell, new RegExp(`^${a.region}:\\d+:\\d+$`));
    const hour = (((p.start / 3600 + offset[a.region]) % 24) + 24) % 24;
    if (a.timeOfDay === 'day') assert.ok(hour >= 8 && hour < 16.5, `day at ${hour}`);
    if (a.timeOfDay === 'dusk') assert.ok(hour >= 17.5 && hour < 19.5, `dusk at ${hour}`);
    if (a.timeOfDay === 'night') assert.ok(hour >= 21 || hour < 4.5, `night at ${hour}`);
  });
  // a prefix of the scenes gets the same plan
  assert.deepEqual(planTimeline(5, attrs.slice(0, 50), 5), plan.slice(0, 50));
});
