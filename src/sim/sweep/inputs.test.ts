import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File } from '../../core/digest.js';
import { packageRoot } from '../../core/paths.js';
import { rejectsWith } from '../../core/testing.js';
import { modelFile, packFolder } from './models.js';
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
