import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { scanRepository, selectVersions } from './repository.js';
import { runtimeTestModel, writeTestRepository } from './testing.js';

test('selects versions per version_policy (default: the latest one)', () => {
  const av = [1, 2, 3, 10];
  assert.deepEqual(selectVersions(av, undefined, 'c'), [10]);
  assert.deepEqual(selectVersions(av, { latest: { numVersions: 2 } }, 'c'), [3, 10]);
  assert.deepEqual(selectVersions(av, { all: {} }, 'c'), [1, 2, 3, 10]);
  assert.deepEqual(selectVersions(av, { specific: { versions: [3, 1] } }, 'c'), [1, 3]);
  assert.throws(
    () => selectVersions(av, { specific: { versions: [4] } }, 'c'),
    /versions among 1, 2, 3, 10, found 4/,
  );
});

test('scans a repository: numeric version dirs only, errors per model without stopping the others', () => {
  const repo = writeTestRepository([
    {
      name: 'a',
      onnx: runtimeTestModel('boxes'),
      config: 'name: "a" version_policy { latest { num_versions: 2 } }',
      versions: [1, 2, 3],
    },
    { name: 'noconfig', onnx: runtimeTestModel('boxes'), config: undefined },
    { name: 'trt', onnx: runtimeTestModel('boxes'), config: 'name: "trt" platform: "tensorrt_plan"' },
  ]);
  try {
    mkdirSync(join(repo, 'a', '04')); // starts with 0: ignored
    mkdirSync(join(repo, 'a', 'notes'));
    mkdirSync(join(repo, 'empty'));
    writeFileSync(join(repo, 'empty', 'config.pbtxt'), 'name: "empty"');
    const models = scanRepository(repo);
    const by = Object.fromEntries(models.map((m) => [m.name, m]));
    assert.deepEqual(
      by['a']!.versions.map((v) => v.version),
      [2, 3],
    );
    assert.equal(by['a']!.error, undefined);
    assert.match(by['noconfig']!.error!.message, /has no config\.pbtxt/);
    assert.match(by['trt']!.error!.message, /unsupported platform\/backend.*found "tensorrt_plan"/);
    assert.match(by['empty']!.error!.message, /no version directory/);
    assert.throws(() => scanRepository(join(repo, 'missing')), /model repository does not exist/);
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});
