/**
 * Finding a model and its inference config, the same way for every command: the config is the file
 * given explicitly, else `<name>.inference_config.json` beside `<name>.onnx`. Also checks that a
 * model's inputs and outputs match its config.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { badInput } from '../core/errors.js';
import { loadInferenceConfig, outputNames, type InferenceConfig } from './config.js';
import type { ModelIO } from './ort.js';

/** A model file with its validated inference config. */
export interface ResolvedModel {
  /** Absolute path of the .onnx file. */
  modelPath: string;
  /** Absolute path of the inference config it was found with. */
  configPath: string;
  config: InferenceConfig;
}

/** The conventional config path of a model: models/x.onnx -> models/x.inference_config.json. */
export function defaultConfigPath(modelPath: string): string {
  const name = basename(modelPath).replace(/\.onnx$/i, '');
  return join(dirname(modelPath), `${name}.inference_config.json`);
}

/**
 * Resolves a model path and its inference config (explicit `configPath`, else the one beside the
 * model). A missing model or config, or an invalid config, is BAD_INPUT naming the file.
 */
export function resolveModel(modelPath: string, configPath?: string): ResolvedModel {
  const model = resolve(modelPath);
  if (!existsSync(model) || !statSync(model).isFile()) {
    throw badInput('the model file does not exist', {
      file: modelPath,
      expected: 'an ONNX model file',
      found: 'nothing',
    });
  }
  const cfgPath = resolve(configPath ?? defaultConfigPath(model));
  if (!existsSync(cfgPath)) {
    throw badInput(
      configPath !== undefined
        ? 'the inference config does not exist'
        : `the model has no inference config beside it (give one with --config)`,
      { file: configPath ?? cfgPath, expected: 'an inference config JSON file', found: 'nothing' },
    );
  }
  return { modelPath: model, configPath: cfgPath, config: loadInferenceConfig(cfgPath) };
}

/**
 * Checks that the model has the config's input (rank 4, [N,3,H,W] where the model fixes those dims,
 * float32) and the outputs its decoder reads; BAD_INPUT naming the model file otherwise.
 */
export function checkModelIO(io: ModelIO, cfg: InferenceConfig, modelPath: string): void {
  const input = io.inputs.find((i) => i.name === cfg.input.name);
  if (input === undefined) {
    throw badInput(`the model has no input '${cfg.input.name}' (inference config input.name)`, {
      file: modelPath,
      field: 'input.name',
      expected: cfg.input.name,
      found: io.inputs.map((i) => i.name).join(', ') || 'no inputs',
    });
  }
  const want: Array<number | null> = [null, 3, cfg.input.height, cfg.input.width];
  const shape = input.shape;
  const fits =
    input.type === 'float32' &&
    shape.length === 4 &&
    want.every((d, i) => d === null || typeof shape[i] !== 'number' || shape[i] === d || shape[i] === -1);
  if (!fits) {
    throw badInput(`the model's input '${input.name}' does not match the inference config`, {
      file: modelPath,
      field: input.name,
      expected: `float32 [N,3,${cfg.input.height},${cfg.input.width}]`,
      found: `${input.type} [${shape.join(',')}]`,
    });
  }
  const others = io.inputs.filter((i) => i.name !== cfg.input.name);
  if (others.length > 0) {
    throw badInput('the model has inputs besides the image input', {
      file: modelPath,
      expected: `one input '${cfg.input.name}'`,
      found: io.inputs.map((i) => i.name).join(', '),
    });
  }
  const have = new Set(io.outputs.map((o) => o.name));
  for (const name of outputNames(cfg)) {
    if (!have.has(name)) {
      throw badInput(`the model has no output '${name}' that the inference config's decoder reads`, {
        file: modelPath,
        field: name,
        expected: `an output named '${name}'`,
        found: io.outputs.map((o) => o.name).join(', ') || 'no outputs',
      });
    }
  }
}
