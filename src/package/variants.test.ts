import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCalibrationCache } from '../onnx/trt-cache.js';
import { parseModelConfig } from '../serve/model-config.js';
import { packReference, writeFastRecipe } from './testing.js';

const pythonHasOnnx = ((): boolean => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import onnx'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

interface Report {
  precisions: {
    int8: {
      status: string;
      calibrator: string;
      comparison: Array<{ calibrator: string }>;
      sensitivity: unknown[];
      fallback: string[];
      calibration: { images: number };
    };
  };
  equivalence: Record<string, { ok: boolean; images: { detection: { recall: number } } | null }>;
  contract_smoke: { ensemble: { ok: boolean } };
  calibration_shard: { status: string; count: number; strata: Record<string, { taken: number }> };
  tensorrt: Array<{ target: string; build_command: string; calibration_cache: string | null }>;
  microbench: { figures: { ratios: Record<string, Record<string, number>> } };
}

test('fp32 + fp16 + int8 packed twice without the step cache give the same digest; the variants pass onnx.checker and serve as their own Triton models', () => {
  const home = mkdtempSync(join(tmpdir(), 'dg-pack-int8-'));
  try {
    // The pipeline ensemble runs the INT8 variant.
    const recipe = writeFastRecipe(
      home,
      (t) =>
        t.replace(
          'steps: [preprocess, detector, postprocess]',
          'steps: [preprocess, detector_int8, postprocess]',
        ),
      { int8: true },
    );
    const pack = (out: string, extra: string[]): { digest: string } =>
      packReference(import.meta.url, home, recipe, join(home, out), extra);
    const a = pack('a', []);
    const b = pack('b', ['--no-cache']);
    assert.equal(a.digest, b.digest, 'fp16 and int8 outputs are deterministic');
    for (const f of ['model.fp16.onnx', 'model.int8.onnx', 'calibration.cache']) {
      assert.deepEqual(readFileSync(join(home, 'a', f)), readFileSync(join(home, 'b', f)), f);
    }
    const manifest = JSON.parse(readFileSync(join(home, 'a', 'manifest.json'), 'utf8')) as {
      files: Array<{ path: string }>;
    };
    const paths = manifest.files.map((f) => f.path);
    for (const p of [
      'calibration.cache',
      'model.fp16.onnx',
      'model.int8.onnx',
      'model_repository/detector_fp16/config.pbtxt',
      'model_repository/detector_int8/1/model.onnx',
    ]) {
      assert.ok(paths.includes(p), p);
    }
    const cache = parseCalibrationCache(readFileSync(join(home, 'a', 'calibration.cache'), 'utf8'));
    assert.ok(Object.keys(cache.scales).length > 10);
    assert.ok('images' in cache.scales, 'the input tensor has a scale');
    const cfg = parseModelConfig(
      readFileSync(join(home, 'a', 'model_repository', 'detector_int8', 'config.pbtxt'), 'utf8'),
      'config.pbtxt',
    ).config;
    assert.equal(cfg.name, 'detector_int8');
    assert.equal(cfg.platform, 'onnxruntime_onnx');
    const ens = parseModelConfig(
      readFileSync(join(home, 'a', 'model_repository', 'detector_pipeline', 'config.pbtxt'), 'utf8'),
      'config.pbtxt',
    ).config;
    assert.deepEqual(
      ens.ensembleScheduling?.steps.map((s) => s.modelName),
      ['preprocess', 'detector_int8', 'postprocess'],
    );

    const rep = JSON.parse(readFileSync(join(home, 'a', 'export_report.json'), 'utf8')) as Report;
    const int8 = rep.precisions.int8;
    assert.equal(int8.status, 'built');
    assert.deepEqual(int8.comparison.map((c) => c.calibrator).sort(), ['entropy', 'minmax', 'percentile']);
    assert.equal(int8.calibration.images, 24);
    assert.ok(Array.isArray(int8.fallback));
    assert.equal(rep.calibration_shard.status, 'selected');
    assert.equal(rep.calibration_shard.count, 24);
    assert.ok(Object.keys(rep.calibration_shard.strata).length >= 8, 'weather x time_of_day strata');
    for (const v of ['fp16', 'fp16-emulated', 'int8']) assert.equal(rep.equivalence[v]?.ok, true, v);
    // The ensemble over the INT8 detector gives that detector's runtime decode.
    assert.equal(rep.contract_smoke.ensemble.ok, true, JSON.stringify(rep.contract_smoke.ensemble));
    const trt = rep.tensorrt.find((t) => t.target === 'gpu-trt-int8');
    assert.match(trt?.build_command ?? '', /--int8 .*--calib=calibration\.cache/);
    assert.equal(trt?.calibration_cache, 'calibration.cache');
    assert.ok((rep.microbench.figures.ratios['int8/fp32']?.['batch_1_p50'] ?? 0) > 0);

    if (pythonHasOnnx) {
      for (const f of ['model.fp16.onnx', 'model.int8.onnx']) {
        execFileSync(
          '/usr/bin/python3',
          [
            '-c',
            'import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)',
            join(home, 'a', f),
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
      }
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
