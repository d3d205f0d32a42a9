/**
 * Preparing a packaging run: validating the recipe and the model before any step runs (so bad input
 * fails fast, with nothing recorded in the store), choosing the version and the output folder.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { badInput } from '../core/errors.js';
import { parseSemver } from '../registry/semver.js';
import { resolveModel } from '../runtime/resolve.js';
import { readOnnxModel } from '../onnx/proto.js';
import { loadRecipe } from './recipe.js';
import type { PackageArgs } from './workflow.js';
import { graphChecks } from './workflow.js';

/** What the caller gives. */
export interface PackageRequest {
  model: string;
  recipe: string;
  version?: string | undefined;
  out?: string | undefined;
  /** Where packs go by default: <packsDir>/<task>/<name>/<version>. */
  packsDir: string;
}

/**
 * Validates the recipe, the model file (ONNX structure, constraints, operator coverage) and its
 * inference config, and returns the workflow arguments. BAD_INPUT naming the file otherwise.
 */
export async function preparePackage(req: PackageRequest): Promise<PackageArgs> {
  const recipePath = resolve(req.recipe);
  const { recipe } = await loadRecipe(recipePath);
  const cfgOverride = recipe.model.inference_config;
  const resolved = resolveModel(
    req.model,
    cfgOverride !== undefined ? resolve(recipePath, '..', cfgOverride) : undefined,
  );
  const model = readOnnxModel(await readFile(resolved.modelPath), resolved.modelPath);
  graphChecks(model, recipe, resolved.modelPath, recipePath);
  const version = req.version ?? resolved.config.model?.version;
  if (version === undefined) {
    throw badInput('no version: give --version or set model.version in the inference config', {
      file: resolved.configPath,
      field: 'model.version',
      expected: 'a semver version',
      found: 'nothing',
    });
  }
  parseSemver(version, '--version');
  return {
    model: resolved.modelPath,
    inferenceConfig: resolved.configPath,
    recipe: recipePath,
    version,
    out: resolve(req.out ?? join(req.packsDir, recipe.task, recipe.model.name, version)),
  };
}
