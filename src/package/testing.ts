/**
 * For tests: a fast recipe for the reference detector (few equivalence samples and bench
 * iterations), written into a temporary folder, and a snapshot of a workspace store's files.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { runCliIn } from '../cli/cli-testing.js';
import { packageRoot } from '../core/paths.js';
import { referenceDetectorPath } from '../onnx/testing.js';

/**
 * Writes examples/recipe.yaml with small settings to `dir` (4 random equivalence inputs, 8 shard
 * images, a 24-image shard from a 36-scene reference world, 4 INT8 evaluation images, no fallback,
 * 3 bench iterations) and without the int8 targets unless `int8`; returns its path.
 */
export function writeFastRecipe(
  dir: string,
  edit: (text: string) => string = (t) => t,
  opts: { int8?: boolean } = {},
): string {
  let text = readFileSync(join(packageRoot(), 'examples', 'recipe.yaml'), 'utf8')
    .replace(/samples: \d+/, 'samples: 4')
    .replace(/images: \d+/, 'images: 8')
    .replace(/scenes: \d+/, 'scenes: 36')
    .replace(/frames_per_scene: \d+/, 'frames_per_scene: 2')
    .replace(/count: \d+/, 'count: 24')
    .replace(/evaluation_images: \d+/, 'evaluation_images: 4')
    .replace(/max_fallback: \d+/, 'max_fallback: 0')
    .replace(/iterations: \d+/, 'iterations: 3')
    .replace(/warmup: \d+/, 'warmup: 1')
    .replace(/batch_sizes: \[[^\]]*\]/, 'batch_sizes: [1]');
  if (opts.int8 !== true) text = text.replace(/ {2}- (cpu-ort|gpu-trt)-int8.*\n/g, '');
  const path = join(dir, 'recipe.yaml');
  writeFileSync(path, edit(text));
  return path;
}

/**
 * Runs `drivegate package --model <reference detector> --recipe RECIPE --out OUT --json [extra]` in
 * workspace `home` (`callerUrl`: the test's import.meta.url, see runCliIn), asserts exit 0 (the
 * stderr tail as the message) and returns what it printed.
 */
export function packReference(
  callerUrl: string,
  home: string,
  recipe: string,
  out: string,
  extra: string[] = [],
): { digest: string; path: string } {
  const r = runCliIn(callerUrl, home, [
    'package',
    '--model',
    referenceDetectorPath(),
    '--recipe',
    recipe,
    '--out',
    out,
    '--json',
    ...extra,
  ]);
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  return JSON.parse(r.stdout) as { digest: string; path: string };
}

/** Every file under `dir` (recursively) with its sha256, as `path sha256` lines, sorted; '' when absent. */
export function snapshotFiles(dir: string): string {
  const out: string[] = [];
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(`${relative(dir, p)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return out.sort().join('\n');
}

/** A bad-input case of `drivegate package`: what it is, its model and recipe, and stderr patterns. */
export interface RefusedCase {
  what: string;
  model: string;
  recipe: string;
  stderr: RegExp[];
}

/**
 * Runs `drivegate package` on a bad-input case in workspace `home` (with `extraArgs`), and asserts it
 * exits 2 with nothing on stdout, stderr matching every pattern, nothing at `out`, and the workspace
 * store's files unchanged from `storeBefore` (a snapshotFiles value).
 */
export function assertPackageRefused(
  callerUrl: string,
  home: string,
  c: RefusedCase,
  out: string,
  extraArgs: string[],
  storeBefore: string,
): void {
  const r = runCliIn(callerUrl, home, [
    'package',
    '--model',
    c.model,
    '--recipe',
    c.recipe,
    '--out',
    out,
    ...extraArgs,
  ]);
  assert.equal(r.code, 2, `${c.what}: exit ${String(r.code)}\n${r.stderr}`);
  assert.equal(r.stdout, '', c.what);
  for (const re of c.stderr) assert.match(r.stderr, re, `${c.what}: ${r.stderr}`);
  assert.equal(existsSync(out), false, `${c.what}: nothing sealed`);
  assert.equal(snapshotFiles(join(home, 'store')), storeBefore, `${c.what}: store unchanged`);
}
