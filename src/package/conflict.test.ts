import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DrivegateError } from '../core/errors.js';
import { createRunner } from '../core/runner.js';
import { ensureWorkspace, openWorkspace } from '../core/workspace.js';
import { referenceDetectorPath } from '../onnx/testing.js';
import { openStore } from '../store/open.js';
import { writeFastRecipe } from './testing.js';
import { packageWorkflow } from './workflow.js';
import { preparePackage } from './run.js';
import type { SealResult } from './seal.js';

test('sealing a different pack under an existing task/version is CONFLICT and moves no ref', async () => {
  const home = mkdtempSync(join(tmpdir(), 'dg-pack-conflict-'));
  try {
    const ws = openWorkspace({ home, env: {} });
    await ensureWorkspace(ws);
    const store = await openStore(pathToFileURL(join(home, 'store')).href);
    const runner = createRunner(ws, store);
    const recipe = writeFastRecipe(home);
    const first = await runner.run(
      packageWorkflow(store),
      await preparePackage({
        model: referenceDetectorPath(),
        recipe,
        out: join(home, 'a'),
        packsDir: home,
        worldsDir: join(home, 'worlds'),
      }),
    );
    const sealed = first.steps.find((s) => s.name === 'seal')?.result as SealResult;
    assert.equal(await store.getRef('models/detection/1.0.0/manifest.json'), sealed.digest);
    const refsBefore = JSON.stringify(await store.listRefs('models/'));

    // The same model with another recipe (a looser tolerance) is another pack: refused.
    const other = writeFastRecipe(join(home), (t) => t.replace('max_abs: 1.0e-4', 'max_abs: 1.0e-3'));
    const args = await preparePackage({
      model: referenceDetectorPath(),
      recipe: other,
      out: join(home, 'b'),
      packsDir: home,
      worldsDir: join(home, 'worlds'),
    });
    await assert.rejects(
      runner.run(packageWorkflow(store), args),
      (e: unknown) =>
        e instanceof DrivegateError && e.code === 'CONFLICT' && /detection 1\.0\.0/.test(e.message),
    );
    assert.equal(existsSync(join(home, 'b')), false);
    assert.equal(JSON.stringify(await store.listRefs('models/')), refsBefore);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
