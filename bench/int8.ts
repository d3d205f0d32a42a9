/**
 * Benchmark: static INT8 quantization of the reference detector (models/detector-v1.1.0.onnx).
 *
 * 1. Calibration shard: 512 images of the reference world's train split, balanced per
 *    weather x time_of_day by the packaging workflow's shard selection (equal counts per stratum,
 *    seeded shuffle inside each stratum), batches of 8. The deviation from FP32 is measured on 64 held-out val images.
 * 2. For each calibrator (minmax, percentile, entropy): `quantizeInt8` (with sensitivity fallback),
 *    then detection on golden_test with the FP32 and the INT8 model and COCO bbox mAP of both.
 * 3. CPU latency (onnxruntime-node, default threads, in-process) of FP32 vs INT8 at batch 1 and 8,
 *    measured in alternating warm blocks.
 *
 * Prints mAP fp32, mAP int8, the delta in points (target: within 1 point) and the latency ratio
 * int8/fp32 (target: < 1) per calibrator. The world is data/reference when present (the golden
 * world), else `--world DIR`, else it is generated into a temp folder with the golden world's
 * options from data/reference/dataset.json's recipe (seed 7, 1200 scenes x 8 frames: minutes).
 *
 *   node --import tsx bench/int8.ts [--world DIR] [--shard 512] [--activation uint8|int8]
 *        [--calibrators minmax,percentile,entropy] [--test-images N] [--json] [--verbose]
 */
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/core/paths.js';
import { evaluateCocoFiles } from '../src/eval/metrics/coco/index.js';
import { CALIBRATORS, quantizeInt8, type ActivationType, type CalibratorKind } from '../src/onnx/index.js';
import { parseManifest, selectShard } from '../src/package/shard.js';
import { loadInferenceConfig } from '../src/runtime/config.js';
import { runDetect } from '../src/runtime/detect.js';
import { preprocessBatch, readPngFile } from '../src/runtime/preprocess.js';
import { resolveModel } from '../src/runtime/resolve.js';
import { LocalSession } from '../src/runtime/session.js';
import type { TensorMap } from '../src/runtime/tensor.js';
import { generateDataset } from '../src/world/dataset.js';
import { parseWeights } from '../src/world/weights.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}
const json = process.argv.includes('--json');
const verbose = process.argv.includes('--verbose');
const shardSize = Number(arg('--shard', '512'));
const activationType = arg('--activation', 'uint8') as ActivationType;
const calibrators = arg('--calibrators', CALIBRATORS.join(',')).split(',') as CalibratorKind[];
const testImages = Number(arg('--test-images', '0'));
const say = (s: string): void => {
  if (json) process.stderr.write(`${s}\n`);
  else console.log(s);
};

const root = packageRoot();
const modelPath = join(root, 'models', 'detector-v1.1.0.onnx');
const configPath = join(root, 'models', 'detector-v1.1.0.inference_config.json');
const cfg = loadInferenceConfig(configPath);
const tmp = mkdtempSync(join(tmpdir(), 'dg-bench-int8-'));

interface Rec {
  image: string;
  weather: string;
  time_of_day: string;
}

async function worldDir(): Promise<string> {
  const given = arg('--world', '');
  if (given !== '') return given;
  const golden = join(root, 'data', 'reference');
  if (existsSync(join(golden, 'golden_train.manifest'))) return golden;
  const out = join(tmp, 'world');
  say('no data/reference: generating the golden world (seed 7, 1200 scenes x 8 frames; takes minutes)');
  await generateDataset({
    out,
    scenes: 1200,
    framesPerScene: 8,
    seed: 7,
    weights: parseWeights([
      'weather=clear:0.55,rain:0.2,fog:0.12,snow:0.13',
      'time_of_day=day:0.6,dusk:0.2,night:0.2',
      'road_type=highway:0.3,urban:0.45,rural:0.25',
      'region=eu:1,us:1,asia:1',
    ]),
    minGapSeconds: 600,
    geoSeparation: true,
  });
  return out;
}

/**
 * `n` records balanced over weather x time_of_day with the packaging workflow's own shard selection
 * (src/package/shard.ts: equal counts per stratum, seeded shuffle inside each).
 */
function balanced(dir: string, manifest: string, n: number, seed: number): Rec[] {
  const file = join(dir, manifest);
  const shard = selectShard(parseManifest(readFileSync(file, 'utf8'), file), {
    count: n,
    balance: ['weather', 'time_of_day'],
    seed,
    manifest: file,
  });
  return shard.images.map((img) => {
    const [weather, time] = img.stratum.split(',').map((kv) => kv.split('=')[1] ?? '');
    return { image: img.image, weather: weather ?? '', time_of_day: time ?? '' };
  });
}

function batches(dir: string, recs: Rec[], size: number): TensorMap[] {
  const out: TensorMap[] = [];
  for (let i = 0; i < recs.length; i += size) {
    const imgs = recs.slice(i, i + size).map((r) => readPngFile(join(dir, r.image)));
    out.push({ images: preprocessBatch(imgs, cfg).tensor });
  }
  return out;
}

/** golden_test's manifest and ground truth, or (with --test-images N) the first N images of both. */
function testSet(dir: string): { manifest: string; gt: string } {
  const manifest = join(dir, 'golden_test.manifest');
  const gt = join(dir, 'golden_test.json');
  if (testImages <= 0) return { manifest, gt };
  const lines = readFileSync(manifest, 'utf8').split('\n').slice(0, testImages);
  const ids = new Set(lines.map((l) => (JSON.parse(l) as { image_id: number }).image_id));
  const coco = JSON.parse(readFileSync(gt, 'utf8')) as {
    images: Array<{ id: number }>;
    annotations: Array<{ image_id: number }>;
  };
  symlinkSync(join(dir, 'images'), join(tmp, 'images'));
  writeFileSync(join(tmp, 'test.manifest'), lines.join('\n') + '\n');
  const sub = {
    ...coco,
    images: coco.images.filter((i) => ids.has(i.id)),
    annotations: coco.annotations.filter((a) => ids.has(a.image_id)),
  };
  writeFileSync(join(tmp, 'test.json'), JSON.stringify(sub));
  return { manifest: join(tmp, 'test.manifest'), gt: join(tmp, 'test.json') };
}

async function mapOf(
  model: string,
  test: { manifest: string; gt: string },
  name: string,
): Promise<{ map: number; ap50: number; seconds: number }> {
  const out = join(tmp, `${name}.results.json`);
  const s = await runDetect({
    model: resolveModel(model, configPath),
    images: test.manifest,
    gt: test.gt,
    out,
    batch: 8,
  });
  const r = evaluateCocoFiles({ gt: test.gt, dt: out, iouType: 'bbox' });
  return { map: r.stats[0] ?? Number.NaN, ap50: r.stats[1] ?? Number.NaN, seconds: s.seconds };
}

async function latency(a: string, b: string, batch: number): Promise<{ a: number; b: number }> {
  const sa = await LocalSession.open(a);
  const sb = await LocalSession.open(b);
  const feeds = (): TensorMap => ({
    images: {
      type: 'float32',
      data: new Float32Array(batch * 3 * 96 * 192).map((_, i) => Math.sin(i) * 1.5),
      dims: [batch, 3, 96, 192],
    },
  });
  const times = { a: [] as number[], b: [] as number[] };
  const iters = batch === 1 ? 40 : 10;
  try {
    for (let w = 0; w < 3; w++) {
      await sa.run(feeds());
      await sb.run(feeds());
    }
    for (let block = 0; block < 6; block++) {
      for (const [s, list] of [
        [sa, times.a],
        [sb, times.b],
      ] as const) {
        const f = feeds();
        await s.run(f);
        const t0 = performance.now();
        for (let i = 0; i < iters; i++) await s.run(feeds());
        list.push((performance.now() - t0) / iters);
      }
    }
  } finally {
    await sa.close();
    await sb.close();
  }
  const med = (l: number[]): number => [...l].sort((x, y) => x - y)[Math.floor(l.length / 2)] as number;
  return { a: med(times.a), b: med(times.b) };
}

const dir = await worldDir();
const shard = balanced(dir, 'golden_train.manifest', shardSize, 1);
const strata = new Set(shard.map((r) => `${r.weather}/${r.time_of_day}`));
say(
  `calibration shard: ${shard.length} train images over ${strata.size} weather x time_of_day strata (batches of 8)`,
);
const calibration = batches(dir, shard, 8);
const evaluation = batches(dir, balanced(dir, 'golden_val.manifest', 64, 2), 8);

const test = testSet(dir);
const fp32 = await mapOf(modelPath, test, 'fp32');
say(
  `FP32: mAP ${(fp32.map * 100).toFixed(2)}  AP50 ${(fp32.ap50 * 100).toFixed(2)}  (${fp32.seconds.toFixed(1)} s detection)`,
);
// Per-output bounds on the 64 val images: heatmap scores within 0.25 everywhere, box sizes within
// 0.6 px and centre offsets within 0.05 cells on average.
const tolerance = { outputs: { heatmap: { maxAbs: 0.25 }, wh: { meanAbs: 0.6 }, offset: { meanAbs: 0.05 } } };
const rows: Array<Record<string, unknown>> = [];
for (const calibrator of calibrators) {
  const t0 = performance.now();
  const r = await quantizeInt8({
    model: readFileSync(modelPath),
    file: modelPath,
    calibration,
    evaluation,
    calibrator,
    activationType,
    tolerance,
    ...(verbose
      ? {
          log: (m: string) => process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(1)}s ${m}\n`),
        }
      : {}),
  });
  const qSeconds = (performance.now() - t0) / 1000;
  const int8Path = join(tmp, `detector-int8-${calibrator}.onnx`);
  writeFileSync(int8Path, r.model);
  copyFileSync(configPath, int8Path.replace(/\.onnx$/, '.inference_config.json'));
  const q = await mapOf(int8Path, test, calibrator);
  const l1 = await latency(modelPath, int8Path, 1);
  const l8 = await latency(modelPath, int8Path, 8);
  const row = {
    calibrator,
    activationType,
    quantizeSeconds: qSeconds,
    quantizedNodes: r.quantizedNodes,
    quantizableNodes: r.quantizableNodes,
    fallback: r.fallback,
    withinTolerance: r.withinTolerance,
    deviation: r.deviation,
    comparison: r.comparison,
    mapFp32: fp32.map,
    mapInt8: q.map,
    deltaPoints: (q.map - fp32.map) * 100,
    ap50Fp32: fp32.ap50,
    ap50Int8: q.ap50,
    latencyMs: { fp32: { b1: l1.a, b8: l8.a }, int8: { b1: l1.b, b8: l8.b } },
    latencyRatio: { b1: l1.b / l1.a, b8: l8.b / l8.a },
    modelBytes: r.model.length,
  };
  rows.push(row);
  const dev = Object.entries(r.deviation)
    .map(([k, v]) => `${k} max ${v.maxAbs.toFixed(3)} mean ${v.meanAbs.toFixed(4)}`)
    .join('; ');
  say(
    `${calibrator.padEnd(10)} mAP fp32 ${(fp32.map * 100).toFixed(2)}  int8 ${(q.map * 100).toFixed(2)}  delta ${row.deltaPoints >= 0 ? '+' : ''}${row.deltaPoints.toFixed(2)} pt` +
      `  (AP50 ${(fp32.ap50 * 100).toFixed(2)} -> ${(q.ap50 * 100).toFixed(2)})` +
      `  latency int8/fp32: b1 ${l1.b.toFixed(2)}/${l1.a.toFixed(2)} ms = ${row.latencyRatio.b1.toFixed(2)}x, b8 ${l8.b.toFixed(2)}/${l8.a.toFixed(2)} ms = ${row.latencyRatio.b8.toFixed(2)}x` +
      `\n           quantized ${r.quantizedNodes}/${r.quantizableNodes} layers, fallback [${r.fallback.join(', ')}], within tolerance ${r.withinTolerance}, ${qSeconds.toFixed(1)} s; deviation on 64 val images: ${dev}`,
  );
}
if (json)
  console.log(JSON.stringify({ activationType, shard: shard.length, strata: strata.size, rows }, null, 2));
rmSync(tmp, { recursive: true, force: true });
