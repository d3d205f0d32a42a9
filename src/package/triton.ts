/**
 * The Triton model configuration of a pack, derived from the ONNX graph's inputs and outputs (pure):
 * name, platform "onnxruntime_onnx", max_batch_size, typed dims without the batch dim, dynamic
 * batching and a CPU instance group. Written as config.pbtxt with the serve module's writer.
 */
import { badInput } from '../core/errors.js';
import type { OnnxModelInfo, OnnxValueInfo } from '../onnx/proto.js';
import type { ConfigDataType, ModelConfig, TensorConfig } from '../serve/model-config.js';
import type { Recipe } from './recipe.js';

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
