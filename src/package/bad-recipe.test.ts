import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliIn } from '../cli/cli-testing.js';
import { referenceDetectorPath } from '../onnx/testing.js';
import { snapshotFiles, writeFastRecipe } from './testing.js';

test('a recipe naming an unknown target or field exits 2 naming the file, key and line; nothing sealed or stored', () => {
  const home = mkdtempSync(join(tmpdir(), 'dg-pack-recipe-'));
  try {
    const recipe = writeFastRecipe(home);
    const unknownTarget = join(home, 'unknown-target.yaml');
    writeFileSync(unknownTarget, readFileSync(recipe, 'utf8').replace('- gpu-trt-fp16', '- tpu-xla-fp8'));
    const unknownField = join(home, 'unknown-field.yaml');
    writeFileSync(
      unknownField,
      readFileSync(recipe, 'utf8').replace('tolerances:', 'tolerence: 1\ntolerances:'),
    );
    const before = snapshotFiles(join(home, 'store'));
    const cases: Array<{ what: string; model: string; recipe: string; stderr: RegExp[] }> = [
      {
        what: 'an unknown target',
        model: referenceDetectorPath(),
        recipe: unknownTarget,
        stderr: [/unknown-target\.yaml:11/, /targets\[1\]/, /tpu-xla-fp8/],
      },
      {
        what: 'an unknown field',
        model: referenceDetectorPath(),
        recipe: unknownField,
        stderr: [/unknown-field\.yaml:\d+/, /tolerence/],
      },
    ];
    for (const [i, c] of cases.entries()) {
      const out = join(home, `out-${i}`);
      const r = runCliIn(import.meta.url, home, [
        'package',
        '--model',
        c.model,
        '--recipe',
        c.recipe,
        '--out',
        out,
      ]);
      assert.equal(r.code, 2, `${c.what}: exit ${String(r.code)}\n${r.stderr}`);
      assert.equal(r.stdout, '', c.what);
      for (const re of c.stderr) assert.match(r.stderr, re, `${c.what}: ${r.stderr}`);
      assert.equal(existsSync(out), false, `${c.what}: nothing sealed`);
      assert.equal(snapshotFiles(join(home, 'store')), before, `${c.what}: store unchanged`);
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
