import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DrivegateError } from '../../core/errors.js';
import { ParamScope, coerce, evaluate } from './params.js';

const where = { file: 'f.xosc', line: 7, field: 'X@y' };

function scopeOf(values: Record<string, string | number | boolean>): ParamScope {
  const s = new ParamScope();
  for (const [k, v] of Object.entries(values)) s.set(k, v);
  return s;
}

test('evaluates expressions with precedence, unary minus, parentheses and functions', () => {
  const s = scopeOf({ a: 50, b: 4, neg: -50 });
  assert.equal(evaluate('$a / 3.6 * 2', s, where), (50 / 3.6) * 2);
  assert.equal(evaluate('1 + 2 * 3 - 4 / 2', s, where), 5);
  assert.equal(evaluate('-(1 + 2) * -2', s, where), 6);
  assert.equal(evaluate('7 % 4', s, where), 3);
  assert.equal(
    evaluate('pow(2, 10) + sqrt($b) + round(2.5) + floor(-1.5) + ceil(0.2)', s, where),
    1024 + 2 + 3 - 2 + 1,
  );
  assert.equal(evaluate('$neg / sqrt($neg * $neg)', s, where), -1);
  assert.equal(evaluate('not 0 and 1', s, where), true);
  assert.equal(evaluate('0 or 0', s, where), false);
});

test('refuses bad expressions naming file, line and attribute', () => {
  const s = scopeOf({ a: 1, name: 'x' });
  for (const bad of ['1 +', '$missing + 1', 'foo(1)', '(1 + 2', '$name * 2', '1 / 0', '2 $a']) {
    assert.throws(
      () => evaluate(bad, s, where),
      (e: unknown) =>
        e instanceof DrivegateError &&
        e.code === 'BAD_INPUT' &&
        e.message.startsWith("f.xosc:7, field 'X@y'"),
      bad,
    );
  }
});

test('resolves $name and ${expr} attribute values and leaves plain text alone', () => {
  const s = scopeOf({ speed: 10 });
  assert.equal(s.resolve('$speed', where), 10);
  assert.equal(s.resolve('${$speed * 2}', where), 20);
  assert.equal(s.resolve('12.5', where), '12.5');
  assert.throws(() => s.resolve('$nope', where), /undeclared parameter \$nope/);
});

test('declarations coerce to their type, take overrides, see earlier ones and shadow outer scopes', () => {
  const outer = new ParamScope().declare(
    [
      { name: 'v', type: 'double', value: '10', line: 1 },
      { name: 'twice', type: 'double', value: '${$v * 2}', line: 2 },
      { name: 'n', type: 'integer', value: '3', line: 3 },
      { name: 'on', type: 'boolean', value: 'true', line: 4 },
    ],
    'f.xosc',
    new Map([['v', 25]]),
  );
  assert.equal(outer.get('v'), 25);
  assert.equal(outer.get('twice'), 50);
  assert.equal(outer.get('n'), 3);
  assert.equal(outer.get('on'), true);
  const inner = outer.declare([{ name: 'v', type: 'double', value: '1', line: 9 }], 'f.xosc');
  assert.equal(inner.get('v'), 1);
  assert.equal(inner.get('n'), 3);
});

test('refuses values that do not fit the declared type', () => {
  assert.throws(() => coerce('double', 'fast', where), /expected a number, found 'fast'/);
  assert.throws(() => coerce('integer', '2.5', where), /expected an integer/);
  assert.throws(() => coerce('unsignedInt', '-1', where), /expected >= 0/);
  assert.throws(() => coerce('boolean', 'yes', where), /expected true or false/);
  assert.equal(coerce('string', '-50', where), '-50');
  assert.equal(coerce('double', '-50', where), -50);
});
