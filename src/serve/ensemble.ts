/**
 * Ensemble models (config.pbtxt `platform: "ensemble"` with `ensemble_scheduling`), as Triton runs
 * them: each request flows through the steps in data-dependency order, every step running on its own
 * composing model's scheduler and instances (worker threads), with tensors renamed by the steps'
 * input_map/output_map (key: the composing model's tensor, value: the ensemble's). Checks come in two
 * stages: the config alone when the repository is scanned (`checkEnsembleConfig`: the tensor flow has no
 * cycle, no step input that nothing produces, every output produced once) and against the loaded
 * models when the server links them (`linkEnsembles`: unknown or unready step models, unmapped or
 * unknown tensors, data types, batch sizes). A bad ensemble is not ready with its reason; the other
 * models serve.
 */
import { join } from 'node:path';
import { DrivegateError, asDrivegateError, badInput } from '../core/errors.js';
import type { Runner } from '../runtime/session.js';
import type { TensorData, TensorMap } from '../runtime/tensor.js';
import { apiDatatype, type EnsembleStep, type ModelConfig, type TensorConfig } from './model-config.js';
import type { LoadedModel, LoadedVersion, TensorMeta } from './models.js';
import type { RepositoryModel } from './repository.js';
import { Scheduler } from './scheduler.js';

const stepName = (s: EnsembleStep, i: number): string => `step[${i}] '${s.modelName}'`;

/**
 * The order the steps run in: a topological order of the tensor flow (a step runs once every tensor it
 * reads is an ensemble input or an earlier step's output). BAD_INPUT naming `file` and the field for
 * a tensor nothing produces, a tensor produced twice, an ensemble output no step produces, or a cycle.
 */
export function ensembleOrder(config: ModelConfig, file: string): number[] {
  const steps = config.ensembleScheduling?.steps ?? [];
  const producer = new Map<string, number>();
  for (const t of config.inputs) producer.set(t.name, -1);
  steps.forEach((s, i) => {
    for (const [k, v] of Object.entries(s.outputMap)) {
      const prev = producer.get(v);
      if (prev !== undefined)
        throw badInput(`ensemble tensor '${v}' is produced twice`, {
          file,
          line: s.line,
          field: `ensemble_scheduling.step[${i}].output_map`,
          expected: 'each ensemble tensor produced by one step (and not an ensemble input)',
          found: `${stepName(s, i)} output '${k}' -> '${v}', already ${prev < 0 ? 'an ensemble input' : `produced by ${stepName(steps[prev]!, prev)}`}`,
        });
      producer.set(v, i);
    }
  });
  steps.forEach((s, i) => {
    for (const [k, v] of Object.entries(s.inputMap)) {
      if (!producer.has(v))
        throw badInput(
          `ensemble tensor '${v}' is not mapped: no ensemble input and no step output has that name`,
          {
            file,
            line: s.line,
            field: `ensemble_scheduling.step[${i}].input_map`,
            expected: `one of ${[...producer.keys()].join(', ')}`,
            found: `${stepName(s, i)} input '${k}' <- '${v}'`,
          },
        );
    }
  });
  for (const o of config.outputs) {
    if (!producer.has(o.name) || producer.get(o.name) === -1)
      throw badInput(`ensemble output '${o.name}' is not produced by any step`, {
        file,
        field: 'output.name',
        expected: `a step output_map value (${[...producer.entries()]
          .filter(([, p]) => p >= 0)
          .map(([t]) => t)
          .join(', ')})`,
        found: o.name,
      });
  }
  // Kahn's algorithm over steps; ties keep the config's order.
  const order: number[] = [];
  const done = new Set<number>();
  while (order.length < steps.length) {
    const next = steps.findIndex(
      (s, i) =>
        !done.has(i) &&
        Object.values(s.inputMap).every((v) => {
          const p = producer.get(v)!;
          return p < 0 || done.has(p);
        }),
    );
    if (next < 0) {
      const left = steps.map((s, i) => [s, i] as const).filter(([, i]) => !done.has(i));
      throw badInput('the ensemble steps form a cycle', {
        file,
        line: left[0]![0].line,
        field: 'ensemble_scheduling.step',
        expected: 'steps whose tensors flow from the ensemble inputs to its outputs without a loop',
        found: `${left.map(([s, i]) => stepName(s, i)).join(', ')} wait on each other`,
      });
    }
    done.add(next);
    order.push(next);
  }
  return order;
}

/**
 * Checks an ensemble config on its own (when the repository is scanned): platform "ensemble" with
 * ensemble_scheduling, inputs and outputs declared, no instance_group or dynamic_batching (Triton
 * refuses them on ensembles), and a tensor flow `ensembleOrder` accepts. BAD_INPUT naming the field.
 */
export function checkEnsembleConfig(config: ModelConfig, file: string): void {
  const fail = (msg: string, field: string, expected: string, found: string): never => {
    throw badInput(msg, { file, field, expected, found });
  };
  if (config.platform !== 'ensemble')
    fail(
      'ensemble_scheduling needs platform "ensemble"',
      'platform',
      '"ensemble"',
      JSON.stringify(config.platform ?? config.backend ?? ''),
    );
  if (config.ensembleScheduling === undefined)
    fail(
      'an ensemble needs ensemble_scheduling',
      'ensemble_scheduling',
      'ensemble_scheduling { step [ ... ] }',
      'nothing',
    );
  if (config.instanceGroups.length > 0)
    fail('an ensemble has no instances of its own', 'instance_group', 'no instance_group', 'instance_group');
  if (config.dynamicBatching !== undefined)
    fail(
      'an ensemble does not batch (its composing models do)',
      'dynamic_batching',
      'no dynamic_batching',
      'dynamic_batching',
    );
  if (config.inputs.length === 0 || config.outputs.length === 0)
    fail(
      'an ensemble must declare its inputs and outputs',
      config.inputs.length === 0 ? 'input' : 'output',
      'at least one',
      'none',
    );
  ensembleOrder(config, file);
}

interface LinkedStep {
  step: EnsembleStep;
  index: number;
  model: LoadedModel;
}

/** Runs an ensemble's steps for one request (a Runner, so a Scheduler can front it like any model). */
export class EnsembleRunner implements Runner {
  readonly io;
  private readonly uses = new Map<string, number>();

  constructor(
    readonly modelPath: string,
    private readonly name: string,
    private readonly steps: LinkedStep[],
    inputs: TensorMeta[],
    private readonly outputs: TensorMeta[],
  ) {
    this.io = {
      inputs: inputs.map((t) => ({ name: t.name, type: t.datatype, shape: t.shape })),
      outputs: outputs.map((t) => ({ name: t.name, type: t.datatype, shape: t.shape })),
    };
    for (const s of steps)
      for (const v of Object.values(s.step.inputMap)) this.uses.set(v, (this.uses.get(v) ?? 0) + 1);
    for (const o of outputs) this.uses.set(o.name, (this.uses.get(o.name) ?? 0) + 1);
  }

  /** Runs the steps in order; an error names the ensemble and the step, keeping the step's error code. */
  async run(feeds: TensorMap): Promise<TensorMap> {
    const tensors = new Map<string, TensorData>(Object.entries(feeds));
    const left = new Map(this.uses);
    // A composing model may take its feeds' buffers (transferred to a worker): a tensor that is read
    // again later is handed over as a copy.
    const take = (name: string): TensorData => {
      const t = tensors.get(name)!;
      const n = (left.get(name) ?? 1) - 1;
      left.set(name, n);
      return n > 0 ? { type: t.type, dims: [...t.dims], data: t.data.slice() } : t;
    };
    for (const { step, index, model } of this.steps) {
      const where = `ensemble '${this.name}' ${stepName(step, index)}`;
      try {
        const version = pickVersion(model, step);
        const stepFeeds: TensorMap = {};
        for (const [k, v] of Object.entries(step.inputMap)) stepFeeds[k] = take(v);
        const batch = model.maxBatchSize > 0 ? (Object.values(stepFeeds)[0]?.dims[0] ?? 1) : 1;
        const r = await version.scheduler.submit(stepFeeds, batch);
        for (const [k, v] of Object.entries(step.outputMap)) {
          const t = r.outputs[k];
          if (t === undefined)
            throw new DrivegateError('INTERNAL', `the model returned no output '${k}'`, {
              field: `output_map.${k}`,
            });
          tensors.set(v, t);
        }
      } catch (err) {
        const e = asDrivegateError(err);
        throw new DrivegateError(e.code, `${where}: ${e.message}`, { cause: err });
      }
    }
    const out: TensorMap = {};
    for (const o of this.outputs) out[o.name] = tensors.get(o.name)!;
    return out;
  }

  /** Nothing of its own to release (the composing models are unloaded on their own). */
  async close(): Promise<void> {}
}

function pickVersion(model: LoadedModel, step: EnsembleStep): LoadedVersion {
  const vs = [...model.versions.values()];
  const v = step.modelVersion === -1 ? vs[vs.length - 1] : model.versions.get(String(step.modelVersion));
  if (v === undefined || model.error !== undefined)
    throw new DrivegateError(
      'UNAVAILABLE',
      `model '${model.name}'${step.modelVersion === -1 ? '' : ` version ${step.modelVersion}`} is not ready${model.error !== undefined ? `: ${model.error.message}` : ''}`,
    );
  return v;
}

/** Options of linkEnsembles. */
export interface LinkOptions {
  queueTimeoutMs?: number;
  onExecution: (model: string, version: string, batch: number) => void;
}

function linkOne(e: LoadedModel, models: Map<string, LoadedModel>, dir: string): LinkedStep[] {
  const config = e.config!;
  const file = join(dir, 'config.pbtxt');
  const steps = config.ensembleScheduling!.steps;
  const order = ensembleOrder(config, file);
  // The datatype each ensemble tensor has (inputs declared; the others from their producing model).
  const types = new Map<string, { datatype: string; from: string }>(
    e.inputs.map((t) => [t.name, { datatype: t.datatype, from: `ensemble input '${t.name}'` }]),
  );
  const linked: LinkedStep[] = [];
  for (const i of order) {
    const s = steps[i]!;
    const field = `ensemble_scheduling.step[${i}]`;
    const m = models.get(s.modelName);
    const fail = (msg: string, f: string, expected: string, found: string): never => {
      throw badInput(`${stepName(s, i)}: ${msg}`, {
        file,
        line: s.line,
        field: `${field}.${f}`,
        expected,
        found,
      });
    };
    if (m === undefined || m === e)
      fail(
        'unknown step model',
        'model_name',
        `a model of the repository (${[...models.keys()].filter((n) => n !== e.name).join(', ')})`,
        JSON.stringify(s.modelName),
      );
    const model = m!;
    if (model.platform === 'ensemble')
      fail('a step naming another ensemble is not supported', 'model_name', 'an ONNX model', 'an ensemble');
    if (model.error !== undefined || model.versions.size === 0)
      fail(
        'the step model is not ready',
        'model_name',
        'a model that loads',
        model.error?.message ?? 'no versions',
      );
    if (s.modelVersion !== -1 && !model.versions.has(String(s.modelVersion)))
      fail(
        'the step names a version that is not loaded',
        'model_version',
        `-1 or one of ${[...model.versions.keys()].join(', ')}`,
        String(s.modelVersion),
      );
    if (config.maxBatchSize > 0 && model.maxBatchSize < config.maxBatchSize)
      fail(
        `the step model batches less than the ensemble (max_batch_size ${config.maxBatchSize})`,
        'model_name',
        `max_batch_size >= ${config.maxBatchSize}`,
        `${model.maxBatchSize}`,
      );
    for (const input of model.inputs) {
      const v = s.inputMap[input.name];
      if (v === undefined)
        fail(
          `model input '${input.name}' is not mapped`,
          'input_map',
          `input_map { key: "${input.name}" value: ... }`,
          `keys ${Object.keys(s.inputMap).join(', ')}`,
        );
      const t = types.get(v!)!;
      if (t.datatype !== input.datatype)
        fail(
          `tensor '${v}' has another datatype than model input '${input.name}'`,
          'input_map',
          input.datatype,
          `${t.datatype} (${t.from})`,
        );
    }
    for (const k of Object.keys(s.inputMap))
      if (!model.inputs.some((t) => t.name === k))
        fail(
          'input_map names a tensor the model does not have',
          'input_map',
          `one of ${model.inputs.map((t) => t.name).join(', ')}`,
          k,
        );
    for (const [k, v] of Object.entries(s.outputMap)) {
      const out = model.outputs.find((t) => t.name === k);
      if (out === undefined)
        fail(
          'output_map names a tensor the model does not have',
          'output_map',
          `one of ${model.outputs.map((t) => t.name).join(', ')}`,
          k,
        );
      types.set(v, { datatype: out!.datatype, from: `${stepName(s, i)} output '${k}'` });
    }
    linked.push({ step: s, index: i, model });
  }
  for (const o of e.outputs) {
    const t = types.get(o.name)!;
    if (t.datatype !== o.datatype)
      throw badInput(`ensemble output '${o.name}' has another datatype than what produces it`, {
        file,
        field: 'output.data_type',
        expected: t.datatype,
        found: `${o.datatype} (${t.from} is ${t.datatype})`,
      });
  }
  return linked;
}

/**
 * Links every ensemble of a loaded repository to its composing models: checks it against them and
 * gives each of its versions a Scheduler over an EnsembleRunner. Never throws: a bad ensemble gets
 * `error` (naming its config and the field) and stays not ready. Returns the ensembles.
 */
export function linkEnsembles(
  models: Map<string, LoadedModel>,
  scanned: readonly RepositoryModel[],
  options: LinkOptions,
): LoadedModel[] {
  const ensembles = [...models.values()].filter((m) => m.platform === 'ensemble');
  for (const e of ensembles) {
    const repo = scanned.find((r) => r.name === e.name);
    if (e.error !== undefined || e.config === undefined || repo === undefined) continue;
    try {
      const dir = repo.dir;
      const steps = linkOne(e, models, dir);
      for (const version of repo.versions.map((v) => String(v.version))) {
        const runner = new EnsembleRunner(join(dir, version), e.name, steps, e.inputs, e.outputs);
        const scheduler = new Scheduler(runner, {
          // The ensemble queues nothing itself: requests wait at the composing models' schedulers.
          instances: 1 << 16,
          maxBatchSize: e.maxBatchSize,
          ...(options.queueTimeoutMs !== undefined ? { queueTimeoutMs: options.queueTimeoutMs } : {}),
          onExecution: (batch) => options.onExecution(e.name, version, batch),
        });
        e.versions.set(version, { version, pool: runner, scheduler });
      }
    } catch (err) {
      e.error = asDrivegateError(err);
    }
  }
  return ensembles;
}

/** An ensemble's inputs/outputs as the v2 metadata reports them (from its config; batch dim first when batched). */
export function ensembleIO(config: ModelConfig): { inputs: TensorMeta[]; outputs: TensorMeta[] } {
  const meta = (dims: number[]): number[] => (config.maxBatchSize > 0 ? [-1, ...dims] : [...dims]);
  const conv = (t: TensorConfig): TensorMeta => ({
    name: t.name,
    datatype: apiDatatype(t.dataType),
    shape: meta(t.dims),
  });
  return { inputs: config.inputs.map(conv), outputs: config.outputs.map(conv) };
}
