import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../core/log.js';
import { packageRoot } from '../core/paths.js';
import { loadInferenceConfig } from '../runtime/config.js';
import { contractSmoke } from './contract.js';
import { runtimeTestModel, writeTestRepository } from './testing.js';

const cfgPath = (name: string): string =>
  join(packageRoot(), 'src', 'runtime', 'testdata', `${name}.inference_config.json`);
const log = createLogger({ write: () => undefined });

test('passes a repository whose model matches its inference config (centernet and boxes decoders)', async () => {
  const repo = writeTestRepository([
    {
      name: 'toy_centernet',
      onnx: runtimeTestModel('toy_centernet'),
      config: 'name: "toy_centernet"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 8\n',
    },
  ]);
  const repo2 = writeTestRepository([
    { name: 'boxes', onnx: runtimeTestModel('boxes'), config: 'name: "boxes"\nmax_batch_size: 1\n' },
  ]);
  try {
    const r = await contractSmoke(repo, cfgPath('toy_centernet'), { log });
    assert.equal(r.ok, true, JSON.stringify(r, null, 1));
    assert.equal(r.model, 'toy_centernet');
    assert.equal(r.version, '1');
    assert.ok(
      r.checks.some(
        (c) => c.name === 'output heatmap shape' && c.detail === 'expected [1,3,16,32], found [1,3,16,32]',
      ),
    );
    assert.ok(r.checks.some((c) => c.name === 'output heatmap values' && c.ok));
    // An object works as well as a path, and the result is plain JSON.
    const r2 = await contractSmoke(repo2, loadInferenceConfig(cfgPath('boxes')), { log });
    assert.equal(r2.ok, true, JSON.stringify(r2, null, 1));
    assert.ok(
      r2.checks.some(
        (c) =>
          c.name === 'output classes datatype' && c.detail === 'expected INT64 or INT32 or FP32, found INT64',
      ),
    );
    assert.deepEqual(JSON.parse(JSON.stringify(r2)), r2);
  } finally {
    rmSync(repo, { recursive: true, force: true });
    rmSync(repo2, { recursive: true, force: true });
  }
});

test('fails, naming the check, when the model disagrees with the config or the repository is broken', async () => {
  const repo = writeTestRepository([
    { name: 'toy', onnx: runtimeTestModel('toy_centernet'), config: 'name: "toy"\nmax_batch_size: 8\n' },
  ]);
  try {
    const cfg = loadInferenceConfig(cfgPath('toy_centernet'));
    // The config claims two classes: the heatmap has three channels.
    const twoClasses = { ...cfg, classes: { '0': cfg.classes['0']!, '1': cfg.classes['1']! } };
    const r = await contractSmoke(repo, twoClasses, { log });
    assert.equal(r.ok, false);
    const bad = r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    assert.deepEqual(bad, ['output heatmap shape: expected [1,2,16,32], found [1,3,16,32]']);
    // A different input size fails the input check before any inference.
    const r2 = await contractSmoke(repo, { ...cfg, input: { ...cfg.input, width: 64 } }, { log });
    assert.equal(r2.ok, false);
    assert.match(
      r2.checks.find((c) => !c.ok)?.detail ?? '',
      /expected FP32 \[N,3,64,64\], found FP32 \[-1,3,64,128\]/,
    );
    const r3 = await contractSmoke(join(repo, 'nothing'), cfg, { log });
    assert.equal(r3.ok, false);
    assert.match(r3.error ?? '', /model repository does not exist/);
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});
