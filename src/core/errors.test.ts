import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DrivegateError, asDrivegateError, exitCodeOf } from './errors.js';

test('maps a gate failure to exit 1 and bad input to exit 2', () => {
  assert.equal(new DrivegateError('GATE_FAILED', 'no').exitCode, 1);
  assert.equal(new DrivegateError('BAD_INPUT', 'no').exitCode, 2);
  assert.equal(exitCodeOf(new Error('boom')), 3);
});

test('names the file, record and field, with what was expected and found', () => {
  const e = new DrivegateError('BAD_INPUT', 'bad score', {
    file: 'dt.json',
    record: 3,
    field: 'score',
    expected: 'a finite number >= 0',
    found: 'NaN',
  });
  assert.equal(
    e.message,
    "dt.json, record 3, field 'score': bad score; expected a finite number >= 0, found NaN",
  );
  assert.equal(e.httpStatus, 400);
  assert.equal(asDrivegateError(e), e);
});
