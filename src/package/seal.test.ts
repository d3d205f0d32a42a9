import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sha256File } from '../core/digest.js';
import { DrivegateError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import { referenceDetectorPath } from '../onnx/testing.js';
import { openStore } from '../store/open.js';
import type { ArtifactStore } from '../store/types.js';
import { parseRecipe } from './recipe.js';
import { sealPack, type SealOptions } from './seal.js';

function options(store: ArtifactStore, out: string): SealOptions {
  const file = join(packageRoot(), 'examples', 'recipe.yaml');
  const text = readFileSync(file, 'utf8');
  return {
    store,
    recipe: parseRecipe(text, file),
    recipeText: text,
    version: '9.9.9',
    out,
    runId: 'seal-test',
    files: { 'model.onnx': referenceDetectorPath() },
    results: {},
  };
}

/** The real store, failing the setRef of one ref name (a store that goes away mid-seal). */
function failingOn(store: ArtifactStore, ref: RegExp): ArtifactStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'setRef') {
        return async (name: string, digest: string): Promise<void> => {
          if (ref.test(name)) throw new DrivegateError('UNAVAILABLE', `the store went away setting ${name}`);
          await target.setRef(name, digest);
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

test('a seal that fails at the manifest ref leaves no ref of the pack and no output folder', async () => {
  const home = mkdtempSync(join(tmpdir(), 'dg-seal-'));
  try {
    const store = await openStore(pathToFileURL(join(home, 'store')).href);
    await store.setRef('models/other/1.0.0/model.onnx', (await store.put('x')).digest);
    const before = JSON.stringify(await store.listRefs());
    const out = join(home, 'pack');
    await assert.rejects(sealPack(options(failingOn(store, /manifest\.json$/), out)), /went away/);
    assert.equal(JSON.stringify(await store.listRefs()), before);
    assert.equal(existsSync(out), false);
    assert.deepEqual(
      readdirSync(home).filter((f) => f.startsWith('pack')),
      [],
      'no temporary folder is left either',
    );
    // the same seal against the healthy store then succeeds and points the refs at the pack
    const r = await sealPack(options(store, out));
    assert.equal(await store.getRef('models/detection/9.9.9/manifest.json'), r.digest);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('an output path that is not a pack is refused before anything goes into the store', async () => {
  const home = mkdtempSync(join(tmpdir(), 'dg-seal-'));
  try {
    const store = await openStore(pathToFileURL(join(home, 'store')).href);
    const out = join(home, 'pack');
    writeFileSync(out, 'a file where the pack would go');
    await assert.rejects(
      sealPack(options(store, out)),
      (e: unknown) => e instanceof DrivegateError && e.code === 'CONFLICT' && /not a pack/.test(e.message),
    );
    assert.deepEqual(await store.listRefs(), []);
    const model = await sha256File(referenceDetectorPath());
    assert.equal(await store.has(`sha256:${model.sha256}`), false, 'no blob went in either');
    assert.equal(readFileSync(out, 'utf8'), 'a file where the pack would go');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
