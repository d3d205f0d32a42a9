/**
 * Writes a pipeline ensemble into a Triton model repository: `preprocess/` and `postprocess/`
 * (config.pbtxt + 1/model.onnx, generated from the inference config) and `<pipeline name>/`
 * (config.pbtxt with platform "ensemble" + 1/README.md, since an ensemble's version directory holds no
 * model file and a pack or archive would otherwise drop the empty folder).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OnnxModelInfo } from '../onnx/proto.js';
import type { EnsembleSpec, InferenceConfig } from '../runtime/config.js';
import { apiDatatype, writeModelConfig, type ModelConfig, type TensorConfig } from '../serve/model-config.js';
import { DETECTION_OUTPUTS, buildPostprocessModel, buildPreprocessModel } from './pipeline.js';
import type { PipelineSpec } from './recipe.js';
import { headDims, pipelineConfigs, type PipelineConfigs } from './triton.js';

/** What writePipeline wrote (for the model-repository step's result). */
export interface PipelineWritten {
  configs: PipelineConfigs;
  /** The ensemble as inference_config.json describes it (`ensemble`). */
  spec: EnsembleSpec;
  /** Repository-relative paths written. */
  files: string[];
}

/** The README of an ensemble's version directory. */
export const ENSEMBLE_VERSION_README =
  '# Triton ensemble version\n\nAn ensemble has no model file: its steps are in ../config.pbtxt. This file keeps the\nversion directory in packs and archives, which drop empty folders.\n';

/**
 * Writes the pipeline's three models under `repoDir`, next to the detector model whose config is
 * `detectorConfig` (graph `detector`). Deterministic: the same inputs give the same bytes.
 */
export async function writePipeline(
  repoDir: string,
  pipeline: PipelineSpec,
  detectorConfig: ModelConfig,
  detector: OnnxModelInfo,
  cfg: InferenceConfig,
  cfgFile = 'inference_config.json',
): Promise<PipelineWritten> {
  const heads = headDims(detector, cfg, cfgFile);
  const configs = pipelineConfigs(pipeline, detectorConfig, cfg, heads);
  const files: string[] = [];
  const put = async (model: string, rel: string, data: string | Buffer): Promise<void> => {
    const path = join(repoDir, model, rel);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, data);
    files.push(`${model}/${rel}`);
  };
  await put(configs.preprocess.name, 'config.pbtxt', writeModelConfig(configs.preprocess));
  await put(configs.preprocess.name, '1/model.onnx', buildPreprocessModel(cfg));
  await put(configs.postprocess.name, 'config.pbtxt', writeModelConfig(configs.postprocess));
  await put(configs.postprocess.name, '1/model.onnx', buildPostprocessModel(cfg, heads, cfgFile));
  await put(configs.ensemble.name, 'config.pbtxt', writeModelConfig(configs.ensemble));
  await put(configs.ensemble.name, '1/README.md', ENSEMBLE_VERSION_README);
  return { configs, files, spec: ensembleSpec(configs, cfg) };
}

/** The inference config's description of the ensemble (its IO as v2 metadata reports it). */
export function ensembleSpec(configs: PipelineConfigs, cfg: InferenceConfig): EnsembleSpec {
  const e = configs.ensemble;
  const tensor = (t: TensorConfig): { name: string; datatype: string; shape: number[] } => ({
    name: t.name,
    datatype: apiDatatype(t.dataType),
    shape: e.maxBatchSize > 0 ? [-1, ...t.dims] : [...t.dims],
  });
  const input = e.inputs[0]!;
  return {
    name: e.name,
    steps: (e.ensembleScheduling?.steps ?? []).map((s) => s.modelName),
    input: {
      ...tensor(input),
      layout: 'NHWC',
      color: 'RGB',
      size: cfg.preprocess.resize.mode === 'resize' ? 'any' : 'input',
    },
    outputs: e.outputs.map(tensor),
    detections: {
      ...DETECTION_OUTPUTS,
      box_format: 'xywh',
      padding: { score: 0, class: -1 },
    },
  };
}
