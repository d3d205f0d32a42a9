import { test } from 'node:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceDetectorPath } from '../onnx/testing.js';
import { assertPackageRefused, snapshotFiles, writeFastRecipe } from './testing.js';

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
        stderr: [/unknown-target\.yaml:14/, /targets\[2\]/, /tpu-xla-fp8/],
      },
      {
        what: 'an unknown field',
        model: referenceDetectorPath(),
        recipe: unknownField,
        stderr: [/unknown-field\.yaml:\d+/, /tolerence/],
      },
    ];
    for (const [i, c] of cases.entries()) {
      assertPackageRefused(import.meta.url, home, c, join(home, `out-${i}`), [], before);
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
