import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DrivegateError } from '../../core/errors.js';
import type { ScenarioVariant } from '../types.js';
import { applyFilter, matchesFilter, parseFilter } from './filter.js';

function variant(
  family: string,
  weather: 'clear' | 'fog',
  timeOfDay: 'day' | 'night',
  speed: number,
): ScenarioVariant {
  const parameters = { ego_speed_kph: speed };
  return {
    id: `${family}/ego_speed_kph=${speed}`,
    family,
    category: 'ncap',
    file: `${family}.xosc`,
    parameters,
    scenario: {
      parameters: { ...parameters, family },
      environment: { weather, timeOfDay, fogVisualRange: null, precipitationIntensity: null, dateTime: null },
    } as unknown as ScenarioVariant['scenario'],
  };
}

const all = [
  variant('CCRs', 'fog', 'day', 50),
  variant('CCRs', 'clear', 'night', 20),
  variant('CPNA', 'fog', 'night', 50),
  variant('CCRm', 'fog', 'day', 50),
];

test('parses comma-separated key=value terms, grouping repeated keys', () => {
  assert.deepEqual(parseFilter('family=CCRs, family=CPNA,weather=fog').terms, {
    family: ['CCRs', 'CPNA'],
    weather: ['fog'],
  });
  assert.deepEqual(parseFilter('  ').terms, {});
});

test('same key twice is OR, different keys are AND', () => {
  const ids = (expr: string): string[] =>
    applyFilter(all, parseFilter(expr)).map((v) => `${v.family}:${v.scenario.environment.weather}`);
  assert.deepEqual(ids('family=CCRs,family=CPNA,weather=fog'), ['CCRs:fog', 'CPNA:fog']);
  assert.deepEqual(ids('time_of_day=night'), ['CCRs:clear', 'CPNA:fog']);
  assert.deepEqual(ids(''), ['CCRs:fog', 'CCRs:clear', 'CPNA:fog', 'CCRm:fog']);
});

test('compares numbers numerically and strings case-insensitively', () => {
  assert.equal(matchesFilter(all[0] as ScenarioVariant, parseFilter('ego_speed_kph=50.0')), true);
  assert.equal(matchesFilter(all[0] as ScenarioVariant, parseFilter('ego_speed_kph=5e1,family=ccrs')), true);
  assert.equal(matchesFilter(all[0] as ScenarioVariant, parseFilter('ego_speed_kph=20')), false);
});

test('refuses malformed terms and unknown keys with USAGE', () => {
  for (const bad of ['family', 'family=', '=CCRs', 'family=CCRs,,weather=fog']) {
    assert.throws(
      () => parseFilter(bad),
      (e: unknown) => e instanceof DrivegateError && e.code === 'USAGE',
      bad,
    );
  }
  assert.throws(
    () => applyFilter(all, parseFilter('wether=fog')),
    (e: unknown) =>
      e instanceof DrivegateError &&
      e.code === 'USAGE' &&
      /unknown filter key 'wether'/.test(e.message) &&
      /weather/.test(e.expected ?? ''),
  );
});
