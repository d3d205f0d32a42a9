import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliIn } from './cli-testing.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'dg-simcli-'));
  dirs.push(d);
  return d;
};
const home = tmp();

/** Runs `sim run` with `args` and asserts exit 2, the stderr pattern, and that --out was not created. */
function refused(args: string[], pattern: RegExp): void {
  const out = join(tmp(), 'out');
  const r = runCliIn(import.meta.url, home, ['sim', 'run', ...args, '--out', out]);
  assert.equal(r.code, 2, `${args.join(' ')}\n${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.equal(r.stdout, '');
  assert.ok(!existsSync(out), 'nothing written in --out');
}

test('bad input is exit 2 with a precise message and nothing written in --out', () => {
  const gt = ['--perception', 'ground-truth'];
  refused(
    ['--model', 'models/nope.onnx', '--scenarios', 'examples/scenarios'],
    /models\/nope\.onnx: the model file does not exist/,
  );
  refused(
    [...gt, '--scenarios', 'examples/scenarios', '--filter', 'colour=red'],
    /unknown filter key 'colour'/,
  );
  const gate = join(tmp(), 'gate.yaml');
  writeFileSync(
    gate,
    'version: 1\nname: g\nrules:\n  - id: a\n    kind: threshold\n    field: overall.colisions\n    max: 0\n',
  );
  refused(
    [...gt, '--scenarios', 'examples/scenarios', '--gate', gate],
    /gate\.yaml:6, field 'rules\[0\]\.field': unknown simulation report field/,
  );
  // A gate comparing against a baseline, without one: refused before the sweep, never a silent pass.
  refused(
    [...gt, '--scenarios', 'examples/scenarios', '--gate', 'examples/sim-gate.yaml'],
    /compares against a baseline and none was given/,
  );
  // --precision picks a pack's variant: an unknown one, or one with a plain model, is a usage error
  refused(
    ['--model', 'models/detector-v1.1.0.onnx', '--precision', 'int8', '--scenarios', 'examples/scenarios'],
    /--precision int8 selects a model variant of a pack/,
  );
  refused([...gt, '--precision', 'int4', '--scenarios', 'examples/scenarios'], /--precision.*int4/);
});

test('sim list and sim validate print the variants and the files', () => {
  const list = runCliIn(import.meta.url, home, [
    'sim',
    'list',
    'examples/scenarios',
    '--filter',
    'family=CPNA,time_of_day=night',
    '--filter',
    'family=CPNA,weather=fog',
    '--json',
  ]);
  assert.equal(list.code, 0, list.stderr);
  const variants = JSON.parse(list.stdout) as { id: string; family: string }[];
  assert.ok(variants.length > 0 && variants.every((v) => v.family === 'CPNA'));
  assert.equal(new Set(variants.map((v) => v.id)).size, variants.length, 'a union without duplicates');
  const val = runCliIn(import.meta.url, home, ['sim', 'validate', 'examples/scenarios/ncap/CCRs.xosc']);
  assert.equal(val.code, 0, val.stderr);
  assert.match(val.stdout, /ok {2}.*CCRs\.xosc/);
});

test('missing OpenSCENARIO schemas are UNAVAILABLE (exit 3) naming where to put them, not a crash', () => {
  const r = runCliIn(import.meta.url, home, ['sim', 'list', 'examples/scenarios'], {
    DRIVEGATE_SCHEMAS: join(tmp(), 'no-schemas'),
  });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /OpenSCENARIO 1\.\d schema not found at .*no-schemas.*DRIVEGATE_SCHEMAS/);
  assert.doesNotMatch(r.stderr, /at schemaPath|unhandled/i, 'no stack trace or unhandled rejection');
  assert.equal(r.stdout, '');
});
