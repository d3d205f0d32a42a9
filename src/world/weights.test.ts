import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DrivegateError } from '../core/errors.js';
import { DEFAULT_WEIGHTS, formatWeights, parseWeights } from './weights.js';

test('a weight group replaces that attribute and leaves the others at their defaults', () => {
  const w = parseWeights(['weather=clear:0.7,rain:0.3; time_of_day=day:1']);
  assert.deepEqual(w.weather, { clear: 0.7, rain: 0.3, fog: 0, snow: 0 });
  assert.deepEqual(w.time_of_day, { day: 1, dusk: 0, night: 0 });
  assert.deepEqual(w.region, DEFAULT_WEIGHTS.region);
});

test('repeated specs and road-type spelling with a dash are accepted', () => {
  const w = parseWeights(['road-type=urban:2', 'region=eu:1,us:1']);
  assert.deepEqual(w.road_type, { highway: 0, urban: 2, rural: 0 });
  assert.deepEqual(w.region, { eu: 1, us: 1, asia: 0 });
});

test('formatted weights parse back to the same weights', () => {
  const w = parseWeights(['weather=clear:0.5,fog:0.5']);
  assert.deepEqual(parseWeights([formatWeights(w)]), w);
});

for (const [spec, needle] of [
  ['weather', 'attribute=value'],
  ['colour=red:1', 'unknown attribute'],
  ['weather=sunny:1', 'unknown weather value'],
  ['weather=clear:-1', 'bad weight'],
  ['weather=clear:abc', 'bad weight'],
  ['weather=clear:0,rain:0', 'no positive weight'],
] as const) {
  test(`rejects the weights '${spec}' with a usage error naming --weights`, () => {
    assert.throws(
      () => parseWeights([spec]),
      (err: unknown) =>
        err instanceof DrivegateError &&
        err.code === 'USAGE' &&
        err.exitCode === 2 &&
        err.message.includes('--weights') &&
        err.message.includes(needle),
    );
  });
}
