/**
 * The packaging workflow (#15) as runner steps: stage, graph-checks, sanity-smoke, torch-export
 * (FP32 export vs PyTorch, on the PyTorch path), calibration-shard, fp16 (model.fp16.onnx and the
 * emulation), int8 (model.int8.onnx and calibration.cache), model-repository (a Triton model per
 * built CPU variant), contract-smoke (the v2 server answers one request per model as the contract
 * says), equivalence (every variant vs FP32 on random inputs and shard images, detection drift),
 * microbench (every variant), seal. Each step's result is recorded in the run and gathered into
 * export_report.json by the seal step.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { arch, availableParallelism, cpus, hostname, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { sha256File } from '../core/digest.js';
import { DrivegateError, badInput } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import type { Workflow } from '../core/runner.js';
import { SUPPORT_TABLES, TRT_10, TRT_86, checkCoverage, defaultOpset } from '../onnx/coverage.js';
import type { CoverageReport } from '../onnx/coverage.js';
import { convertToFp16, emulateFp16 } from '../onnx/fp16.js';
import { readOnnxModel } from '../onnx/proto.js';
import type { OnnxModelInfo } from '../onnx/proto.js';
import { loadInferenceConfig, type InferenceConfig } from '../runtime/config.js';
import type { RgbImage } from '../runtime/preprocess.js';
import { contractSmoke } from '../serve/contract.js';
import { writeModelConfig, type ModelConfig } from '../serve/model-config.js';
import type { ArtifactStore } from '../store/types.js';
import { renderCamera } from '../world/render/camera.js';
import { exampleScenes } from '../world/render/example-states.js';
import { assertEquivalent, compareVariants } from './equivalence.js';
import type { Bounds, VariantSpec } from './equivalence.js';
import { buildInt8, qatReport, verifyQatModel } from './int8.js';
import { PIPELINE_OPSET } from './pipeline.js';
import { writePipeline } from './pipeline-repo.js';
import { DEFAULT_TOLERANCES, KNOWN_TARGETS, loadRecipe, pipelineOf } from './recipe.js';
import type { Recipe } from './recipe.js';
import { sealPack } from './seal.js';
import type { SealResult } from './seal.js';
import { loadShard, preprocessShard, verifyShardImages } from './shard.js';
import type { Shard } from './shard.js';
import { environmentPins, microbench, probeOrtGraph, sanitySmoke } from './steps.js';
import type { BenchFigures } from './steps.js';
import { checkTorchExport } from './torch.js';
import type { TorchExport } from './torch.js';
import { tritonConfig } from './triton.js';

/** The FP16 equivalence bound when the recipe sets none (absolute, per element, any head). */
export const DEFAULT_FP16_MAX_ABS = DEFAULT_TOLERANCES.fp16.max_abs;

/** The arguments of a packaging run (absolute paths). */
export interface PackageArgs {
  /** The ONNX model packed (on the PyTorch path: the export of `torch.source`). */
  model: string;
  inferenceConfig: string;
  recipe: string;
  version: string;
  out: string;
  /** The calibration manifest (the recipe's, its reference world's, or --calibration); null: no shard. */
  calibration?: string | null;
  /** The PyTorch export, when the model given was a .pt/.pth/.ts file. */
  torch?: TorchExport | null;
  /** The recipe's QAT model (int8.qat_model, resolved), verified by preparePackage; null: none. */
  qat?: string | null;
}

/** Random inputs the FP16 emulation runs on (it runs on every real shard image). */
export const EMULATION_RANDOM_SAMPLES = 200;

/** The Triton model name of each CPU variant in the model repository. */
export function variantModelName(name: string, precision: 'fp32' | 'fp16' | 'int8'): string {
  return precision === 'fp32' ? name : `${name}_${precision}`;
}

/** The equivalence bounds of a precision: the recipe's, else the defaults (DEFAULT_TOLERANCES). */
export function boundsFor(recipe: Recipe, precision: 'fp32' | 'fp16' | 'int8'): Bounds {
  const d = DEFAULT_TOLERANCES[precision];
  const t = recipe.tolerances[precision];
  const m = t?.max_abs ?? d.max_abs;
  const asMap = (x: number | Record<string, number>): Record<string, number> =>
    typeof x === 'number' ? { '*': x } : { '*': d.max_abs, ...x };
  return {
    max_abs: asMap(m),
    random_max_abs: asMap(t?.random_max_abs ?? m),
    iou_drift: t?.iou_drift ?? d.iou_drift,
    score_drift: t?.score_drift ?? d.score_drift,
    min_recall: t?.min_recall ?? d.min_recall,
  };
}

/** The shard of a run (deterministic from the manifest and the recipe), or null when it has none. */
export async function shardOf(args: PackageArgs, recipe: Recipe): Promise<Shard | null> {
  if (args.calibration === undefined || args.calibration === null) return null;
  const c = recipe.calibration;
  return loadShard(args.calibration, {
    count: c?.count ?? 512,
    balance: c?.balance ?? ['weather', 'time_of_day'],
    seed: c?.seed ?? 1,
  });
}

const wants = (recipe: Recipe, p: 'fp16' | 'int8'): boolean =>
  recipe.targets.some((t) => KNOWN_TARGETS[t]?.precision === p);

async function readModel(path: string): Promise<OnnxModelInfo> {
  return readOnnxModel(await readFile(path), path);
}

async function recipeOf(path: string): Promise<Recipe> {
  return (await loadRecipe(path)).recipe;
}

const modelInputs = (a: PackageArgs): { files: Record<string, string> } => ({
  files: {
    model: a.model,
    recipe: a.recipe,
    inference_config: a.inferenceConfig,
    ...(a.calibration ? { calibration: a.calibration } : {}),
    ...(a.qat ? { qat_model: a.qat } : {}),
  },
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
  tensorrt_coverage?: Record<string, CoverageReport>;
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
    const rep = checkCoverage(model, SUPPORT_TABLES[info.table]);
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
  // With any TensorRT target: the model against both TensorRT tables (informational; the targets'
  // own tables above decide), so a pack says whether it would also parse on the other major version.
  const trt = recipe.targets.some((t) => KNOWN_TARGETS[t]?.runtime === 'tensorrt');
  return {
    ir_version: model.irVersion,
    opset_imports: model.opsetImports,
    producer: `${model.producerName} ${model.producerVersion}`.trim(),
    nodes: model.graph.nodes.length,
    inputs: model.graph.inputs,
    outputs: model.graph.outputs,
    coverage,
    ...(trt
      ? {
          tensorrt_coverage: {
            [TRT_86.id]: checkCoverage(model, TRT_86),
            [TRT_10.id]: checkCoverage(model, TRT_10),
          },
        }
      : {}),
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
          const recipe = await recipeOf(a.recipe);
          const lock = join(packageRoot(), 'package-lock.json');
          const hash = async (p: string): Promise<string> => `sha256:${(await sha256File(p)).sha256}`;
          const shard = await shardOf(a, recipe);
          return {
            environment: environmentPins(),
            inputs: {
              model: { path: a.model, sha256: await hash(a.model) },
              ...(a.torch ? { torch_model: a.torch.source } : {}),
              recipe: { path: a.recipe, sha256: await hash(a.recipe) },
              inference_config: { path: a.inferenceConfig, sha256: await hash(a.inferenceConfig) },
              ...(a.calibration && shard
                ? {
                    calibration_manifest: {
                      path: a.calibration,
                      sha256: await hash(a.calibration),
                      shard_digest: shard.digest,
                    },
                  }
                : {}),
            },
            locks: {
              'package-lock.json': await hash(lock).catch(() => null),
              ...(a.torch ? { python: a.torch.pins } : {}),
            },
          };
        },
      },
      {
        name: 'graph-checks',
        version: 2,
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
        name: 'torch-export',
        version: 1,
        inputs: (v) => ({
          files: {
            ...modelInputs(v.args).files,
            ...(v.args.torch ? { reference: v.args.torch.reference.file } : {}),
          },
        }),
        async run(ctx) {
          const exp = ctx.args.torch;
          if (!exp) return { status: 'not applicable', reason: 'the model was given as ONNX' };
          const recipe = await recipeOf(ctx.args.recipe);
          const cfg = loadInferenceConfig(ctx.args.inferenceConfig);
          const maxAbs = boundsFor(recipe, 'fp32').max_abs['*'] ?? DEFAULT_TOLERANCES.fp32.max_abs;
          const eq = await checkTorchExport(exp, cfg, maxAbs);
          if (!eq.ok) {
            throw new DrivegateError('GATE_FAILED', 'the exported ONNX model deviates from PyTorch', {
              file: exp.source.path,
              field: 'tolerances.fp32.max_abs',
              expected: `max abs diff <= ${maxAbs}`,
              found: String(eq.max_abs),
              details: eq,
            });
          }
          return {
            status: 'exported',
            source: exp.source,
            exporter: 'tools/export_onnx.py (torch.onnx.export, TorchScript exporter)',
            opset: exp.opset,
            pins: exp.pins,
            equivalence: eq,
          };
        },
      },
      {
        name: 'calibration-shard',
        version: 1,
        inputs: (v) => modelInputs(v.args),
        async run(ctx) {
          const recipe = await recipeOf(ctx.args.recipe);
          const shard = await shardOf(ctx.args, recipe);
          if (shard === null) return { status: 'none', reason: 'the recipe names no calibration shard' };
          await verifyShardImages(shard);
          return { status: 'selected', ...shard };
        },
      },
      {
        name: 'fp16',
        version: 1,
        inputs: (v) => modelInputs(v.args),
        outputs: ['fp16/'],
        async run(ctx) {
          const recipe = await recipeOf(ctx.args.recipe);
          const dir = ctx.out('fp16/');
          await mkdir(dir, { recursive: true });
          if (!wants(recipe, 'fp16')) return { status: 'not requested' };
          const bytes = await readFile(ctx.args.model);
          const keep = recipe.fp16.keep_fp32_ops;
          const conv = convertToFp16(bytes, ctx.args.model, keep !== undefined ? { keepFp32Ops: keep } : {});
          const fp16Path = join(dir, 'model.fp16.onnx');
          await writeFile(fp16Path, conv.model);
          const emu = emulateFp16(bytes, ctx.args.model);
          await writeFile(join(dir, 'model.fp16-emulated.onnx'), emu.model);
          // What onnxruntime on this host does with the FP16 model (its optimized graph).
          const probe = await probeOrtGraph(fp16Path, join(ctx.workDir, 'model.fp16.ort-optimized.onnx'));
          return {
            status: 'built',
            file: 'model.fp16.onnx',
            conversion: conv.info,
            onnxruntime_on_this_host: {
              ...probe,
              summary: probe.computes_in_fp32
                ? `onnxruntime-node ${probe.onnxruntime_node ?? '?'} on this CPU has no FP16 kernels for this graph: ` +
                  `it upcasts the FP16 weights to FP32 at session creation and computes in FP32 ` +
                  `(${probe.inserted_casts} casts of its own remain); running model.fp16.onnx here measures ` +
                  'FP16 weight rounding only, so activation rounding is measured by the emulation'
                : `onnxruntime-node ${probe.onnxruntime_node ?? '?'} keeps ${probe.optimized_initializers['float16'] ?? 0} ` +
                  'FP16 initializers after optimization: parts of the graph compute in FP16 here',
            },
            emulation: {
              method:
                'FP32 graph with every FP32 initializer rounded to fp16 and every float node output passed ' +
                'through Cast(FLOAT16)->Cast(FLOAT) (weights and activations carry fp16 precision and range)',
              ...emu.info,
            },
          };
        },
      },
      {
        name: 'int8',
        version: 3,
        inputs: (v) => modelInputs(v.args),
        outputs: ['int8/'],
        async run(ctx) {
          const recipe = await recipeOf(ctx.args.recipe);
          const dir = ctx.out('int8/');
          await mkdir(dir, { recursive: true });
          if (!wants(recipe, 'int8')) return { status: 'not requested' };
          const qat = ctx.args.qat;
          if (qat !== undefined && qat !== null) {
            // A QAT export is the INT8 variant as given (checked again: the step may run on its own).
            const check = await verifyQatModel(qat, await readModel(ctx.args.model), ctx.args.recipe);
            await copyFile(qat, join(dir, 'model.int8.onnx'));
            return qatReport(check);
          }
          const shard = await shardOf(ctx.args, recipe);
          if (shard === null) {
            throw badInput('an int8 target needs a calibration shard', {
              file: ctx.args.recipe,
              field: 'calibration',
              expected: 'calibration.manifest or calibration.world in the recipe, or --calibration MANIFEST',
              found: 'none',
            });
          }
          const cfg = loadInferenceConfig(ctx.args.inferenceConfig);
          const px = preprocessShard(shard, cfg);
          const { result, report } = await buildInt8(
            await readFile(ctx.args.model),
            ctx.args.model,
            px,
            cfg.input.name,
            recipe,
            shard.digest,
            (m) => ctx.log?.info(m),
          );
          if (!result.withinTolerance) {
            throw new DrivegateError(
              'GATE_FAILED',
              'INT8 deviates from FP32 beyond the tolerance even with FP32 fallback',
              {
                file: ctx.args.recipe,
                field: 'tolerances.int8.max_abs',
                expected: 'the quantizer score <= 1 (deviation within the tolerance on every shard image)',
                found: `score ${result.score} after ${result.fallback.length} fallback layers`,
                details: report,
              },
            );
          }
          await writeFile(join(dir, 'model.int8.onnx'), result.model);
          await writeFile(join(dir, 'calibration.cache'), result.calibrationCache);
          return { ...report, file: 'model.int8.onnx', calibration_cache: 'calibration.cache' };
        },
      },
      {
        name: 'model-repository',
        version: 5,
        inputs: (v) => ({
          files: {
            ...modelInputs(v.args).files,
            fp16: v.outputPath('fp16', 'fp16/'),
            int8: v.outputPath('int8', 'int8/'),
          },
        }),
        outputs: ['model.onnx', 'inference_config.json', 'model_repository/', 'variants/'],
        async run(ctx) {
          const recipe = await recipeOf(ctx.args.recipe);
          const variants = ctx.out('variants/');
          await mkdir(variants, { recursive: true });
          const models: Array<{ precision: 'fp32' | 'fp16' | 'int8'; file: string }> = [
            { precision: 'fp32', file: ctx.args.model },
          ];
          const fp16 = join(ctx.inputs.files['fp16'] ?? '', 'model.fp16.onnx');
          if (existsSync(fp16)) {
            await copyFile(fp16, join(variants, 'model.fp16.onnx'));
            models.push({ precision: 'fp16', file: fp16 });
          }
          const int8 = join(ctx.inputs.files['int8'] ?? '', 'model.int8.onnx');
          if (existsSync(int8)) {
            await copyFile(int8, join(variants, 'model.int8.onnx'));
            // A QAT model comes without a calibration cache (see the int8 step).
            const cache = join(ctx.inputs.files['int8'] ?? '', 'calibration.cache');
            if (existsSync(cache)) await copyFile(cache, join(variants, 'calibration.cache'));
            models.push({ precision: 'int8', file: int8 });
          }
          const out: Array<Record<string, unknown>> = [];
          const coverage: Record<string, CoverageReport> = {};
          const built = new Map<string, { config: ModelConfig; info: OnnxModelInfo }>();
          for (const m of models) {
            const name = variantModelName(recipe.model.name, m.precision);
            const info = await readModel(m.file);
            // The variant itself (Casts, Q/DQ nodes) against the tables of the targets of its precision.
            for (const t of recipe.targets.filter((x) => KNOWN_TARGETS[x]?.precision === m.precision)) {
              const table = SUPPORT_TABLES[KNOWN_TARGETS[t]?.table ?? 'ort-cpu'];
              const rep = checkCoverage(info, table);
              const bad = rep.uncovered[0];
              if (bad !== undefined) {
                throw new DrivegateError(
                  'INTERNAL',
                  `the ${m.precision} variant has an op target ${t} lacks`,
                  {
                    file: m.file,
                    record: bad.node,
                    field: `graph.node[${bad.index}]`,
                    expected: `an op in ${rep.table}`,
                    found: bad.reason,
                  },
                );
              }
              coverage[`${t}`] = rep;
            }
            const config = { ...tritonConfig(info, recipe, m.file), name };
            const dir = join(ctx.out('model_repository/'), name);
            await mkdir(join(dir, '1'), { recursive: true });
            await writeFile(join(dir, 'config.pbtxt'), writeModelConfig(config));
            await copyFile(m.file, join(dir, '1', 'model.onnx'));
            built.set(name, { config, info });
            out.push({
              model: name,
              precision: m.precision,
              path: `model_repository/${name}/1/model.onnx`,
              max_batch_size: config.maxBatchSize,
              inputs: config.inputs.map((t) => ({ name: t.name, data_type: t.dataType, dims: t.dims })),
              outputs: config.outputs.map((t) => ({ name: t.name, data_type: t.dataType, dims: t.dims })),
            });
          }
          await copyFile(ctx.args.model, ctx.out('model.onnx'));
          const cfg = loadInferenceConfig(ctx.args.inferenceConfig);
          // The pipeline ensemble (recipe `pipeline`): preprocess -> detector -> postprocess.
          delete cfg.ensemble;
          let pipeline: Record<string, unknown> | null = null;
          const spec = pipelineOf(recipe);
          if (spec !== undefined) {
            const det = built.get(spec.steps[1]);
            if (det === undefined) {
              throw badInput('the pipeline names a detector variant this run did not build', {
                file: ctx.args.recipe,
                field: 'pipeline.steps[1]',
                expected: `one of ${[...built.keys()].join(', ')}`,
                found: spec.steps[1],
              });
            }
            const w = await writePipeline(
              ctx.out('model_repository/'),
              spec,
              det.config,
              det.info,
              cfg,
              ctx.args.inferenceConfig,
            );
            cfg.ensemble = w.spec;
            pipeline = {
              ...w.spec,
              max_batch_size: w.configs.ensemble.maxBatchSize,
              files: w.files.map((f) => `model_repository/${f}`),
              opset: PIPELINE_OPSET,
            };
          }
          await writeFile(ctx.out('inference_config.json'), JSON.stringify(cfg, null, 2) + '\n');
          const first = out[0] ?? {};
          return {
            ...first,
            models: out,
            layout: 'one Triton model per CPU variant: <name>, <name>_fp16, <name>_int8',
            variant_coverage: coverage,
            pipeline,
          };
        },
      },
      {
        name: 'contract-smoke',
        version: 3,
        inputs: (v) => ({
          files: {
            repository: v.outputPath('model-repository', 'model_repository/'),
            inference_config: v.outputPath('model-repository', 'inference_config.json'),
          },
        }),
        async run(ctx) {
          const repo = ctx.inputs.files['repository'] ?? '';
          const cfgFile = ctx.inputs.files['inference_config'] ?? '';
          const ens = loadInferenceConfig(cfgFile).ensemble;
          // The generated preprocess/postprocess models are checked through their ensemble.
          const composing = new Set(ens !== undefined ? [ens.steps[0], ens.steps[2]] : []);
          const names = (await readdir(repo)).sort().filter((n) => !composing.has(n));
          const results: Record<string, unknown> = {};
          for (const model of names) {
            const r = await contractSmoke(repo, cfgFile, {
              model,
              ...(ctx.log !== undefined ? { log: ctx.log } : {}),
              ...(model === ens?.name ? { images: goldenImages(loadInferenceConfig(cfgFile)) } : {}),
            });
            if (!r.ok) {
              const failed = r.checks.find((c) => !c.ok);
              throw new DrivegateError(
                'GATE_FAILED',
                `the model repository's ${model} does not serve the inference contract`,
                {
                  file: join(repo, model),
                  field: failed?.name ?? 'server',
                  expected: 'every contract check to pass',
                  found: failed?.detail ?? r.error ?? 'no result',
                  details: r,
                },
              );
            }
            results[model] = { ...r, repository: 'model_repository/' };
          }
          const first = names[0] !== undefined ? (results[names[0]] as Record<string, unknown>) : {};
          return {
            ...first,
            models: results,
            ...(ens !== undefined
              ? { ensemble: results[ens.name], checked_through_ensemble: [...composing] }
              : {}),
          };
        },
      },
      {
        name: 'equivalence',
        version: 3,
        inputs: (v) => ({
          files: {
            ...modelInputs(v.args).files,
            candidate: v.outputPath('model-repository', 'model_repository/'),
            fp16: v.outputPath('fp16', 'fp16/'),
            variants: v.outputPath('model-repository', 'variants/'),
          },
        }),
        async run(ctx) {
          const recipe = await recipeOf(ctx.args.recipe);
          const cfg = loadInferenceConfig(ctx.args.inferenceConfig);
          const e = recipe.equivalence;
          const out: Record<string, unknown> = {};
          // FP32: the pack's model against the source.
          const packed = join(ctx.inputs.files['candidate'] ?? '', recipe.model.name, '1', 'model.onnx');
          const same = (await sha256File(packed)).sha256 === (await sha256File(ctx.args.model)).sha256;
          const variants: VariantSpec[] = [];
          if (same) {
            out['fp32'] = {
              variant: 'fp32',
              method: 'byte-identical to the source model (sha256), so every output is identical: not re-run',
              max_abs: 0,
              ok: true,
              ...(ctx.args.torch ? { against_pytorch: 'see torch_export.equivalence' } : {}),
            };
          } else {
            variants.push({ id: 'fp32', path: packed, bounds: boundsFor(recipe, 'fp32') });
          }
          const fp16 = join(ctx.inputs.files['variants'] ?? '', 'model.fp16.onnx');
          if (existsSync(fp16)) {
            variants.push({ id: 'fp16', path: fp16, bounds: boundsFor(recipe, 'fp16') });
            // The emulation (activation rounding) is measured on every real image but only the first
            // EMULATION_RANDOM_SAMPLES random inputs: the real FP16 model covers all of them.
            variants.push({
              id: 'fp16-emulated',
              path: join(ctx.inputs.files['fp16'] ?? '', 'model.fp16-emulated.onnx'),
              bounds: boundsFor(recipe, 'fp16'),
              samples: EMULATION_RANDOM_SAMPLES,
            });
          }
          const int8 = join(ctx.inputs.files['variants'] ?? '', 'model.int8.onnx');
          if (existsSync(int8)) variants.push({ id: 'int8', path: int8, bounds: boundsFor(recipe, 'int8') });
          if (variants.length === 0) return out;
          const shard = await shardOf(ctx.args, recipe);
          const real = shard !== null && e.images > 0 ? preprocessShard(shard, cfg, e.images) : null;
          const r = await compareVariants(ctx.args.model, variants, cfg, {
            samples: e.samples,
            batch: e.batch,
            seed: e.seed,
            real,
            driftScoreThreshold: e.drift_score_threshold,
            matchIou: e.match_iou,
            onProgress: (d, t) => ctx.progress(d, t),
          });
          for (const [k, v] of Object.entries(r)) {
            out[k] = {
              ...v,
              model: k === 'fp16-emulated' ? '(emulation, not in the pack)' : relName(v.model),
            };
          }
          assertEquivalent(r, ctx.args.recipe);
          return out;
        },
      },
      {
        name: 'microbench',
        cache: false,
        inputs: (v) => ({
          files: { ...modelInputs(v.args).files, variants: v.outputPath('model-repository', 'variants/') },
        }),
        async run(ctx) {
          const recipe = await recipeOf(ctx.args.recipe);
          const opts = {
            iterations: recipe.microbench.iterations,
            warmup: recipe.microbench.warmup,
            batchSizes: recipe.microbench.batch_sizes,
          };
          const models: Array<[string, string]> = [['fp32', ctx.args.model]];
          for (const p of ['fp16', 'int8']) {
            const f = join(ctx.inputs.files['variants'] ?? '', `model.${p}.onnx`);
            if (existsSync(f)) models.push([p, f]);
          }
          const out: Record<string, unknown> = {};
          for (const [p, f] of models) {
            const r = await microbench(f, ctx.args.inferenceConfig, opts);
            out[p] = { figures: r.figures, memory: r.memory };
          }
          // Ratios against FP32 at each batch size (p50 latency).
          const base = (out['fp32'] as { figures: BenchFigures[] }).figures;
          const ratios: Record<string, Record<string, number>> = {};
          for (const [p] of models.slice(1)) {
            const figs = (out[p] as { figures: BenchFigures[] }).figures;
            ratios[`${p}/fp32`] = Object.fromEntries(
              figs.map((fg, i) => [`batch_${fg.batch}_p50`, fg.p50_ms / (base[i]?.p50_ms ?? NaN)]),
            );
          }
          return {
            host: hostName(),
            threads: `${availableParallelism()} intra-op threads (one per CPU this process may use)`,
            variants: out,
            ratios,
          };
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
            'torch-export',
            'calibration-shard',
            'fp16',
            'int8',
            'model-repository',
            'contract-smoke',
            'equivalence',
            'microbench',
          ]) {
            results[s] = ctx.result(s);
          }
          await mkdir(dirname(ctx.args.out), { recursive: true });
          const variants = ctx.outputPath('model-repository', 'variants/');
          const extra: Record<string, string> = {};
          for (const f of ['model.fp16.onnx', 'model.int8.onnx', 'calibration.cache']) {
            if (existsSync(join(variants, f))) extra[f] = join(variants, f);
          }
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
              ...extra,
            },
            results,
          });
        },
      },
    ],
  };
}

/**
 * Raw images for the ensemble's contract smoke: rendered reference-world scenes (src/world example
 * scenes: clear day and night urban) at the input size, and at twice the size when the ensemble takes
 * any size (so the resize path is compared too).
 */
function goldenImages(cfg: InferenceConfig): RgbImage[] {
  const { width: W, height: H } = cfg.input;
  const render = (w: number, h: number, i: number): RgbImage => {
    const scene = exampleScenes(w, h)[i]!;
    const f = renderCamera(scene.state);
    return { width: f.width, height: f.height, data: f.rgb };
  };
  const out = [render(W, H, 0)];
  if (cfg.ensemble?.input.size === 'any') out.push(render(W * 2, H * 2, 1));
  return out;
}

function relName(path: string): string {
  const m = /(model\.(fp16|int8)\.onnx)$/.exec(path);
  return m?.[1] ?? path;
}

function hostName(): string {
  const c = cpus();
  return `${hostname()} (${c[0]?.model ?? 'unknown CPU'}, ${c.length} cores, ${platform()} ${arch()}): the build host, not the target`;
}
