import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File } from '../../core/digest.js';
import { packageRoot } from '../../core/paths.js';
import { rejectsWith } from '../../core/testing.js';
import { modelFile, packFolder, resolveModelRef } from './models.js';
import { sweepVariants } from './sweep.js';

const root = packageRoot();
const scenarios = join(root, 'examples', 'scenarios');

test('bad scenario paths and filters are refused with the path or term named', async () => {
  const missing = await rejectsWith(sweepVariants(join(root, 'examples', 'no-such-dir')), 'NOT_FOUND');
  assert.match(missing.message, /no-such-dir/);
  assert.match(
    (await rejectsWith(sweepVariants(scenarios, ['family']), 'USAGE')).message,
    /bad filter term 'family'/,
  );
  assert.match(
    (await rejectsWith(sweepVariants(scenarios, ['family=NoSuch']), 'BAD_INPUT')).message,
    /no scenario variant to run/,
  );
});

test('several filters select the union of their variants', async () => {
  const fog = await sweepVariants(scenarios, ['family=CPNA,weather=fog']);
  const night = await sweepVariants(scenarios, ['family=CPNA,time_of_day=night']);
  const both = await sweepVariants(scenarios, ['family=CPNA,weather=fog', 'family=CPNA,time_of_day=night']);
  const union = new Set([...fog, ...night].map((v) => v.id));
  assert.deepEqual(both.map((v) => v.id).sort(), [...union].sort());
  assert.ok(both.length < fog.length + night.length, 'fog-and-night variants are not counted twice');
});

test('a model without its inference config, and a folder that is not a pack, are refused', async () => {
  assert.match(
    (await rejectsWith(modelFile(join(root, 'examples', 'recipe.yaml')), 'BAD_INPUT')).message,
    /inference config/,
  );
  assert.match((await rejectsWith(packFolder(join(root, 'examples')), 'NOT_FOUND')).message, /manifest/);
});

test('a pack folder is verified file by file, then its model and inference config drive perception', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-simpack-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(root, 'models', 'detector-v1.1.0.onnx'), join(dir, 'model.onnx'));
  copyFileSync(
    join(root, 'models', 'detector-v1.1.0.inference_config.json'),
    join(dir, 'inference_config.json'),
  );
  const files = [];
  for (const path of ['model.onnx', 'inference_config.json']) {
    const h = await sha256File(join(dir, path));
    files.push({ path, sha256: h.sha256, size: h.size });
  }
  const manifest = {
    schema_version: 1,
    model: { task: 'detection', name: 'detector', version: '1.1.0' },
    files,
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  const p = await packFolder(dir);
  assert.equal(p.label, 'detector@1.1.0');
  assert.match(p.digest ?? '', /^sha256:[0-9a-f]{64}$/);
  assert.equal(p.spec.kind === 'model' ? p.spec.configPath : '', join(dir, 'inference_config.json'));
  writeFileSync(join(dir, 'inference_config.json'), '{}');
  const e = await rejectsWith(packFolder(dir), 'INTEGRITY');
  assert.match(e.message, /inference_config\.json/);
});

test("--precision int8 runs the pack's model.int8.onnx under its own label; a pack without the variant is refused naming it", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-simpack-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // the selection is what is tested: any valid model with the pack's IO serves as the int8 file
  const names: Array<[string, string]> = [
    ['detector-v1.1.0.onnx', 'model.onnx'],
    ['detector-v1.1.0.inference_config.json', 'inference_config.json'],
  ];
  const seal = async (extra: Array<[string, string]>): Promise<void> => {
    const files = [];
    for (const [from, path] of [...names, ...extra]) {
      copyFileSync(join(root, 'models', from), join(dir, path));
      const h = await sha256File(join(dir, path));
      files.push({ path, sha256: h.sha256, size: h.size });
    }
    const model = { task: 'detection', name: 'detector', version: '1.1.0' };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ schema_version: 1, model, files }));
  };
  await seal([]);
  const e = await rejectsWith(packFolder(dir, 'int8'), 'BAD_INPUT');
  assert.match(e.message, /the pack has no model\.int8\.onnx/);
  assert.match(e.message, /this pack has: fp32/);
  await seal([['detector-v1.0.0.onnx', 'model.int8.onnx']]);
  const fp32 = await packFolder(dir);
  const int8 = await resolveModelRef(dir, () => Promise.reject(new Error('no store needed')), 'int8');
  assert.equal(fp32.label, 'detector@1.1.0');
  assert.equal(int8.label, 'detector@1.1.0:int8');
  assert.equal(int8.spec.kind === 'model' ? int8.spec.modelPath : '', join(dir, 'model.int8.onnx'));
  assert.equal(fp32.spec.kind === 'model' ? fp32.spec.modelPath : '', join(dir, 'model.onnx'));
  assert.equal(int8.digest, fp32.digest, 'the pack is the same; the label tells the variant');
  await assert.rejects(
    resolveModelRef(
      join(root, 'models', 'detector-v1.1.0.onnx'),
      () => Promise.reject(new Error('x')),
      'int8',
    ),
    /--precision int8 selects a variant of a pack/,
  );
});
