import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { DrivegateError } from '../core/errors.js';
import { parseYamlSource, validateWith } from './yaml.js';

function catchError(fn: () => unknown): DrivegateError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DrivegateError, String(err));
    return err;
  }
  assert.fail('expected an error');
}

test('broken YAML is BAD_INPUT naming the file and the line', () => {
  const text = 'rules:\n  - id: a\n    kind: [unclosed\n  - id: b\n';
  const err = catchError(() => parseYamlSource(text, 'gates.yaml'));
  assert.equal(err.code, 'BAD_INPUT');
  assert.equal(err.location.file, 'gates.yaml');
  assert.equal(typeof err.location.line, 'number');
  assert.ok(err.location.line! >= 3, `line ${err.location.line}`);
  assert.match(err.message, /^gates\.yaml:\d+: invalid YAML/);
});

test('duplicate keys are rejected with their line', () => {
  const err = catchError(() => parseYamlSource('a: 1\nb: 2\na: 3\n', 'x.yaml'));
  assert.equal(err.location.line, 3);
});

test('a schema violation names the key path and the line of that key', () => {
  const src = parseYamlSource('name: x\nitems:\n  - n: 1\n  - n: two\n', 'f.yaml');
  const schema = z.strictObject({ name: z.string(), items: z.array(z.strictObject({ n: z.number() })) });
  const err = catchError(() => validateWith(src, schema));
  assert.equal(err.location.field, 'items[1].n');
  assert.equal(err.location.line, 4);
  assert.equal(err.found, '"two"');
  assert.equal(err.expected, 'a number');
});

test('an unknown key is named with its line', () => {
  const src = parseYamlSource('name: x\nnmae: y\n', 'f.yaml');
  const err = catchError(() => validateWith(src, z.strictObject({ name: z.string() })));
  assert.equal(err.location.field, 'nmae');
  assert.equal(err.location.line, 2);
});
