import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DrivegateError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import { readOnnxModel } from '../onnx/proto.js';
import { loadInferenceConfig, parseInferenceConfig, type InferenceConfig } from '../runtime/config.js';
import { decodeDetections } from '../runtime/decode.js';
import { planTransform, preprocessBatch, type RgbImage } from '../runtime/preprocess.js';
import { LocalSession } from '../runtime/session.js';
import type { TensorMap } from '../runtime/tensor.js';
import { contractSmoke } from '../serve/contract.js';
import { writeModelConfig } from '../serve/model-config.js';
import { renderCamera } from '../world/render/camera.js';
import { exampleScenes } from '../world/render/example-states.js';
import { buildPostprocessModel, buildPreprocessModel } from './pipeline.js';
import { writePipeline } from './pipeline-repo.js';
import { parseRecipe, pipelineOf } from './recipe.js';
import { headDims, tritonConfig } from './triton.js';

const root = packageRoot();
const DETECTOR = join(root, 'models', 'detector-v1.1.0.onnx');
const CONFIG = join(root, 'models', 'detector-v1.1.0.inference_config.json');
const HEADS = { classes: 4, height: 24, width: 48 };
const python = '/usr/bin/python3';
const pythonHasOnnx = spawnSync(python, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;

/** Golden images: the reference world's example scenes, rendered at the given size. */
function golden(width: number, height: number, count = 6): RgbImage[] {
  return exampleScenes(width, height)
    .slice(0, count)
    .map((s) => {
      const f = renderCamera(s.state);
      return { width: f.width, height: f.height, data: f.rgb };
    });
}

function withConfig(edit: (c: InferenceConfig) => void): InferenceConfig {
  const c = structuredClone(loadInferenceConfig(CONFIG));
  edit(c);
  return parseInferenceConfig(c, 'edited.json');
}

interface Rows {
  n: number;
  boxes: Float32Array;
  scores: Float32Array;
  classes: BigInt64Array;
}

function rows(out: TensorMap, i: number, d: number): Rows {
  return {
    n: Number((out['num_detections']!.data as BigInt64Array)[i]),
    boxes: (out['boxes']!.data as Float32Array).subarray(i * d * 4, (i + 1) * d * 4),
    scores: (out['scores']!.data as Float32Array).subarray(i * d, (i + 1) * d),
    classes: (out['classes']!.data as BigInt64Array).subarray(i * d, (i + 1) * d),
  };
}

/** Preprocess + detector + postprocess in-process on a batch of same-sized images, against the runtime. */
async function compareOnImages(cfg: InferenceConfig, images: RgbImage[], label: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'dg-pipe-'));
  const pre = join(dir, 'pre.onnx');
  const post = join(dir, 'post.onnx');
  writeFileSync(pre, buildPreprocessModel(cfg));
  writeFileSync(post, buildPostprocessModel(cfg, HEADS));
  const [sp, sd, so] = await Promise.all(
    [pre, DETECTOR, post].map((p) => LocalSession.open(p, { intraOpThreads: 1 })),
  );
  try {
    const { width, height } = images[0]!;
    const raw = new Uint8Array(images.reduce((a, i) => a + i.data.length, 0));
    images.forEach((img, i) => raw.set(img.data, i * img.data.length));
    const p = await sp!.run({ image: { type: 'uint8', data: raw, dims: [images.length, height, width, 3] } });
    const ref = preprocessBatch(images, cfg);
    const a = ref.tensor.data as Float32Array;
    const b = p[cfg.input.name]!.data as Float32Array;
    let maxPre = 0;
    for (let i = 0; i < a.length; i++) maxPre = Math.max(maxPre, Math.abs(a[i]! - b[i]!));
    assert.equal(maxPre, 0, `${label}: preprocess differs from the runtime (bit for bit) by ${maxPre}`);
    assert.deepEqual(
      Array.from(p['image_size']!.data as Float32Array),
      images.flatMap(() => [height, width]),
    );
    // The runtime's detections from its own preprocessing; the ensemble's from the graph's.
    const heads = await sd!.run({ [cfg.input.name]: ref.tensor });
    const expected = decodeDetections(heads, ref.transforms, cfg);
    const out = await so!.run({ ...heads, image_size: p['image_size']! });
    const d = out['scores']!.dims[1]!;
    let total = 0;
    expected.forEach((dets, i) => {
      const r = rows(out, i, d);
      assert.equal(r.n, dets.length, `${label} image ${i}: detection count`);
      dets.forEach((det, k) => {
        assert.equal(Number(r.classes[k]), det.classIndex, `${label} image ${i} row ${k}: class`);
        assert.ok(Math.abs(r.scores[k]! - det.score) <= 1e-6, `${label} image ${i} row ${k}: score`);
        for (let j = 0; j < 4; j++) {
          const diff = Math.abs(r.boxes[k * 4 + j]! - det.bbox[j]!);
          assert.ok(diff <= 1e-3, `${label} image ${i} row ${k}: box coordinate ${j} off by ${diff}`);
        }
      });
      for (let k = dets.length; k < d; k++) {
        assert.equal(r.scores[k], 0);
        assert.equal(r.classes[k], -1n);
      }
      total += dets.length;
    });
    return total;
  } finally {
    await Promise.all([sp, sd, so].map((s) => s!.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

test('onnx.checker accepts the generated preprocess and postprocess models, and they are deterministic', () => {
  const cfg = loadInferenceConfig(CONFIG);
  const pre = buildPreprocessModel(cfg);
  const post = buildPostprocessModel(cfg, HEADS);
  assert.deepEqual(buildPreprocessModel(cfg), pre);
  assert.deepEqual(buildPostprocessModel(cfg, HEADS), post);
  const info = readOnnxModel(post, 'post.onnx');
  assert.deepEqual(info.opsetImports, [{ domain: '', version: 17 }]);
  assert.deepEqual(
    info.graph.outputs.map((o) => [o.name, o.elemType, o.dims]),
    [
      ['scores', 1, ['N', 100]],
      ['boxes', 1, ['N', 100, 4]],
      ['classes', 7, ['N', 100]],
      ['num_detections', 7, ['N', 1]],
    ],
  );
  if (!pythonHasOnnx) return;
  const dir = mkdtempSync(join(tmpdir(), 'dg-pipe-chk-'));
  try {
    for (const [name, bytes] of [
      ['pre.onnx', pre],
      ['post.onnx', post],
    ] as const) {
      writeFileSync(join(dir, name), bytes);
      execFileSync(
        python,
        [
          '-c',
          'import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)',
          join(dir, name),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the ensemble's detections equal the runtime decode on golden images, at the input size and resized", async () => {
  const cfg = loadInferenceConfig(CONFIG);
  const n = await compareOnImages(cfg, golden(192, 96), 'input size');
  assert.ok(n >= 20, `the golden images give detections to compare (${n})`);
  await compareOnImages(cfg, golden(384, 192, 3), 'twice the size');
  await compareOnImages(cfg, golden(250, 130, 2), 'odd size');
});

test('the postprocess follows the config: many candidates through NMS, class-agnostic NMS, per-class thresholds, top-k and max_detections', async () => {
  const images = golden(192, 96, 3);
  const low = withConfig((c) => (c.postprocess.score_threshold = 0.001));
  const many = await compareOnImages(low, images, 'threshold 0.001');
  assert.ok(many >= 60, `${many} detections`);
  const agnostic = withConfig((c) => {
    c.postprocess = {
      score_threshold: 0.01,
      score_thresholds: {},
      nms: { iou_threshold: 0.3, per_class: false, max_detections: 20 },
    };
    if (c.output.decoder === 'centernet') c.output.top_k = 50;
  });
  await compareOnImages(agnostic, images, 'class-agnostic');
  const perClass = withConfig((c) => {
    c.postprocess.score_threshold = 0.02;
    c.postprocess.score_thresholds = { car: 0.4, pedestrian: 0.03 };
  });
  await compareOnImages(perClass, images, 'per-class thresholds');
});

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

test('on synthetic heads with many overlapping boxes the postprocess equals the runtime decode (NMS at work)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-pipe-syn-'));
  try {
    const { classes: C, height: h, width: w } = HEADS;
    const N = 3;
    const r = rng(7);
    const heat = new Float32Array(N * C * h * w).map(() => r() ** 3);
    const wh = new Float32Array(N * 2 * h * w).map(() => 16 + r() * 64);
    const off = new Float32Array(N * 2 * h * w).map(() => r());
    const heads: TensorMap = {
      heatmap: { type: 'float32', data: heat, dims: [N, C, h, w] },
      wh: { type: 'float32', data: wh, dims: [N, 2, h, w] },
      offset: { type: 'float32', data: off, dims: [N, 2, h, w] },
    };
    const configs: Array<[string, InferenceConfig]> = [
      ['per-class NMS', withConfig((c) => (c.postprocess.score_threshold = 0.2))],
      [
        'class-agnostic NMS, top-k 60, 25 detections',
        withConfig((c) => {
          c.postprocess = {
            score_threshold: 0.1,
            score_thresholds: { truck: 0.5 },
            nms: { iou_threshold: 0.3, per_class: false, max_detections: 25 },
          };
          if (c.output.decoder === 'centernet') c.output.top_k = 60;
        }),
      ],
    ];
    for (const [label, cfg] of configs) {
      const post = join(dir, 'post.onnx');
      writeFileSync(post, buildPostprocessModel(cfg, HEADS));
      const so = await LocalSession.open(post, { intraOpThreads: 1 });
      try {
        // Images of 240x120 pixels: boxes are mapped back from the 192x96 input and clipped.
        const size = new Float32Array(N * 2).map((_, i) => (i % 2 === 0 ? 120 : 240));
        const copy = (t: TensorMap[string]): TensorMap[string] => ({ ...t, data: t.data.slice() });
        const out = await so.run({
          heatmap: copy(heads['heatmap']!),
          wh: copy(heads['wh']!),
          offset: copy(heads['offset']!),
          image_size: { type: 'float32', data: size, dims: [N, 2] },
        });
        const transforms = Array.from({ length: N }, () => planTransform(240, 120, cfg));
        const expected = decodeDetections(heads, transforms, cfg);
        const d = out['scores']!.dims[1]!;
        let suppressed = 0;
        expected.forEach((dets, i) => {
          const got = rows(out, i, d);
          assert.equal(got.n, dets.length, `${label} image ${i}: count`);
          dets.forEach((det, k) => {
            assert.equal(Number(got.classes[k]), det.classIndex, `${label} image ${i} row ${k}: class`);
            assert.equal(got.scores[k], Math.fround(det.score), `${label} image ${i} row ${k}: score`);
            for (let j = 0; j < 4; j++)
              assert.ok(
                Math.abs(got.boxes[k * 4 + j]! - det.bbox[j]!) <= 1e-3,
                `${label} image ${i} row ${k}: box`,
              );
          });
        });
        // Without NMS (IoU threshold 1, no cap) the runtime keeps more: suppression did happen.
        const noNms = structuredClone(cfg);
        noNms.postprocess.nms = { ...noNms.postprocess.nms, iou_threshold: 1, max_detections: 1000 };
        decodeDetections(heads, transforms, noNms).forEach((all, i) => {
          suppressed += all.length - (expected[i]?.length ?? 0);
        });
        assert.ok(suppressed >= 5, `${label}: NMS removed ${suppressed} candidates`);
      } finally {
        await so.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('letterbox contracts take raw images of the input size only; a boxes decoder has no postprocess', () => {
  const letter = withConfig((c) => (c.preprocess.resize.mode = 'letterbox'));
  const info = readOnnxModel(buildPreprocessModel(letter), 'pre.onnx');
  assert.deepEqual(info.graph.inputs[0]?.dims, ['N', 96, 192, 3]);
  const boxes = loadInferenceConfig(join(root, 'src', 'runtime', 'testdata', 'boxes.inference_config.json'));
  assert.throws(
    () => buildPostprocessModel(boxes, HEADS, 'boxes.json'),
    (e: unknown) =>
      e instanceof DrivegateError && e.code === 'BAD_INPUT' && e.location.field === 'output.decoder',
  );
});

test('a served pipeline passes the contract smoke: raw images through the ensemble give the runtime detections', async () => {
  const repo = mkdtempSync(join(tmpdir(), 'dg-pipe-repo-'));
  try {
    const cfg = loadInferenceConfig(CONFIG);
    const recipeText = readFileSync(join(root, 'examples', 'recipe.yaml'), 'utf8');
    const recipe = parseRecipe(recipeText, 'recipe.yaml');
    const spec = pipelineOf(recipe);
    assert.deepEqual(spec, { name: 'detector_pipeline', steps: ['preprocess', 'detector', 'postprocess'] });
    const info = readOnnxModel(readFileSync(DETECTOR), DETECTOR);
    assert.deepEqual(headDims(info, cfg), HEADS);
    const detector = {
      ...tritonConfig(info, recipe, DETECTOR),
      parameters: { 'session.intra_op.allow_spinning': '0' },
    };
    mkdirSync(join(repo, 'detector', '1'), { recursive: true });
    writeFileSync(join(repo, 'detector', 'config.pbtxt'), writeModelConfig(detector));
    copyFileSync(DETECTOR, join(repo, 'detector', '1', 'model.onnx'));
    const written = await writePipeline(repo, spec!, detector, info, cfg);
    const pbtxt = readFileSync(join(repo, 'detector_pipeline', 'config.pbtxt'), 'utf8');
    assert.match(pbtxt, /platform: "ensemble"/);
    assert.match(
      pbtxt,
      /step \{\n {4}model_name: "preprocess"\n {4}model_version: -1\n {4}input_map \{\n {6}key: "image"/,
    );
    const withEnsemble = { ...cfg, ensemble: written.spec };
    const r = await contractSmoke(repo, withEnsemble, {
      model: 'detector_pipeline',
      images: [...golden(192, 96, 2), ...golden(300, 160, 1)],
    });
    assert.equal(r.ok, true, JSON.stringify(r.checks.filter((c) => !c.ok)));
    assert.equal(r.ensemble?.length, 3);
    assert.ok(
      (r.ensemble ?? []).every((e) => e.detections === e.runtime_detections && e.class_mismatches === 0),
    );
    assert.ok((r.ensemble ?? []).reduce((a, e) => a + e.detections, 0) > 5);
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});
