/**
 * The packaging workflow (#15) as runner steps: stage, graph-checks, sanity-smoke,
 * model-repository, contract-smoke (the v2 server answers one request as the contract says),
 * equivalence, fp16-emulation (when an fp16 target is listed), microbench, seal. Each step's result is recorded in the run and gathered into
 * export_report.json by the seal step.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sha256File } from '../core/digest.js';
import { DrivegateError, badInput } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import type { Workflow } from '../core/runner.js';
import { ORT_CPU_OPSET17, TRT_86, checkCoverage, defaultOpset } from '../onnx/coverage.js';
import type { CoverageReport } from '../onnx/coverage.js';
import { emulateFp16 } from '../onnx/fp16.js';
import { readOnnxModel } from '../onnx/proto.js';
import type { OnnxModelInfo } from '../onnx/proto.js';
import { loadInferenceConfig } from '../runtime/config.js';
import { contractSmoke } from '../serve/contract.js';
import { writeModelConfig } from '../serve/model-config.js';
import type { ArtifactStore } from '../store/types.js';
import { KNOWN_TARGETS, loadRecipe } from './recipe.js';
import type { Recipe } from './recipe.js';
import { sealPack } from './seal.js';
import type { SealResult } from './seal.js';
import { environmentPins, equivalence, microbench, sanitySmoke } from './steps.js';
import { tritonConfig } from './triton.js';

/** The FP16 equivalence bound when the recipe sets none (absolute, per element, any head). */
export const DEFAULT_FP16_MAX_ABS = 0.1;

/** The arguments of a packaging run (absolute paths). */
export interface PackageArgs {
  model: string;
  inferenceConfig: string;
  recipe: string;
  version: string;
  out: string;
}

async function readModel(path: string): Promise<OnnxModelInfo> {
  return readOnnxModel(await readFile(path), path);
}

async function recipeOf(path: string): Promise<Recipe> {
  return (await loadRecipe(path)).recipe;
}

const modelInputs = (a: PackageArgs): { files: Record<string, string> } => ({
  files: { model: a.model, recipe: a.recipe, inference_config: a.inferenceConfig },
});

function checkRange(
  what: string,
  value: number,
  r: { min?: number | undefined; max?: number | undefined } | undefined,
  file: string,
  recipeFile: string,
): void {
  if (r === undefined) return;
  if ((r.min !== undefined && value < r.min) || (r.max !== undefined && value > r.max)) {
    throw badInput(`the model's ${what} is outside the recipe's constraints`, {
      file,
      field: what,
      expected: `${r.min ?? 0}..${r.max ?? '∞'} (constraints.${what} in ${recipeFile})`,
      found: String(value),
    });
  }
}

/** Graph checks: well-formed ONNX, opset/IR within constraints, dynamic axes, coverage per target (pure). */
export function graphChecks(
  model: OnnxModelInfo,
  recipe: Recipe,
  modelFile: string,
  recipeFile: string,
): {
  ir_version: number;
  opset_imports: OnnxModelInfo['opsetImports'];
  producer: string;
  nodes: number;
  inputs: OnnxModelInfo['graph']['inputs'];
  outputs: OnnxModelInfo['graph']['outputs'];
  coverage: Record<string, CoverageReport>;
} {
  checkRange('ir_version', model.irVersion, recipe.constraints.ir_version, modelFile, recipeFile);
  checkRange('opset', defaultOpset(model), recipe.constraints.opset, modelFile, recipeFile);
  const io = [...model.graph.inputs, ...model.graph.outputs];
  for (const [tensor, axes] of Object.entries(recipe.dynamic_axes)) {
    const v = io.find((t) => t.name === tensor);
    if (v === undefined) {
      throw badInput(`dynamic_axes names '${tensor}', which is not a graph input or output`, {
        file: recipeFile,
        field: `dynamic_axes.${tensor}`,
        expected: io.map((t) => t.name).join(', '),
        found: tensor,
      });
    }
    for (const axis of Object.keys(axes)) {
      const d = v.dims?.[Number(axis)];
      if (typeof d === 'number' && d >= 0) {
        throw badInput(`the recipe declares axis ${axis} of '${tensor}' dynamic but the model fixes it`, {
          file: modelFile,
          field: `${tensor}[${axis}]`,
          expected: 'a symbolic dim',
          found: String(d),
        });
      }
    }
  }
  const coverage: Record<string, CoverageReport> = {};
  for (const t of recipe.targets) {
    const info = KNOWN_TARGETS[t];
    if (info === undefined) throw new DrivegateError('INTERNAL', `unknown target ${t}`);
    const rep = checkCoverage(model, info.table === 'ort-cpu' ? ORT_CPU_OPSET17 : TRT_86);
    const bad = rep.uncovered[0];
    if (bad !== undefined) {
      throw badInput(`node '${bad.node}' (${bad.domain}:${bad.opType}) is not supported by target ${t}`, {
        file: modelFile,
        record: bad.node,
        field: `graph.node[${bad.index}]`,
        expected: `an op in ${rep.table}`,
        found: bad.reason,
      });
    }
    coverage[t] = rep;
  }
  return {
    ir_version: model.irVersion,
    opset_imports: model.opsetImports,
    producer: `${model.producerName} ${model.producerVersion}`.trim(),
    nodes: model.graph.nodes.length,
    inputs: model.graph.inputs,
    outputs: model.graph.outputs,
    coverage,
  };
}

/** The packaging workflow; `store` receives the sealed pack (refs models/<task>/<version>/...). */
export function packageWorkflow(store: ArtifactStore): Workflow<PackageArgs> {
  return {
    name: 'package',
    steps: [
      {
        name: 'stage',
        cache: false,
        inputs: (v) => modelInputs(v.args),
        async run(ctx) {
          const a = ctx.args;
          const lock = join(packageRoot(), 'package-lock.json');
          const hash = async (p: string): Promise<string> => `sha256:${(await sha256File(p)).sha256}`;
          return {
            environment: environmentPins(),
            inputs: {
              model: { path: a.model, sha256: await hash(a.model) },
              recipe: { path: a.recipe, sha256: await hash(a.recipe) },
              inference_config: { path: a.inferenceConfig, sha256: await hash(a.inferenceConfig) },
            },
            locks: { 'package-lock.json': await hash(lock).catch(() => null) },
          };
        },
      },
      {
        name: 'graph-checks',
        version: 1,
        inputs: (v) => modelInputs(v.args),
        async run(ctx) {
          const recipe = await recipeOf(ctx.args.recipe);
          return graphChecks(await readModel(ctx.args.model), recipe, ctx.args.model, ctx.args.recipe);
        },
      },
      {
        name: 'sanity-smoke',
        version: 1,
        inputs: (v) => modelInputs(v.args),
        async run(ctx) {
          const model = await readModel(ctx.args.model);
          const declared = Object.fromEntries(model.graph.outputs.map((o) => [o.name, o.dims ?? []]));
          return sanitySmoke(ctx.args.model, loadInferenceConfig(ctx.args.inferenceConfig), declared);
        },
      },
      {
        name: 'model-repository',
        version: 1,
        inputs: (v) => modelInputs(v.args),
        outputs: ['model.onnx', 'inference_config.json', 'model_repository/'],
        async run(ctx) {
          const recipe = await recipeOf(ctx.args.recipe);
          const model = await readModel(ctx.args.model);
          const config = tritonConfig(model, recipe, ctx.args.model);
          const dir = join(ctx.out('model_repository/'), recipe.model.name);
          await mkdir(join(dir, '1'), { recursive: true });
          await writeFile(join(dir, 'config.pbtxt'), writeModelConfig(config));
          await copyFile(ctx.args.model, join(dir, '1', 'model.onnx'));
          await copyFile(ctx.args.model, ctx.out('model.onnx'));
          const cfg = loadInferenceConfig(ctx.args.inferenceConfig);
          await writeFile(ctx.out('inference_config.json'), JSON.stringify(cfg, null, 2) + '\n');
          return {
            model: recipe.model.name,
            max_batch_size: config.maxBatchSize,
            inputs: config.inputs.map((t) => ({ name: t.name, data_type: t.dataType, dims: t.dims })),
            outputs: config.outputs.map((t) => ({ name: t.name, data_type: t.dataType, dims: t.dims })),
          };
        },
      },
      {
        name: 'contract-smoke',
        version: 1,
        inputs: (v) => ({
          files: {
            repository: v.outputPath('model-repository', 'model_repository/'),
            inference_config: v.outputPath('model-repository', 'inference_config.json'),
          },
        }),
        async run(ctx) {
          const repo = ctx.inputs.files['repository'] ?? '';
          const r = await contractSmoke(repo, ctx.inputs.files['inference_config'] ?? '', {
            ...(ctx.log !== undefined ? { log: ctx.log } : {}),
          });
          if (!r.ok) {
            const failed = r.checks.find((c) => !c.ok);
            throw new DrivegateError(
              'GATE_FAILED',
              'the model repository does not serve the inference contract',
              {
                file: repo,
                field: failed?.name ?? 'server',
                expected: 'every contract check to pass',
                found: failed?.detail ?? r.error ?? 'no result',
                details: r,
              },
            );
          }
          return { ...r, repository: 'model_repository/' };
        },
      },
      {
        name: 'equivalence',
        version: 1,
        inputs: (v) => ({
          files: {
            ...modelInputs(v.args).files,
            candidate: v.outputPath('model-repository', 'model_repository/'),
          },
        }),
        async run(ctx) {
          const recipe = await recipeOf(ctx.args.recipe);
          const candidate = join(ctx.inputs.files['candidate'] ?? '', recipe.model.name, '1', 'model.onnx');
          const r = await equivalence(
            ctx.args.model,
            candidate,
            loadInferenceConfig(ctx.args.inferenceConfig),
            {
              samples: recipe.equivalence.samples,
              batch: recipe.equivalence.batch,
              seed: recipe.equivalence.seed,
              maxAbs: recipe.tolerances.fp32.max_abs,
            },
          );
          if (!r.ok) {
            throw new DrivegateError('GATE_FAILED', 'the packed model is not equivalent to the source', {
              file: candidate,
              expected: `max abs diff <= ${r.tolerance_max_abs}`,
              found: String(r.max_abs),
              details: r,
            });
          }
          return { 'cpu-ort-fp32': r };
        },
      },
      {
        name: 'fp16-emulation',
        version: 1,
        inputs: (v) => modelInputs(v.args),
        async run(ctx) {
          const recipe = await recipeOf(ctx.args.recipe);
          const wanted = recipe.targets.filter((t) => KNOWN_TARGETS[t]?.precision === 'fp16');
          if (wanted.length === 0) return { status: 'not requested', targets: [] };
          const { model, info } = emulateFp16(await readFile(ctx.args.model), ctx.args.model);
          const emulated = join(ctx.workDir, 'model.fp16-emulated.onnx');
          await writeFile(emulated, model);
          const maxAbs = recipe.tolerances.fp16?.max_abs ?? DEFAULT_FP16_MAX_ABS;
          const r = await equivalence(
            ctx.args.model,
            emulated,
            loadInferenceConfig(ctx.args.inferenceConfig),
            {
              samples: recipe.equivalence.samples,
              batch: recipe.equivalence.batch,
              seed: recipe.equivalence.seed,
              maxAbs,
            },
          );
          if (!r.ok) {
            throw new DrivegateError(
              'GATE_FAILED',
              'FP16 (emulated) deviates from FP32 beyond the tolerance',
              {
                file: ctx.args.model,
                field: 'tolerances.fp16.max_abs',
                expected: `max abs diff <= ${maxAbs}`,
                found: String(r.max_abs),
                details: r,
              },
            );
          }
          return {
            status: 'emulated',
            targets: wanted,
            method:
              'FP32 graph with every FP32 initializer rounded to fp16 and every float node output passed ' +
              'through Cast(FLOAT16)->Cast(FLOAT); onnxruntime-node on this host has no FP16 CPU kernels for ' +
              'these ops, so no FP16 model was built or timed',
            emulation: info,
            equivalence: r,
          };
        },
      },
      {
        name: 'microbench',
        cache: false,
        inputs: (v) => modelInputs(v.args),
        async run(ctx) {
          const recipe = await recipeOf(ctx.args.recipe);
          const figures = await microbench(ctx.args.model, loadInferenceConfig(ctx.args.inferenceConfig), {
            iterations: recipe.microbench.iterations,
            warmup: recipe.microbench.warmup,
            batchSizes: recipe.microbench.batch_sizes,
          });
          return { 'cpu-ort-fp32': figures };
        },
      },
      {
        name: 'seal',
        cache: false,
        inputs: (v) => ({
          files: { ...modelInputs(v.args).files },
          values: { version: v.args.version, out: v.args.out },
        }),
        async run(ctx): Promise<SealResult> {
          const recipe = await recipeOf(ctx.args.recipe);
          const results: Record<string, unknown> = {};
          for (const s of [
            'stage',
            'graph-checks',
            'sanity-smoke',
            'model-repository',
            'contract-smoke',
            'equivalence',
            'fp16-emulation',
            'microbench',
          ]) {
            results[s] = ctx.result(s);
          }
          await mkdir(dirname(ctx.args.out), { recursive: true });
          return sealPack({
            store,
            recipe,
            recipeText: await readFile(ctx.args.recipe, 'utf8'),
            version: ctx.args.version,
            out: ctx.args.out,
            runId: ctx.runId,
            files: {
              'model.onnx': ctx.outputPath('model-repository', 'model.onnx'),
              'inference_config.json': ctx.outputPath('model-repository', 'inference_config.json'),
              'model_repository/': ctx.outputPath('model-repository', 'model_repository/'),
            },
            results,
          });
        },
      },
    ],
  };
}
