import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DrivegateError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import { loadRecipe, parseRecipe, pipelineOf } from './recipe.js';

const base = 'recipe_version: 1\ntask: detection\nmodel:\n  name: detector\n';

function badInputAt(text: string, field: string, line: number, found: RegExp): void {
  assert.throws(
    () => parseRecipe(text, 'r.yaml'),
    (e: unknown) =>
      e instanceof DrivegateError &&
      e.code === 'BAD_INPUT' &&
      e.location.file === 'r.yaml' &&
      e.location.field === field &&
      e.location.line === line &&
      found.test(e.found ?? ''),
  );
}

test('examples/recipe.yaml parses with the reference detector settings', async () => {
  const { recipe } = await loadRecipe(join(packageRoot(), 'examples', 'recipe.yaml'));
  assert.equal(recipe.task, 'detection');
  assert.equal(recipe.model.name, 'detector');
  assert.deepEqual(recipe.targets, [
    'cpu-ort-fp32',
    'cpu-ort-fp16',
    'cpu-ort-int8',
    'gpu-trt-fp16',
    'gpu-trt-int8',
  ]);
  assert.equal(recipe.tolerances.fp32.max_abs, 1e-4);
  assert.deepEqual(recipe.tolerances.fp16?.max_abs, { heatmap: 0.02, wh: 0.5, offset: 0.02 });
  // The full reference job: a 512-image shard balanced over weather x time_of_day, 1,000 random inputs.
  assert.equal(recipe.calibration?.count, 512);
  assert.deepEqual(recipe.calibration?.balance, ['weather', 'time_of_day']);
  assert.equal(recipe.calibration?.world?.split, 'train');
  assert.equal(recipe.equivalence.samples, 1000);
  // The reference pack ships a pipeline ensemble.
  assert.deepEqual(recipe.pipeline, {
    name: 'detector_pipeline',
    steps: ['preprocess', 'detector', 'postprocess'],
  });
});

test('defaults fill what a minimal recipe leaves out', () => {
  const r = parseRecipe(`${base}targets: [cpu-ort-fp32]\n`, 'r.yaml');
  assert.equal(r.serving.max_batch_size, 8);
  assert.equal(r.equivalence.samples, 1000);
  assert.equal(r.equivalence.images, 512);
  assert.equal(r.int8.calibrator, 'entropy');
  assert.equal(r.calibration, undefined);
  assert.deepEqual(r.fp16, {});
  assert.deepEqual(r.lineage, {});
});

test('a calibration block names exactly one of manifest or world, and per-head tolerances parse', () => {
  badInputAt(`${base}targets: [cpu-ort-int8]\ncalibration:\n  count: 8\n`, 'calibration', 6, /count/);
  const r = parseRecipe(
    `${base}targets: [cpu-ort-int8]\ncalibration:\n  manifest: shard.manifest\n  count: 8\n` +
      `tolerances:\n  int8: { max_abs: { wh: 8, heatmap: 0.5 }, iou_drift: 0.02 }\n`,
    'r.yaml',
  );
  assert.equal(r.calibration?.manifest, 'shard.manifest');
  assert.deepEqual(r.calibration?.balance, ['weather', 'time_of_day']);
  assert.deepEqual(r.tolerances.int8?.max_abs, { wh: 8, heatmap: 0.5 });
});

test('an unknown target is BAD_INPUT naming the file, the list item and its line', () => {
  badInputAt(`${base}targets:\n  - cpu-ort-fp32\n  - tpu-xla-fp8\n`, 'targets[1]', 7, /tpu-xla-fp8/);
});

test('an unknown field is BAD_INPUT naming the key and its line, top level and nested', () => {
  badInputAt(`${base}targets: [cpu-ort-fp32]\ncolour: blue\n`, 'colour', 6, /colour/);
  badInputAt(
    `${base}targets: [cpu-ort-fp32]\nserving:\n  max_batch: 4\n`,
    'serving.max_batch',
    7,
    /max_batch/,
  );
});

test('a wrong type and broken YAML are BAD_INPUT with a line', () => {
  badInputAt(
    `${base}targets: [cpu-ort-fp32]\nequivalence:\n  samples: many\n`,
    'equivalence.samples',
    7,
    /many/,
  );
  assert.throws(() => parseRecipe('task: [unclosed\n', 'r.yaml'), /invalid YAML/);
});

test('a pipeline composes preprocess, a detector variant and postprocess; its detector step defaults to model.name', () => {
  const r = parseRecipe(`${base}targets: [cpu-ort-fp32]\npipeline:\n  name: detector_pipeline\n`, 'r.yaml');
  assert.deepEqual(pipelineOf(r), {
    name: 'detector_pipeline',
    steps: ['preprocess', 'detector', 'postprocess'],
  });
  const int8 = parseRecipe(
    `${base}targets: [cpu-ort-fp32, cpu-ort-int8]\npipeline:\n  name: p\n  steps: [preprocess, detector_int8, postprocess]\n`,
    'r.yaml',
  );
  assert.deepEqual(pipelineOf(int8)?.steps, ['preprocess', 'detector_int8', 'postprocess']);
  assert.equal(pipelineOf(parseRecipe(`${base}targets: [cpu-ort-fp32]\n`, 'r.yaml')), undefined);
});

test('a bad pipeline is BAD_INPUT naming the field and its line', () => {
  const t = `${base}targets: [cpu-ort-fp32]\n`;
  badInputAt(
    `${t}pipeline:\n  name: p\n  stages: [preprocess]\n`,
    'pipeline.stages',
    8,
    /unknown key "stages"/,
  );
  badInputAt(
    `${t}pipeline:\n  name: p\n  steps: [preprocess, yolo, postprocess]\n`,
    'pipeline.steps[1]',
    8,
    /"yolo"/,
  );
  badInputAt(
    `${t}pipeline:\n  name: p\n  steps: [preprocess, detector_int8, postprocess]\n`,
    'pipeline.steps[1]',
    8,
    /targets cpu-ort-fp32/,
  );
  badInputAt(
    `${t}pipeline:\n  name: p\n  steps: [resize, detector, postprocess]\n`,
    'pipeline.steps[0]',
    8,
    /resize/,
  );
  badInputAt(`${t}pipeline:\n  name: detector_fp16\n`, 'pipeline.name', 7, /detector_fp16/);
});
