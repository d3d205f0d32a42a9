import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliIn } from '../cli/cli-testing.js';
import { packageRoot } from '../core/paths.js';
import { detectorWithOpRenamed, referenceDetectorPath } from '../onnx/testing.js';
import { assertPackageRefused, snapshotFiles, writeFastRecipe } from './testing.js';

test('a corrupt or truncated ONNX file or an op a target lacks exits 2 naming the file (and node and target), seals nothing, leaves the store unchanged', () => {
  const home = mkdtempSync(join(tmpdir(), 'dg-pack-bad-'));
  try {
    // A good pack first, so the store is not empty (FP32 only, no shard: the quickest pack).
    const minimal = join(home, 'minimal.yaml');
    writeFileSync(
      minimal,
      readFileSync(writeFastRecipe(home), 'utf8')
        .replace(/targets:\n(?: {2}- .*\n)+/, 'targets:\n  - cpu-ort-fp32\n')
        .replace(/\ncalibration:\n(?: .*\n|\n)*/, '\n'),
    );
    const good = runCliIn(import.meta.url, home, [
      'package',
      '--model',
      referenceDetectorPath(),
      '--recipe',
      minimal,
      '--out',
      join(home, 'good'),
    ]);
    assert.equal(good.code, 0, good.stderr);
    const before = snapshotFiles(join(home, 'store'));
    assert.notEqual(before, '');

    const config = join(packageRoot(), 'models', 'detector-v1.0.0.inference_config.json');
    const model = (name: string, bytes: Buffer | string): string => {
      const path = join(home, `${name}.onnx`);
      writeFileSync(path, bytes);
      copyFileSync(config, join(home, `${name}.inference_config.json`));
      return path;
    };
    const full = readFileSync(referenceDetectorPath());
    const cpuOnly = writeFastRecipe(home, (t) => t.replace(/\n {2}- gpu-trt-fp16[^\n]*/, ''));
    const cpuOnlyPath = join(home, 'cpu-only.yaml');
    writeFileSync(cpuOnlyPath, readFileSync(cpuOnly));
    const trtRecipe = writeFastRecipe(home);

    const cases: Array<{ what: string; model: string; recipe: string; stderr: RegExp[] }> = [
      {
        what: 'corrupt ONNX',
        model: model('corrupt', 'definitely not a protobuf\n'),
        recipe: trtRecipe,
        stderr: [/corrupt\.onnx/, /ModelProto/],
      },
      {
        what: 'truncated ONNX',
        model: model('truncated', full.subarray(0, Math.floor(full.length / 2))),
        recipe: trtRecipe,
        stderr: [/truncated\.onnx/, /truncated or corrupt/],
      },
      {
        what: 'an op TensorRT 8.6 lacks',
        model: model('hardmax', detectorWithOpRenamed('Sigmoid', 'Hardmax')),
        recipe: trtRecipe,
        stderr: [/hardmax\.onnx/, /Hardmax/, /gpu-trt-fp16/, /node '/],
      },
      {
        what: 'an op onnxruntime CPU lacks',
        model: model('unknown-op', detectorWithOpRenamed('Sigmoid', 'Sigmoix')),
        recipe: cpuOnlyPath,
        stderr: [/unknown-op\.onnx/, /Sigmoix/, /cpu-ort-fp32/],
      },
    ];
    for (const [i, c] of cases.entries()) {
      assertPackageRefused(
        import.meta.url,
        home,
        c,
        join(home, `out-${i}`),
        ['--version', `2.0.${i}`],
        before,
      );
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
