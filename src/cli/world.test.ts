import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DrivegateError } from '../core/errors.js';
import { parseResolution, parseSplit } from './world.js';
import { runCliIn } from './cli-testing.js';
import type { CliResult } from './cli-testing.js';

const base = mkdtempSync(join(tmpdir(), 'drivegate-cli-world-'));
after(() => rmSync(base, { recursive: true, force: true }));

/** Runs the drivegate CLI (from src under tsx, or from dist) with the temp folder as workspace. */
const drivegate = (args: string[]): CliResult => runCliIn(import.meta.url, base, args);

test('world generate writes a dataset and prints a JSON summary', () => {
  const out = join(base, 'ds');
  const r = drivegate([
    'world',
    'generate',
    '--out',
    out,
    '--scenes',
    '3',
    '--frames-per-scene',
    '2',
    '--seed',
    '4',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { frames: number; out: string };
  assert.equal(summary.frames, 6);
  assert.ok(readFileSync(join(out, 'golden_train.json'), 'utf8').includes('"categories"'));
});

for (const [args, option] of [
  [['--scenes', 'many'], '--scenes'],
  [['--resolution', '192by96'], '--resolution'],
  [['--weights', 'weather=sunny:1'], '--weights'],
  [['--split', '0.5,0.5'], '--split'],
  [['--seed', 'abc'], '--seed'],
] as const) {
  test(`world generate ${args.join(' ')} exits 2 naming ${option}`, () => {
    const r = drivegate(['world', 'generate', '--out', join(base, 'never'), ...args]);
    assert.equal(r.code, 2);
    assert.ok(r.stderr.includes(option), r.stderr);
  });
}

test('split ratios parse as a list or by name', () => {
  assert.deepEqual(parseSplit('0.8,0.1,0.1'), { train: 0.8, val: 0.1, test: 0.1 });
  assert.deepEqual(parseSplit('train=1,test=1'), { train: 1, val: 0, test: 1 });
  assert.throws(() => parseSplit('dev=1'), DrivegateError);
  assert.deepEqual(parseResolution('320x160'), { width: 320, height: 160 });
});
