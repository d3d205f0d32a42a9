/**
 * Preparing a packaging run: validating the recipe and the model before any step runs (so bad input
 * fails fast, with nothing recorded in the store), exporting a PyTorch model to ONNX, finding the
 * calibration manifest (generating the reference world on first use) and checking the shard's
 * images, choosing the version and the output folder.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { badInput } from '../core/errors.js';
import { parseSemver } from '../registry/semver.js';
import { resolveModel } from '../runtime/resolve.js';
import type { ResolvedModel } from '../runtime/resolve.js';
import { readOnnxModel } from '../onnx/proto.js';
import { verifyQatModel } from './int8.js';
import { KNOWN_TARGETS, loadRecipe } from './recipe.js';
import type { Recipe } from './recipe.js';
import { ensureReferenceWorld, loadShard, verifyShardImages } from './shard.js';
import { exportTorchModel, isTorchModel, torchConfigPath } from './torch.js';
import type { TorchExport } from './torch.js';
import type { PackageArgs } from './workflow.js';
import { headDims } from './triton.js';
import { graphChecks } from './workflow.js';

/** What the caller gives. */
export interface PackageRequest {
  /** An ONNX model, or a PyTorch file (.pt/.pth/.ts) exported through tools/export_onnx.py. */
  model: string;
  recipe: string;
  version?: string | undefined;
  out?: string | undefined;
  /** Where packs go by default: <packsDir>/<task>/<name>/<version>. */
  packsDir: string;
  /** A calibration manifest that overrides the recipe's shard source (--calibration). */
  calibration?: string | undefined;
  /** Where the reference world for calibration is generated on first use (default <packsDir>/../worlds). */
  worldsDir?: string | undefined;
  /** Where PyTorch exports are cached (default <packsDir>/../exports). */
  exportsDir?: string | undefined;
  /** Progress lines (world generation, export). */
  log?: (message: string) => void;
}

/**
 * Validates the recipe, the model file (ONNX structure, constraints, operator coverage) and its
 * inference config, and returns the workflow arguments. BAD_INPUT naming the file otherwise.
 */
export async function preparePackage(req: PackageRequest): Promise<PackageArgs> {
  const recipePath = resolve(req.recipe);
  const { recipe } = await loadRecipe(recipePath);
  const cfgOverride = recipe.model.inference_config;
  const cfgPath = cfgOverride !== undefined ? resolve(recipePath, '..', cfgOverride) : undefined;
  let torch: TorchExport | null = null;
  let resolved: ResolvedModel;
  if (isTorchModel(req.model)) {
    const source = resolve(req.model);
    if (!existsSync(source)) {
      throw badInput('the model file does not exist', {
        file: req.model,
        expected: 'a TorchScript file or a checkpoint',
        found: 'nothing',
      });
    }
    const cfgFile = cfgPath ?? torchConfigPath(source);
    const cfg = resolveModel(source, cfgFile).config;
    const opset = Math.min(17, recipe.constraints.opset?.max ?? 17);
    torch = await exportTorchModel(source, cfg, req.exportsDir ?? join(req.packsDir, '..', 'exports'), {
      opset,
      samples: 8,
      seed: recipe.equivalence.seed,
    });
    resolved = resolveModel(torch.onnx, cfgFile);
  } else {
    resolved = resolveModel(req.model, cfgPath);
  }
  const model = readOnnxModel(await readFile(resolved.modelPath), resolved.modelPath);
  graphChecks(model, recipe, resolved.modelPath, recipePath);
  if (recipe.pipeline !== undefined) headDims(model, resolved.config, resolved.configPath); // the postprocess decodes CenterNet heads
  const qatField = recipe.int8.qat_model;
  const qat = qatField !== undefined ? resolve(dirname(recipePath), qatField) : null;
  if (qat !== null) await verifyQatModel(qat, model, recipePath);
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
  const calibration = await calibrationManifest(req, recipe, recipePath);
  if (
    calibration === null &&
    qat === null &&
    recipe.targets.some((t) => KNOWN_TARGETS[t]?.precision === 'int8')
  ) {
    throw badInput('an int8 target needs a calibration shard', {
      file: recipePath,
      field: 'calibration',
      expected: 'calibration.manifest or calibration.world in the recipe, or --calibration MANIFEST',
      found: 'none',
    });
  }
  if (calibration !== null) {
    const c = recipe.calibration;
    const shard = await loadShard(calibration, {
      count: c?.count ?? 512,
      balance: c?.balance ?? ['weather', 'time_of_day'],
      seed: c?.seed ?? 1,
    });
    await verifyShardImages(shard);
  }
  return {
    model: resolved.modelPath,
    inferenceConfig: resolved.configPath,
    recipe: recipePath,
    version,
    out: resolve(req.out ?? join(req.packsDir, recipe.task, recipe.model.name, version)),
    calibration,
    torch,
    qat,
  };
}

/** The calibration manifest of a run: --calibration, else the recipe's manifest or reference world, else null. */
async function calibrationManifest(
  req: PackageRequest,
  recipe: Recipe,
  recipePath: string,
): Promise<string | null> {
  if (req.calibration !== undefined) return resolve(req.calibration);
  const c = recipe.calibration;
  if (c === undefined) return null;
  if (c.manifest !== undefined) return resolve(dirname(recipePath), c.manifest);
  if (c.world !== undefined) {
    return ensureReferenceWorld(
      req.worldsDir ?? join(req.packsDir, '..', 'worlds'),
      c.world,
      recipePath,
      req.log,
    );
  }
  return null;
}
