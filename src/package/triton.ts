/**
 * The Triton model configuration of a pack, derived from the ONNX graph's inputs and outputs (pure):
 * name, platform "onnxruntime_onnx", max_batch_size, typed dims without the batch dim, dynamic
 * batching and a CPU instance group; and the configs of a pipeline ensemble (preprocess -> detector ->
 * postprocess). Written as config.pbtxt with the serve module's writer.
 */
import { badInput } from '../core/errors.js';
import type { OnnxModelInfo, OnnxValueInfo } from '../onnx/proto.js';
import type { ConfigDataType, ModelConfig, TensorConfig } from '../serve/model-config.js';
import type { InferenceConfig } from '../runtime/config.js';
import {
  DETECTION_OUTPUTS,
  IMAGE_SIZE,
  RAW_IMAGE,
  postprocessSizes,
  rawImageDims,
  type HeadDims,
} from './pipeline.js';
import type { PipelineSpec, Recipe } from './recipe.js';

const ELEM_TO_TRITON: Record<number, ConfigDataType> = {
  1: 'TYPE_FP32',
  2: 'TYPE_UINT8',
  3: 'TYPE_INT8',
  4: 'TYPE_UINT16',
  5: 'TYPE_INT16',
  6: 'TYPE_INT32',
  7: 'TYPE_INT64',
  8: 'TYPE_STRING',
  9: 'TYPE_BOOL',
  10: 'TYPE_FP16',
  11: 'TYPE_FP64',
  12: 'TYPE_UINT32',
  13: 'TYPE_UINT64',
  16: 'TYPE_BF16',
};

/** True when every graph input and output has a variable first dim (the batch dim Triton adds). */
export function hasBatchDim(model: OnnxModelInfo): boolean {
  return [...model.graph.inputs, ...model.graph.outputs].every((v) => {
    const d = v.dims?.[0];
    return v.dims !== undefined && v.dims.length >= 1 && (d === null || typeof d === 'string' || d === -1);
  });
}

function tensorConfig(v: OnnxValueInfo, batched: boolean, file: string, isInput: boolean): TensorConfig {
  const dataType = ELEM_TO_TRITON[v.elemType];
  if (dataType === undefined || v.dims === undefined) {
    throw badInput(`graph ${isInput ? 'input' : 'output'} '${v.name}' has no tensor type Triton can serve`, {
      file,
      field: v.name,
      expected: 'a tensor with a known element type and shape',
      found: `elem_type ${v.elemType}, ${v.dims === undefined ? 'no shape' : `rank ${v.dims.length}`}`,
    });
  }
  const dims = (batched ? v.dims.slice(1) : v.dims).map((d) => (typeof d === 'number' ? d : -1));
  return { name: v.name, dataType, dims, ...(isInput && dims.length === 3 ? { format: 'FORMAT_NCHW' } : {}) };
}

/** The Triton model config for `model` under `name`, with serving settings from the recipe. */
export function tritonConfig(model: OnnxModelInfo, recipe: Recipe, file: string): ModelConfig {
  const batched = hasBatchDim(model);
  const s = recipe.serving;
  const maxBatchSize = batched ? s.max_batch_size : 0;
  const preferred = s.preferred_batch_sizes.filter((b) => b <= maxBatchSize);
  return {
    name: recipe.model.name,
    platform: 'onnxruntime_onnx',
    maxBatchSize,
    inputs: model.graph.inputs
      .filter((i) => !model.graph.initializers.includes(i.name))
      .map((i) => tensorConfig(i, batched, file, true)),
    outputs: model.graph.outputs.map((o) => tensorConfig(o, batched, file, false)),
    ...(maxBatchSize > 0
      ? {
          dynamicBatching: { preferredBatchSize: preferred, maxQueueDelayMicroseconds: s.max_queue_delay_us },
        }
      : {}),
    instanceGroups: [{ count: s.instance_count, kind: 'KIND_CPU' }],
    versionPolicy: { latest: { numVersions: 1 } },
    parameters: {},
    extra: [],
  };
}

/** The Triton configs of a pipeline: the generated preprocess/postprocess models and the ensemble. */
export interface PipelineConfigs {
  preprocess: ModelConfig;
  postprocess: ModelConfig;
  ensemble: ModelConfig;
}

/** The ensemble-level name of the normalised image between preprocess and the detector. */
export const PREPROCESSED = 'preprocessed';

/**
 * The heatmap's classes, height and width as the detector declares them (`heatmap` output [N,C,h,w]),
 * or from the contract (input size / stride) where the graph leaves a dim symbolic.
 */
export function headDims(
  detector: OnnxModelInfo,
  cfg: InferenceConfig,
  file = 'inference_config.json',
): HeadDims {
  if (cfg.output.decoder !== 'centernet')
    throw badInput(
      'a recipe pipeline needs the centernet decoder (its postprocess decodes CenterNet heads)',
      {
        file,
        field: 'output.decoder',
        expected: '"centernet"',
        found: JSON.stringify(cfg.output.decoder),
      },
    );
  const stride = cfg.output.stride;
  const heat = detector.graph.outputs.find((o) => o.name === (cfg.output as { heatmap: string }).heatmap);
  const d = (i: number, fallback: number): number => {
    const v = heat?.dims?.[i];
    return typeof v === 'number' && v > 0 ? v : fallback;
  };
  return {
    classes: d(1, Object.keys(cfg.classes).length),
    height: d(2, Math.ceil(cfg.input.height / stride)),
    width: d(3, Math.ceil(cfg.input.width / stride)),
  };
}

/**
 * The pipeline's configs: `preprocess` and `postprocess` (onnxruntime_onnx, with the detector config's
 * max_batch_size, dynamic batching and instance groups) and the ensemble `pipeline.name` (platform
 * "ensemble", the same max_batch_size, no instances of its own) chaining preprocess -> detector ->
 * postprocess through ensemble_scheduling (map key: the composing model's tensor; value: the ensemble's).
 */
export function pipelineConfigs(
  pipeline: PipelineSpec,
  detector: ModelConfig,
  cfg: InferenceConfig,
  heads: HeadDims,
): PipelineConfigs {
  const o = cfg.output;
  if (o.decoder !== 'centernet') throw new Error('pipelineConfigs needs the centernet decoder');
  const [preName, detName, postName] = pipeline.steps;
  const batched = detector.maxBatchSize > 0;
  const dims = (d: number[]): number[] => (batched ? d : [-1, ...d]);
  const { d: D } = postprocessSizes(cfg, heads);
  const raw: TensorConfig = {
    name: RAW_IMAGE,
    dataType: 'TYPE_UINT8',
    dims: dims(rawImageDims(cfg).map((x) => (typeof x === 'number' ? x : -1))),
    format: 'FORMAT_NHWC',
  };
  const size: TensorConfig = { name: IMAGE_SIZE, dataType: 'TYPE_FP32', dims: dims([2]) };
  const heatDims = [heads.classes, heads.height, heads.width];
  const pairDims = [2, heads.height, heads.width];
  const detections: TensorConfig[] = [
    { name: DETECTION_OUTPUTS.boxes, dataType: 'TYPE_FP32', dims: dims([D, 4]) },
    { name: DETECTION_OUTPUTS.scores, dataType: 'TYPE_FP32', dims: dims([D]) },
    { name: DETECTION_OUTPUTS.classes, dataType: 'TYPE_INT64', dims: dims([D]) },
    { name: DETECTION_OUTPUTS.count, dataType: 'TYPE_INT64', dims: dims([1]) },
  ];
  const onnx = (name: string, inputs: TensorConfig[], outputs: TensorConfig[]): ModelConfig => ({
    ...detector,
    name,
    inputs,
    outputs,
    parameters: { ...detector.parameters },
    extra: [],
  });
  const preprocess = onnx(
    preName,
    [raw],
    [
      { name: cfg.input.name, dataType: 'TYPE_FP32', dims: dims([3, cfg.input.height, cfg.input.width]) },
      size,
    ],
  );
  const postprocess = onnx(
    postName,
    [
      { name: o.heatmap, dataType: 'TYPE_FP32', dims: dims(heatDims) },
      { name: o.wh, dataType: 'TYPE_FP32', dims: dims(pairDims) },
      { name: o.offset, dataType: 'TYPE_FP32', dims: dims(pairDims) },
      size,
    ],
    detections,
  );
  const same = (names: string[]): Record<string, string> => Object.fromEntries(names.map((n) => [n, n]));
  const ensemble: ModelConfig = {
    name: pipeline.name,
    platform: 'ensemble',
    maxBatchSize: detector.maxBatchSize,
    inputs: [raw],
    outputs: detections,
    instanceGroups: [],
    versionPolicy: { latest: { numVersions: 1 } },
    parameters: {},
    ensembleScheduling: {
      steps: [
        {
          modelName: preName,
          modelVersion: -1,
          inputMap: { [RAW_IMAGE]: RAW_IMAGE },
          outputMap: { [cfg.input.name]: PREPROCESSED, [IMAGE_SIZE]: IMAGE_SIZE },
          line: 0,
        },
        {
          modelName: detName,
          modelVersion: -1,
          inputMap: { [cfg.input.name]: PREPROCESSED },
          outputMap: same([o.heatmap, o.wh, o.offset]),
          line: 0,
        },
        {
          modelName: postName,
          modelVersion: -1,
          inputMap: same([o.heatmap, o.wh, o.offset, IMAGE_SIZE]),
          outputMap: same(Object.values(DETECTION_OUTPUTS)),
          line: 0,
        },
      ],
    },
    extra: [],
  };
  return { preprocess, postprocess, ensemble };
}
