import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DrivegateError } from '../../core/errors.js';
import { child, parseXml } from './xml.js';

test('gives every element and attribute its 1-based source line', () => {
  const text = '<?xml version="1.0"?>\n<!-- c -->\n<A x="1">\n  <B\n    y="2"\n    z="3"/>\n  <C/>\n</A>\n';
  const root = parseXml(text, 'a.xml');
  assert.equal(root.name, 'A');
  assert.equal(root.line, 3);
  const b = child(root, 'B');
  assert.equal(b?.line, 4);
  assert.equal(b?.attrLines['y'], 5);
  assert.equal(b?.attrLines['z'], 6);
  assert.deepEqual(b?.attrs, { y: '2', z: '3' });
  assert.equal(child(root, 'C')?.line, 7);
});

test('keeps attribute values as written (no number or entity surprises)', () => {
  const root = parseXml('<A v="007" w="1e3" e="a &amp; b" p="$x"/>', 'a.xml');
  assert.deepEqual(root.attrs, { v: '007', w: '1e3', e: 'a & b', p: '$x' });
});

test('refuses malformed XML naming the line', () => {
  assert.throws(
    () => parseXml('<A>\n  <B>\n</A>\n', 'bad.xml'),
    (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT' && /bad\.xml:\d/.test(e.message),
  );
});
