import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DrivegateError } from '../core/errors.js';
import { throwsWith } from '../core/testing.js';
import { parseIntOption, parseNowOption, parseNumberOption } from './option-values.js';

const usageOf = (fn: () => unknown): DrivegateError => throwsWith(fn, 'USAGE');

test('parseIntOption accepts decimal integers within the range, surrounding spaces allowed', () => {
  assert.equal(parseIntOption('--batch', '8', 1, 1024), 8);
  assert.equal(parseIntOption('--batch', ' 1024 ', 1, 1024), 1024);
  assert.equal(parseIntOption('--workers', '0', 0, 64), 0);
});

test('parseIntOption rejects values out of range, signs, fractions, exponents and empty text', () => {
  for (const text of ['0', '1025', '-1', '+3', '2.5', '1e2', '', ' ', '0x10', 'eight']) {
    const err = usageOf(() => parseIntOption('--batch', text, 1, 1024));
    assert.equal(err.location.field, '--batch');
    assert.equal(err.expected, 'an integer in 1..1024');
    assert.equal(err.found, JSON.stringify(text));
  }
});

test('parseNumberOption accepts finite numbers within the range and rejects the rest', () => {
  assert.equal(parseNumberOption('--unknown-rate', '0.25', 0, 1), 0.25);
  for (const text of ['', '1.5', '-0.1', 'NaN', 'Infinity', 'x']) {
    const err = usageOf(() => parseNumberOption('--unknown-rate', text, 0, 1));
    assert.equal(err.expected, 'a number in 0..1');
  }
});

test('parseNowOption reads ISO 8601 times and rejects text that is not a time', () => {
  assert.equal(parseNowOption('2026-03-01T12:00:00Z').toISOString(), '2026-03-01T12:00:00.000Z');
  const err = usageOf(() => parseNowOption('yesterday'));
  assert.equal(err.location.field, '--now');
  assert.equal(err.expected, 'an ISO 8601 time');
  assert.equal(err.found, 'yesterday');
});
