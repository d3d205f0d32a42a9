import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeInt8 } from '../onnx/quantize.js';
import { referenceDetectorPath } from '../onnx/testing.js';
import { packReference, writeFastRecipe } from './testing.js';

interface Report {
  precisions: { int8: { status: string; source: string; calibration_cache: null; sha256: string } };
  equivalence: Record<string, { ok: boolean }>;
  microbench: { figures: { variants: Record<string, unknown> } };
  tensorrt: Array<{ target: string; build_command: string; calibration_cache: string | null }>;
}

test('a recipe with int8.qat_model packs that QDQ model as the int8 variant (source qat, no calibration.cache)', async () => {
  const home = mkdtempSync(join(tmpdir(), 'dg-pack-qat-'));
  try {
    // Standing in for a QAT export: quantizeInt8's QDQ model of the detector (random calibration).
    const det = readFileSync(referenceDetectorPath());
    const data = new Float32Array(2 * 3 * 96 * 192).map((_, i) => Math.sin(i * 0.013) * 2);
    const q = await quantizeInt8({
      model: det,
      file: referenceDetectorPath(),
      calibration: [{ images: { type: 'float32', data, dims: [2, 3, 96, 192] } }],
      calibrator: 'minmax',
      tolerance: { maxAbs: 1e9 },
      sensitivity: 'when-needed',
    });
    const qat = join(home, 'detector.qat.onnx');
    writeFileSync(qat, q.model);
    // The plumbing is under test, not this stand-in's accuracy: loose int8 bounds.
    const recipe = writeFastRecipe(
      home,
      (t) =>
        t
          .replace(
            /( {2}int8:\n)(?: {4}.*\n)+/,
            '$1    max_abs: 1000\n    iou_drift: 1\n    score_drift: 1\n    min_recall: 0\n',
          )
          .replace(/^int8:\n/m, 'int8:\n  qat_model: detector.qat.onnx\n'),
      { int8: true },
    );
    const out = join(home, 'pack');
    packReference(import.meta.url, home, recipe, out);
    const rep = JSON.parse(readFileSync(join(out, 'export_report.json'), 'utf8')) as Report;
    assert.equal(rep.precisions.int8.source, 'qat');
    assert.equal(rep.precisions.int8.calibration_cache, null);
    assert.equal(existsSync(join(out, 'calibration.cache')), false);
    assert.deepEqual(readFileSync(join(out, 'model.int8.onnx')), q.model);
    assert.deepEqual(
      readFileSync(join(out, 'model_repository', 'detector_int8', '1', 'model.onnx')),
      q.model,
    );
    assert.equal(rep.equivalence['int8']?.ok, true);
    assert.ok(rep.microbench.figures.variants['int8'] !== undefined);
    const trt = rep.tensorrt.find((t) => t.target === 'gpu-trt-int8');
    assert.match(trt?.build_command ?? '', /^trtexec --onnx=model\.int8\.onnx .*--int8 --fp16/);
    assert.equal(trt?.calibration_cache, null);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
