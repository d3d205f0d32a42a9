import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { packageRoot } from '../core/paths.js';
import { DrivegateError } from '../core/errors.js';
import { parseResolution, parseSplit } from './world.js';

const base = mkdtempSync(join(tmpdir(), 'drivegate-cli-world-'));
after(() => rmSync(base, { recursive: true, force: true }));

/** Runs the drivegate CLI (from src under tsx, or from dist) and returns its exit code and output. */
function drivegate(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const root = packageRoot();
  const fromTs = import.meta.url.endsWith('.ts');
  const argv = fromTs
    ? ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), ...args]
    : [join(root, 'dist', 'src', 'cli', 'main.js'), ...args];
  const r = spawnSync(process.execPath, argv, { cwd: root, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

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
