import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { DrivegateError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import { loadInferenceConfig } from '../runtime/config.js';
import { preprocessBatch, readPngFile } from '../runtime/preprocess.js';
import { LocalSession } from '../runtime/session.js';
import type { TensorMap } from '../runtime/tensor.js';
import { generateDataset } from '../world/dataset.js';
import {
  DT,
  decodeModel,
  encodeModel,
  intField,
  lenField,
  rawTensor,
  tensorValue,
  type GraphNode,
  type GraphTensor,
} from './graph.js';
import { quantizeInt8, type QuantizeInt8Options } from './quantize.js';
import { parseCalibrationCache } from './trt-cache.js';

const root = packageRoot();
const detectorFile = join(root, 'models', 'detector-v1.1.0.onnx');
const detector = readFileSync(detectorFile);
const work = mkdtempSync(join(tmpdir(), 'dg-int8-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** 8 rendered reference-world images, preprocessed as 2 batches of 4. */
let images: TensorMap[] | undefined;
async function worldBatches(): Promise<TensorMap[]> {
  if (images !== undefined) return images;
  const out = join(work, 'world');
  await generateDataset({ out, scenes: 2, framesPerScene: 4, seed: 11, workers: 0 });
  const files = readdirSync(join(out, 'images'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => join(out, 'images', f));
  const cfg = loadInferenceConfig(join(root, 'models', 'detector-v1.1.0.inference_config.json'));
  images = [];
  for (let i = 0; i + 4 <= files.length; i += 4) {
    images.push({ images: preprocessBatch(files.slice(i, i + 4).map(readPngFile), cfg).tensor });
  }
  return images;
}

function isBadInput(file: string, what: RegExp): (e: unknown) => boolean {
  return (e: unknown) =>
    e instanceof DrivegateError && e.code === 'BAD_INPUT' && e.message.includes(file) && what.test(e.message);
}

const TOL = {
  outputs: { heatmap: { maxAbs: 0.25 }, wh: { maxAbs: 12, meanAbs: 0.5 }, offset: { maxAbs: 0.5 } },
};

test('quantizes the detector to a QDQ model onnxruntime runs, float32 I/O kept, within tolerance, byte-identical on a rerun', async () => {
  const calibration = await worldBatches();
  const opts: QuantizeInt8Options = {
    model: detector,
    file: detectorFile,
    calibration,
    calibrator: 'entropy',
    tolerance: TOL,
    sensitivity: 'when-needed',
  };
  const r = await quantizeInt8(opts);
  assert.equal(r.withinTolerance, true, JSON.stringify(r.deviation));
  assert.ok(r.quantizedNodes >= 15, `quantized ${r.quantizedNodes} of ${r.quantizableNodes}`);
  assert.deepEqual(
    r.comparison.map((c) => c.calibrator),
    ['minmax', 'percentile', 'entropy'],
  );
  for (const c of r.comparison) assert.deepEqual(Object.keys(c.outputs).sort(), ['heatmap', 'offset', 'wh']);
  assert.ok(r.model.length < detector.length / 2, 'int8 weights shrink the file');

  const m = decodeModel(r.model, 'q.onnx');
  const ops = m.graph.nodes.map((n) => n.opType);
  assert.ok(ops.includes('QuantizeLinear') && ops.includes('DequantizeLinear'));
  const perChannel = m.graph.nodes.filter(
    (n) => n.opType === 'DequantizeLinear' && n.attributes.some((a) => a.name === 'axis'),
  );
  assert.ok(perChannel.length >= 15, 'per-channel weight DequantizeLinear with axis');
  const int8Weights = m.graph.initializers.filter((t) => t.dataType === DT.INT8 && t.dims.length === 4);
  assert.ok(int8Weights.length >= 15);

  const path = join(work, 'det.int8.onnx');
  writeFileSync(path, r.model);
  const a = await LocalSession.open(detectorFile, { intraOpThreads: 1 });
  const b = await LocalSession.open(path, { intraOpThreads: 1 });
  try {
    assert.deepEqual(b.io, a.io);
    const feeds = calibration[0] as TensorMap;
    const out = await b.run({ images: { ...(feeds['images'] as TensorMap[string]) } });
    assert.equal(out['heatmap']?.type, 'float32');
  } finally {
    await a.close();
    await b.close();
  }

  // onnxruntime fuses the uint8 form into integer kernels (what makes it fast): check its optimized graph.
  const optimized = join(work, 'det.int8.optimized.onnx');
  const session = await ort.InferenceSession.create(path, {
    intraOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    optimizedModelFilePath: optimized,
    logSeverityLevel: 4,
  });
  await session.release();
  const fused = decodeModel(readFileSync(optimized), optimized).graph.nodes.filter(
    (n) => n.opType === 'QLinearConv',
  );
  assert.ok(
    fused.length >= r.quantizedNodes - 1,
    `${fused.length} QLinearConv for ${r.quantizedNodes} quantized layers`,
  );

  const cache = parseCalibrationCache(r.calibrationCache);
  assert.equal(cache.algorithm, 'EntropyCalibration2');
  assert.equal(cache.version, 8601);
  assert.deepEqual(Object.keys(cache.scales), Object.keys(r.scales));
  assert.equal(Object.keys(cache.scales)[0], 'images');
  for (const [k, v] of Object.entries(r.scales)) assert.equal(cache.scales[k], v);

  const again = await quantizeInt8(opts);
  assert.ok(again.model.equals(r.model), 'same model bytes');
  assert.equal(again.calibrationCache, r.calibrationCache);
});

test('onnx.checker (Debian python3-onnx) accepts the int8 QDQ model (TensorRT form)', async (t) => {
  const py = '/usr/bin/python3';
  if (!existsSync(py) || spawnSync(py, ['-c', 'import onnx']).status !== 0) {
    t.skip('python3-onnx not installed (scripts/ensure-system-deps.sh)');
    return;
  }
  const calibration = await worldBatches();
  const r = await quantizeInt8({
    model: detector,
    file: detectorFile,
    calibration: calibration.slice(0, 1),
    calibrator: 'minmax',
    tolerance: { maxAbs: 1e9 },
    activationType: 'int8',
    sensitivity: 'when-needed',
  });
  // TensorRT form: every zero point int8 and 0, no int32 bias, ConvTranspose quantized too.
  const m = decodeModel(r.model, 'q.onnx');
  const inits = new Map(m.graph.initializers.map((x) => [x.name, x]));
  for (const n of m.graph.nodes.filter(
    (x) => x.opType === 'QuantizeLinear' || x.opType === 'DequantizeLinear',
  )) {
    const zp = inits.get(n.inputs[2] ?? '');
    assert.equal(zp?.dataType, DT.INT8, `${n.name} zero point int8`);
    assert.ok(
      zp.data?.every((x) => x === 0),
      `${n.name} zero point 0`,
    );
  }
  assert.equal(r.quantizableNodes, 24, 'Conv and ConvTranspose');
  const path = join(work, 'det.trt.int8.onnx');
  writeFileSync(path, r.model);
  const res = spawnSync(
    py,
    [
      '-c',
      'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print("ok")',
      path,
    ],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(res.status, 0, res.stderr);
  assert.equal(res.stdout.trim(), 'ok');
});

const busyFile = join(root, 'src', 'runtime', 'testdata', 'busy.onnx');

/** A 3-layer MLP x[N,16] -> MatMul(16x32) -> Tanh -> MatMul(32x32) -> Tanh -> MatMul(32x4) -> y, built with graph.ts. */
function mlpModel(): Buffer {
  const sizes = [16, 32, 32, 4];
  const nodes: GraphNode[] = [];
  const inits: GraphTensor[] = [];
  let prev = 'x';
  for (let l = 0; l < 3; l++) {
    const [k, n] = [sizes[l] as number, sizes[l + 1] as number];
    const w = Buffer.alloc(k * n * 4);
    for (let i = 0; i < k * n; i++) w.writeFloatLE((Math.sin(i * 0.7 + l) * 1.7) / Math.sqrt(k), i * 4);
    inits.push(rawTensor(`w${l}`, DT.FLOAT, [k, n], w));
    const out = l === 2 ? 'y' : `h${l}`;
    const mm = l === 2 ? 'y' : `m${l}`;
    nodes.push({
      name: `mm${l}`,
      opType: 'MatMul',
      domain: '',
      inputs: [prev, `w${l}`],
      outputs: [mm],
      attributes: [],
      extra: [],
    });
    if (l < 2)
      nodes.push({
        name: `act${l}`,
        opType: 'Tanh',
        domain: '',
        inputs: [mm],
        outputs: [out],
        attributes: [],
        extra: [],
      });
    prev = out;
  }
  return encodeModel({
    head: [intField(1, 8), lenField(8, intField(2, 17))],
    tail: [],
    opset: 17,
    graph: {
      name: 'mlp',
      nodes,
      initializers: inits,
      inputs: [tensorValue('x', DT.FLOAT)],
      outputs: [tensorValue('y', DT.FLOAT)],
      valueInfo: [],
      extra: [],
    },
  });
}
const mlp = mlpModel();
function mlpBatch(seed: number): TensorMap {
  return {
    x: {
      type: 'float32',
      data: new Float32Array(32 * 16).map((_, i) => Math.sin(i * seed + 0.3)),
      dims: [32, 16],
    },
  };
}

test('a tight tolerance makes the most sensitive layers fall back to FP32, which lowers the deviation', async () => {
  const r = await quantizeInt8({
    model: mlp,
    file: 'mlp.onnx',
    calibration: [mlpBatch(1), mlpBatch(2)],
    evaluation: [mlpBatch(1)],
    calibrator: 'minmax',
    tolerance: { maxAbs: 1e-4 },
    maxFallback: 2,
  });
  assert.equal(r.withinTolerance, false);
  assert.equal(r.sensitivity.length, r.quantizableNodes);
  for (let i = 1; i < r.sensitivity.length; i++) {
    assert.ok((r.sensitivity[i - 1]?.score ?? 0) >= (r.sensitivity[i]?.score ?? 0), 'sorted by sensitivity');
  }
  assert.ok(r.fallback.length >= 1 && r.fallback.length <= 2, `fallback ${r.fallback.join(', ')}`);
  assert.equal(r.quantizedNodes, r.quantizableNodes - r.fallback.length);
  const full = r.comparison.find((c) => c.calibrator === 'minmax')?.score ?? 0;
  assert.ok(r.score < full, `fallback lowered the score: ${r.score} < ${full}`);
  const m = decodeModel(r.model, 'q.onnx');
  const quantized = m.graph.nodes.filter(
    (n) => n.opType === 'MatMul' && n.inputs.every((i) => i.endsWith('_dequantized')),
  );
  assert.equal(quantized.length, r.quantizedNodes);
  const wDq = m.graph.nodes.filter((n) => n.opType === 'DequantizeLinear' && n.inputs[0]?.startsWith('w'));
  assert.ok(
    wDq.every((n) => n.attributes.some((a) => a.name === 'axis' && a.i === 1)),
    'per-column weight scales',
  );
});

test('quantizes a MatMul model (constant weights per column; activation x activation MatMul per tensor)', async () => {
  const r = await quantizeInt8({
    model: mlp,
    file: 'mlp.onnx',
    calibration: [mlpBatch(1), mlpBatch(2)],
    calibrator: 'percentile',
    tolerance: { maxAbs: 0.05 },
  });
  assert.equal(r.quantizableNodes, 3);
  assert.ok(r.withinTolerance, JSON.stringify(r.deviation));
  assert.ok((r.deviation['y']?.maxAbs ?? 0) > 0, 'int8 changes the output');
  assert.ok(r.calibrationCache.startsWith('TRT-8601-EntropyCalibration2\nx: '));
  const busy = await quantizeInt8({
    model: readFileSync(busyFile),
    file: busyFile,
    calibration: [{ x: { type: 'float32', data: new Float32Array(2 * 8 * 8).fill(0.1), dims: [2, 8, 8] } }],
    calibrator: 'minmax',
    tolerance: { maxAbs: 1 },
    sensitivity: 'when-needed',
  });
  assert.equal(busy.quantizableNodes, 8, 'MatMul(x, x): both inputs are activations');
});

test('bad input is BAD_INPUT naming the file: no Conv/MatMul, empty calibration, non-float input, batch without the input', async () => {
  const boxes = join(root, 'src', 'runtime', 'testdata', 'boxes.onnx');
  const some: TensorMap = {
    images: { type: 'float32', data: new Float32Array(3 * 64 * 128), dims: [1, 3, 64, 128] },
  };
  const base = { calibrator: 'minmax' as const, tolerance: { maxAbs: 1 } };
  await assert.rejects(
    quantizeInt8({ ...base, model: readFileSync(boxes), file: boxes, calibration: [some] }),
    isBadInput(boxes, /Conv .*MatMul/),
  );
  await assert.rejects(
    quantizeInt8({ ...base, model: detector, file: detectorFile, calibration: [] }),
    isBadInput(detectorFile, /calibration set is empty/),
  );
  await assert.rejects(
    quantizeInt8({ ...base, model: detector, file: detectorFile, calibration: [{ x: some['images']! }] }),
    isBadInput(detectorFile, /float32 tensor named images/),
  );
  const busy = join(root, 'src', 'runtime', 'testdata', 'busy.onnx');
  const m = decodeModel(readFileSync(busy), busy);
  m.graph.inputs = [tensorValue('x', DT.INT64)];
  await assert.rejects(
    quantizeInt8({ ...base, model: encodeModel(m), file: 'int-input.onnx', calibration: [some] }),
    isBadInput('int-input.onnx', /float32 model inputs.*element type 7/),
  );
  await assert.rejects(
    quantizeInt8({ ...base, tolerance: {}, model: detector, file: detectorFile, calibration: [some] }),
    isBadInput(detectorFile, /tolerance/),
  );
});

test('with a check set the tolerance is judged on every check batch: an outlier batch the evaluation set misses is caught and ranks the sensitivity', async () => {
  // Inputs 3x beyond the calibrated range: INT8 clips them, so the deviation shows only on this batch.
  const outlier = mlpBatch(5);
  const x = outlier['x'];
  if (x === undefined) throw new Error('no x');
  outlier['x'] = { ...x, data: (x.data as Float32Array).map((v) => v * 3) };
  const base: QuantizeInt8Options = {
    model: mlp,
    file: 'mlp.onnx',
    calibration: [mlpBatch(1), mlpBatch(2)],
    evaluation: [mlpBatch(1)],
    calibrator: 'minmax',
    tolerance: { maxAbs: 0.05 },
    maxFallback: 3,
  };
  const small = await quantizeInt8(base);
  assert.equal(small.withinTolerance, true, `evaluation only: score ${small.score}`);
  assert.deepEqual(small.fallback, []);
  assert.equal(small.check, null);
  assert.equal(small.sensitivityBatches, null);
  const trials: string[] = [];
  const checked = await quantizeInt8({
    ...base,
    check: [mlpBatch(1), mlpBatch(2), outlier],
    log: (m) => {
      if (/ in FP32: score /.test(m)) trials.push(m);
    },
  });
  assert.deepEqual(checked.check, { batches: 3, samples: 96 });
  // One sensitivity batch (as many as the evaluation set has): the outlier, index 2.
  assert.deepEqual(checked.sensitivityBatches, [2]);
  assert.equal(checked.withinTolerance, false, 'the outlier is caught');
  assert.ok(checked.score > 1, `score on the check set ${checked.score}`);
  // The comparison stays on the evaluation set; the fallback trials ran against the check score.
  assert.ok((checked.comparison.find((c) => c.calibrator === 'minmax')?.score ?? 2) < 1);
  assert.equal(trials.length, checked.quantizableNodes, trials.join('\n'));
  for (const t of trials) assert.match(t, new RegExp(`\\(was ${checked.score.toFixed(3)}\\)$`));
});
