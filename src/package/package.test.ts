import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCliIn } from '../cli/cli-testing.js';
import { sha256 } from '../core/digest.js';
import { referenceDetectorPath } from '../onnx/testing.js';
import { LocalSession } from '../runtime/session.js';
import { parseModelConfig } from '../serve/model-config.js';
import { openStore } from '../store/open.js';
import { verifyPack } from './seal.js';
import { packReference, writeFastRecipe } from './testing.js';

interface PackOut {
  digest: string;
  path: string;
}

test('packing the reference detector twice (with its pipeline ensemble) gives the same digest; verify passes, then names a tampered file', async () => {
  const home = mkdtempSync(join(tmpdir(), 'dg-pack-'));
  try {
    const recipe = writeFastRecipe(home);
    const pack = (out: string): PackOut => packReference(import.meta.url, home, recipe, join(home, out));
    const a = pack('a');
    const b = pack('b');
    assert.match(a.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(a.digest, b.digest);
    assert.equal(a.path, join(home, 'a'));
    // The digest is the sha256 of manifest.json; the manifest lists every served file but not the report.
    const manifestBytes = readFileSync(join(home, 'a', 'manifest.json'));
    assert.equal(`sha256:${sha256(manifestBytes)}`, a.digest);
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as {
      model: { task: string; name: string; version: string };
      files: Array<{ path: string }>;
      evidence: Array<{ path: string }>;
    };
    assert.deepEqual(manifest.model, { task: 'detection', name: 'detector', version: '1.0.0' });
    assert.deepEqual(
      manifest.files.map((f) => f.path),
      [
        'inference_config.json',
        'model.fp16.onnx',
        'model.onnx',
        'model_repository/detector/1/model.onnx',
        'model_repository/detector/config.pbtxt',
        'model_repository/detector_fp16/1/model.onnx',
        'model_repository/detector_fp16/config.pbtxt',
        'model_repository/detector_pipeline/1/README.md',
        'model_repository/detector_pipeline/config.pbtxt',
        'model_repository/postprocess/1/model.onnx',
        'model_repository/postprocess/config.pbtxt',
        'model_repository/preprocess/1/model.onnx',
        'model_repository/preprocess/config.pbtxt',
        'recipe.yaml',
      ],
    );
    assert.deepEqual(
      manifest.evidence.map((e) => e.path),
      ['export_report.json'],
    );
    // The two reports differ (run ids, timings) while the digests agree.
    const reportA = JSON.parse(readFileSync(join(home, 'a', 'export_report.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const reportB = JSON.parse(readFileSync(join(home, 'b', 'export_report.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.notEqual(reportA['run_id'], reportB['run_id']);
    assert.equal((reportA['pack'] as { digest: string }).digest, a.digest);
    assert.equal((reportA['contract_smoke'] as { ok: boolean }).ok, true);
    // The pipeline ensemble (examples/recipe.yaml `pipeline`) was smoke-tested with raw images: its
    // detections equal the runtime's decode; inference_config.json describes it.
    const smoke = reportA['contract_smoke'] as {
      ensemble: { ok: boolean; ensemble: Array<{ detections: number; runtime_detections: number }> };
      checked_through_ensemble: string[];
    };
    assert.equal(smoke.ensemble.ok, true);
    assert.deepEqual(smoke.checked_through_ensemble, ['preprocess', 'postprocess']);
    assert.equal(smoke.ensemble.ensemble.length, 2);
    for (const e of smoke.ensemble.ensemble) assert.equal(e.detections, e.runtime_detections);
    const packedCfg = JSON.parse(readFileSync(join(home, 'a', 'inference_config.json'), 'utf8')) as {
      ensemble: { name: string; steps: string[]; input: { datatype: string; shape: number[] } };
    };
    assert.equal(packedCfg.ensemble.name, 'detector_pipeline');
    assert.deepEqual(packedCfg.ensemble.steps, ['preprocess', 'detector', 'postprocess']);
    assert.deepEqual(packedCfg.ensemble.input.shape, [-1, -1, -1, 3]);
    const precisions = reportA['precisions'] as Record<string, { status: string }>;
    assert.equal(precisions['fp16']?.status, 'built');
    const fp16 = precisions['fp16'] as unknown as {
      conversion: { initializersConverted: number; nodesKeptFp32: Record<string, number> };
      onnxruntime_on_this_host: { computes_in_fp32: boolean; summary: string };
    };
    assert.equal(fp16.conversion.initializersConverted, 44);
    assert.deepEqual(fp16.conversion.nodesKeptFp32, { Sigmoid: 1 });
    assert.equal(typeof fp16.onnxruntime_on_this_host.computes_in_fp32, 'boolean');
    assert.match(fp16.onnxruntime_on_this_host.summary, /onnxruntime-node/);
    assert.equal(precisions['int8']?.status, 'not requested');
    // Equivalence: the real FP16 model and the emulation, on random inputs and shard images, with drift.
    const eq = reportA['equivalence'] as Record<
      string,
      {
        ok: boolean;
        random?: { samples: number; heads: Record<string, { max_abs: number }> };
        images?: { count: number; detection: { recall: number; reference_detections: number } };
      }
    >;
    assert.equal(eq['fp32']?.ok, true);
    for (const v of ['fp16', 'fp16-emulated']) {
      assert.equal(eq[v]?.ok, true, v);
      assert.equal(eq[v]?.random?.samples, 4);
      assert.deepEqual(Object.keys(eq[v]?.random?.heads ?? {}), ['heatmap', 'offset', 'wh']);
      assert.ok((eq[v]?.random?.heads['wh']?.max_abs ?? 0) > 0, `${v} differs from fp32`);
      assert.equal(eq[v]?.images?.count, 8);
      assert.ok((eq[v]?.images?.detection.reference_detections ?? 0) > 0);
    }
    const targets = reportA['targets'] as Array<{ target: string; status: string }>;
    assert.deepEqual(
      targets.map((t) => [t.target, t.status]),
      [
        ['cpu-ort-fp32', 'built'],
        ['cpu-ort-fp16', 'built'],
        ['gpu-trt-fp16', 'pending'],
      ],
    );
    const trt = reportA['tensorrt'] as Array<{ status: string; plan: null; build_command: string }>;
    assert.equal(trt[0]?.status, 'pending');
    assert.equal(trt[0]?.plan, null);
    assert.match(
      trt[0]?.build_command ?? '',
      /^trtexec --onnx=model\.onnx .*--fp16 .*--timingCacheFile=timing\.cache$/,
    );
    const bench = reportA['microbench'] as {
      host: string;
      figures: {
        variants: Record<string, { figures: Array<{ p50_ms: number }>; memory: { peak_rss_bytes: number } }>;
      };
    };
    assert.match(bench.host, /cores/);
    for (const v of ['fp32', 'fp16']) {
      assert.ok((bench.figures.variants[v]?.figures[0]?.p50_ms ?? 0) > 0, v);
      assert.ok((bench.figures.variants[v]?.memory.peak_rss_bytes ?? 0) > 0, v);
    }

    // The store holds the pack under models/<task>/<version>/; verify passes from the folder (CLI) and
    // from the store by digest.
    const store = await openStore(pathToFileURL(join(home, 'store')).href);
    assert.equal(await store.getRef('models/detection/1.0.0/manifest.json'), a.digest);
    const ok = runCliIn(import.meta.url, home, ['package', 'verify', join(home, 'a')]);
    assert.equal(ok.code, 0, ok.stderr);
    const okStore = await verifyPack(a.digest, store);
    assert.equal(okStore.ok, true, JSON.stringify(okStore.problems));
    assert.equal(okStore.files, 14);

    // Tamper with one served file: verify exits 2 naming it.
    const cfg = join(home, 'b', 'model_repository', 'detector', 'config.pbtxt');
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('max_batch_size: 8', 'max_batch_size: 9'));
    const bad = runCliIn(import.meta.url, home, ['package', 'verify', join(home, 'b')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /model_repository\/detector\/config\.pbtxt/);
    // A report that names another pack is caught too.
    const rep = join(home, 'a', 'export_report.json');
    writeFileSync(rep, readFileSync(rep, 'utf8').replace(a.digest, `sha256:${'0'.repeat(64)}`));
    const badReport = await verifyPack(join(home, 'a'), store);
    assert.equal(badReport.ok, false);
    assert.deepEqual(
      badReport.problems.map((p) => p.path),
      ['export_report.json'],
    );

    // The Triton config matches the model's I/O as onnxruntime reports it.
    const parsed = parseModelConfig(
      readFileSync(cfg, 'utf8').replace('max_batch_size: 9', 'max_batch_size: 8'),
      cfg,
    ).config;
    assert.equal(parsed.name, 'detector');
    assert.equal(parsed.platform, 'onnxruntime_onnx');
    assert.equal(parsed.maxBatchSize, 8);
    assert.ok(parsed.dynamicBatching !== undefined);
    const session = await LocalSession.open(referenceDetectorPath());
    try {
      const io = (ts: Array<{ name: string; type: string; shape: Array<number | string> }>): unknown =>
        ts.map((t) => ({ name: t.name, type: t.type, dims: t.shape.slice(1) }));
      const cfgIo = (ts: Array<{ name: string; dataType: string; dims: number[] }>): unknown =>
        ts.map((t) => ({
          name: t.name,
          type: t.dataType === 'TYPE_FP32' ? 'float32' : t.dataType,
          dims: t.dims,
        }));
      assert.deepEqual(cfgIo(parsed.inputs), io(session.io.inputs));
      assert.deepEqual(cfgIo(parsed.outputs), io(session.io.outputs));
    } finally {
      await session.close();
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
