import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DrivegateError } from '../core/errors.js';
import { throwsWith } from '../core/testing.js';
import { packageRoot } from '../core/paths.js';
import {
  classList,
  classThresholds,
  loadInferenceConfig,
  outputNames,
  parseInferenceConfig,
} from './config.js';
import { defaultConfigPath, resolveModel } from './resolve.js';

const minimal = {
  schema_version: 1,
  input: { name: 'images', width: 192, height: 96 },
  classes: { '0': { id: 1, name: 'car' }, '1': { id: 3, name: 'pedestrian' } },
  output: { decoder: 'centernet', heatmap: 'heatmap', wh: 'wh', offset: 'offset' },
};

const badInputOf = (fn: () => unknown): DrivegateError => throwsWith(fn, 'BAD_INPUT');

test('fills defaults of a minimal config', () => {
  const cfg = parseInferenceConfig(minimal);
  assert.equal(cfg.input.layout, 'NCHW');
  assert.equal(cfg.preprocess.resize.mode, 'resize');
  assert.deepEqual(cfg.preprocess.normalize.mean, [0, 0, 0]);
  assert.equal(cfg.preprocess.normalize.scale, 1 / 255);
  assert.equal(cfg.postprocess.score_threshold, 0.3);
  assert.equal(cfg.postprocess.nms.iou_threshold, 0.5);
  assert.ok(cfg.output.decoder === 'centernet' && cfg.output.stride === 4 && cfg.output.top_k === 100);
  assert.deepEqual(outputNames(cfg), ['heatmap', 'wh', 'offset']);
  assert.deepEqual(
    classList(cfg).map((c) => c.name),
    ['car', 'pedestrian'],
  );
});

test('uses a per-class score threshold where one is given, the default elsewhere', () => {
  const cfg = parseInferenceConfig({
    ...minimal,
    postprocess: { score_threshold: 0.4, score_thresholds: { pedestrian: 0.2 } },
  });
  assert.deepEqual(classThresholds(cfg), [0.4, 0.2]);
});

test('names the file and key of a bad value', () => {
  const e = badInputOf(() =>
    parseInferenceConfig({ ...minimal, output: { ...minimal.output, top_k: -3 } }, 'm.inference_config.json'),
  );
  assert.equal(e.location.file, 'm.inference_config.json');
  assert.equal(e.location.field, 'output.top_k');
  assert.match(e.message, /found -3/);
});

test('rejects unknown keys, a wrong schema version, class gaps and thresholds for unknown classes', () => {
  assert.equal(
    badInputOf(() => parseInferenceConfig({ ...minimal, input: { ...minimal.input, colour: 'BGR' } }))
      .location.field,
    'input',
  );
  assert.equal(
    badInputOf(() => parseInferenceConfig({ ...minimal, schema_version: 2 })).location.field,
    'schema_version',
  );
  assert.equal(
    badInputOf(() =>
      parseInferenceConfig({ ...minimal, classes: { '0': minimal.classes['0'], '2': minimal.classes['1'] } }),
    ).location.field,
    'classes.2',
  );
  assert.equal(
    badInputOf(() => parseInferenceConfig({ ...minimal, postprocess: { score_thresholds: { bus: 0.5 } } }))
      .location.field,
    'postprocess.score_thresholds.bus',
  );
  assert.equal(
    badInputOf(() => parseInferenceConfig({ ...minimal, output: { decoder: 'yolo' } })).location.field,
    'output.decoder',
  );
});

test('finds the inference config beside the model, or the one given', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-cfg-'));
  try {
    const src = join(packageRoot(), 'src', 'runtime', 'testdata');
    copyFileSync(join(src, 'fixed_centernet.onnx'), join(dir, 'detector-v1.0.0.onnx'));
    assert.equal(
      defaultConfigPath(join(dir, 'detector-v1.0.0.onnx')),
      join(dir, 'detector-v1.0.0.inference_config.json'),
    );
    const missing = badInputOf(() => resolveModel(join(dir, 'detector-v1.0.0.onnx')));
    assert.equal(missing.location.file, join(dir, 'detector-v1.0.0.inference_config.json'));
    writeFileSync(join(dir, 'detector-v1.0.0.inference_config.json'), JSON.stringify(minimal));
    const r = resolveModel(join(dir, 'detector-v1.0.0.onnx'));
    assert.equal(r.config.input.width, 192);
    const explicit = resolveModel(
      join(dir, 'detector-v1.0.0.onnx'),
      join(src, 'fixed_centernet.inference_config.json'),
    );
    assert.equal(explicit.config.input.width, 64);
    assert.equal(
      badInputOf(() => resolveModel(join(dir, 'nope.onnx'))).location.file,
      join(dir, 'nope.onnx'),
    );
    writeFileSync(join(dir, 'broken.json'), '{"schema_version": 1,');
    assert.equal(
      badInputOf(() => loadInferenceConfig(join(dir, 'broken.json'))).location.file,
      join(dir, 'broken.json'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
