/**
 * Loaded models: a repository model's versions, each a SessionPool of instance_group-count worker
 * threads behind a Scheduler, and the model's effective inputs/outputs (from config.pbtxt, or from
 * the ONNX graph when the config leaves them out) as the v2 metadata reports them.
 */
import { availableParallelism } from 'node:os';
import { DrivegateError, asDrivegateError } from '../core/errors.js';
import type { ModelIO, TensorInfo } from '../runtime/ort.js';
import { SessionPool } from '../runtime/pool.js';
import type { Runner } from '../runtime/session.js';
import { ensembleIO } from './ensemble.js';
import { apiDatatype, configDataType, type ModelConfig, type TensorConfig } from './model-config.js';
import type { RepositoryModel } from './repository.js';
import { Scheduler } from './scheduler.js';
import { datatypeOfOrt } from './tensors.js';

/** An input or output as the server checks and reports it. */
export interface TensorMeta {
  name: string;
  datatype: string;
  /** The full shape clients send (batch dim first as -1 when max_batch_size > 0). */
  shape: number[];
  /** The shape the model sees without the batch dim, when config.pbtxt reshapes it. */
  reshape?: number[];
}

/** One loaded version. */
export interface LoadedVersion {
  version: string;
  /** The version's instances (a SessionPool; an ensemble's EnsembleRunner). */
  pool: Runner;
  scheduler: Scheduler;
}

/** A model of the repository, loaded or failed. */
export interface LoadedModel {
  name: string;
  platform: string;
  config: ModelConfig | undefined;
  maxBatchSize: number;
  inputs: TensorMeta[];
  outputs: TensorMeta[];
  /** Loaded versions by version string, ascending. */
  versions: Map<string, LoadedVersion>;
  /** Why the model is not ready. */
  error?: DrivegateError;
}

/** Options of loading. */
export interface LoadOptions {
  queueTimeoutMs?: number;
  /** onnxruntime intra-op threads per instance (default: cores / instances, at least 1). */
  intraOpThreads?: number;
  /** onnxruntime intra-op spinning in the workers (default: on, onnxruntime's default; config.pbtxt's parameter wins). */
  allowSpinning?: boolean;
  onExecution: (model: string, version: string, batch: number) => void;
}

/** Instances per version: the sum of instance_group counts (a group without count: 2 on CPU, per Triton's ORT backend; no group: 1). */
export function instanceCount(config: ModelConfig): number {
  if (config.instanceGroups.length === 0) return 1;
  return Math.max(
    1,
    config.instanceGroups.reduce((a, g) => a + (g.count ?? (g.kind === 'KIND_CPU' ? 2 : 1)), 0),
  );
}

/** The config.pbtxt parameter giving onnxruntime's intra-op threads per instance (Triton's ORT backend name). */
export const INTRA_OP_PARAMETER = 'intra_op_thread_count';
/** The config.pbtxt parameter turning onnxruntime's intra-op spinning on ("1") or off ("0"); onnxruntime's own key. */
export const SPINNING_PARAMETER = 'session.intra_op.allow_spinning';

/**
 * Further config.pbtxt parameters passed to onnxruntime as session config entries (onnxruntime's own
 * keys; it does not check their values itself, so they are checked here):
 * - `session.force_spinning_stop` "1": the intra-op threads spin during a run and stop when it
 *   returns, instead of spinning on for a while after it (leaving the cores to the HTTP work and the
 *   client between runs, at the price of waking the threads at the next run);
 * - `session.intra_op.spin_duration_us`: how long an idle intra-op thread spins before it sleeps.
 */
export const SESSION_CONFIG_PARAMETERS: Record<string, { valid: RegExp; expected: string }> = {
  'session.force_spinning_stop': { valid: /^[01]$/, expected: '"0" or "1"' },
  'session.intra_op.spin_duration_us': { valid: /^\d{1,9}$/, expected: 'microseconds, an integer >= 0' },
};

/** How each instance's onnxruntime session runs: intra-op threads and whether they spin. */
export interface SessionSettings {
  intraOpThreads: number;
  allowSpinning: boolean;
  /**
   * The config.pbtxt parameters of SESSION_CONFIG_PARAMETERS, passed to onnxruntime as session config
   * entries; absent when there are none.
   */
  sessionConfig?: Record<string, string>;
}

/**
 * The session settings of a model's instances: config.pbtxt parameters `intra_op_thread_count` and
 * `session.intra_op.allow_spinning` win over the server's options, which win over the defaults (cores /
 * instances threads, at least 1; spinning on, as onnxruntime and Triton have it). A bad parameter value
 * is BAD_INPUT naming the field. The parameters of SESSION_CONFIG_PARAMETERS go to onnxruntime as
 * session config entries.
 */
export function sessionSettings(
  config: ModelConfig,
  options: { intraOpThreads?: number; allowSpinning?: boolean },
  cores: number,
): SessionSettings {
  const instances = instanceCount(config);
  let intra = options.intraOpThreads ?? Math.max(1, Math.floor(cores / instances));
  const t = config.parameters[INTRA_OP_PARAMETER];
  if (t !== undefined) {
    if (!/^\d+$/.test(t.trim()) || Number(t) < 1 || Number(t) > 256) {
      throw new DrivegateError('BAD_INPUT', `bad ${INTRA_OP_PARAMETER} parameter`, {
        file: 'config.pbtxt',
        field: `parameters.${INTRA_OP_PARAMETER}`,
        expected: 'an integer in 1..256',
        found: JSON.stringify(t),
      });
    }
    intra = Number(t);
  }
  let allowSpinning = options.allowSpinning ?? true;
  const sp = config.parameters[SPINNING_PARAMETER];
  if (sp !== undefined) {
    if (sp !== '0' && sp !== '1') {
      throw new DrivegateError('BAD_INPUT', `bad ${SPINNING_PARAMETER} parameter`, {
        file: 'config.pbtxt',
        field: `parameters.${SPINNING_PARAMETER}`,
        expected: '"0" or "1"',
        found: JSON.stringify(sp),
      });
    }
    allowSpinning = sp === '1';
  }
  const passed: Array<[string, string]> = [];
  for (const [key, check] of Object.entries(SESSION_CONFIG_PARAMETERS)) {
    const v = config.parameters[key];
    if (v === undefined) continue;
    if (!check.valid.test(v)) {
      throw new DrivegateError('BAD_INPUT', `bad ${key} parameter`, {
        file: 'config.pbtxt',
        field: `parameters.${key}`,
        expected: check.expected,
        found: JSON.stringify(v),
      });
    }
    passed.push([key, v]);
  }
  return {
    intraOpThreads: intra,
    allowSpinning,
    ...(passed.length > 0 ? { sessionConfig: Object.fromEntries(passed) } : {}),
  };
}

function dimOf(d: number | string): number {
  return typeof d === 'number' && d >= 0 ? d : -1;
}

/** The effective inputs/outputs: the config's, checked against the ONNX graph, or the graph's own. */
export function effectiveIO(
  config: ModelConfig,
  io: ModelIO,
  modelPath: string,
): { inputs: TensorMeta[]; outputs: TensorMeta[] } {
  const batched = config.maxBatchSize > 0;
  const fromGraph = (t: TensorInfo): TensorMeta => {
    const datatype = datatypeOfOrt(t.type) ?? t.type;
    return { name: t.name, datatype, shape: t.shape.map((d, i) => (batched && i === 0 ? -1 : dimOf(d))) };
  };
  const pick = (list: TensorConfig[], graph: TensorInfo[], kind: string): TensorMeta[] => {
    if (list.length === 0) return graph.map(fromGraph);
    return list.map((c) => {
      const g = graph.find((x) => x.name === c.name);
      if (g === undefined) {
        throw new DrivegateError('BAD_INPUT', `config.pbtxt names an ${kind} the model does not have`, {
          file: modelPath,
          field: `${kind}.name`,
          expected: `one of ${graph.map((x) => x.name).join(', ')}`,
          found: c.name,
        });
      }
      const datatype = apiDatatype(c.dataType);
      const gType = datatypeOfOrt(g.type);
      if (gType !== datatype) {
        throw new DrivegateError(
          'BAD_INPUT',
          `config.pbtxt ${kind} '${c.name}' has another data type than the model`,
          {
            file: modelPath,
            field: `${kind}.data_type`,
            expected: gType !== undefined ? (configDataType(gType) ?? gType) : g.type,
            found: c.dataType,
          },
        );
      }
      const modelDims = c.reshape ?? c.dims;
      const want = batched ? [-1, ...modelDims] : modelDims;
      const ok =
        want.length === g.shape.length &&
        want.every((d, i) => d === -1 || dimOf(g.shape[i]!) === -1 || dimOf(g.shape[i]!) === d);
      if (!ok) {
        throw new DrivegateError(
          'BAD_INPUT',
          `config.pbtxt ${kind} '${c.name}' has another shape than the model`,
          {
            file: modelPath,
            field: `${kind}.dims`,
            expected: `[${g.shape.map(dimOf).join(', ')}]${batched ? ' (batch dim first)' : ''}`,
            found: `[${want.join(', ')}]`,
          },
        );
      }
      return {
        name: c.name,
        datatype,
        shape: batched ? [-1, ...c.dims] : [...c.dims],
        ...(c.reshape !== undefined ? { reshape: c.reshape } : {}),
      };
    });
  };
  return {
    inputs: pick(config.inputs, io.inputs, 'input'),
    outputs: pick(config.outputs, io.outputs, 'output'),
  };
}

/** Loads a scanned repository model: opens every version's pool and checks config against graph. Never throws. */
export async function loadModel(m: RepositoryModel, options: LoadOptions): Promise<LoadedModel> {
  const loaded: LoadedModel = {
    name: m.name,
    platform: 'onnxruntime_onnx',
    config: m.config,
    maxBatchSize: m.config?.maxBatchSize ?? 0,
    inputs: [],
    outputs: [],
    versions: new Map(),
  };
  if (m.error !== undefined || m.config === undefined) {
    loaded.error = m.error ?? new DrivegateError('BAD_INPUT', 'no config');
    return loaded;
  }
  const config = m.config;
  if (config.platform === 'ensemble') {
    // Versions come when the server links it to its composing models (ensemble.ts linkEnsembles).
    const io = ensembleIO(config);
    return { ...loaded, platform: 'ensemble', inputs: io.inputs, outputs: io.outputs };
  }
  const instances = instanceCount(config);
  try {
    const settings = sessionSettings(config, options, availableParallelism());
    for (const v of m.versions) {
      const pool = await SessionPool.open(v.modelPath, { workers: instances, ...settings });
      const version = String(v.version);
      try {
        const io = effectiveIO(config, pool.io, v.modelPath);
        if (loaded.inputs.length === 0) {
          loaded.inputs = io.inputs;
          loaded.outputs = io.outputs;
        }
      } catch (err) {
        await pool.close();
        throw err;
      }
      const db = config.dynamicBatching;
      const queueTimeoutMs =
        db?.defaultTimeoutMicroseconds !== undefined && db.defaultTimeoutMicroseconds > 0
          ? db.defaultTimeoutMicroseconds / 1000
          : options.queueTimeoutMs;
      const scheduler = new Scheduler(pool, {
        instances,
        maxBatchSize: config.maxBatchSize,
        ...(db !== undefined
          ? {
              batching: {
                preferredBatchSize: db.preferredBatchSize,
                maxQueueDelayMicroseconds: db.maxQueueDelayMicroseconds,
              },
            }
          : {}),
        ...(queueTimeoutMs !== undefined ? { queueTimeoutMs } : {}),
        ...(db?.maxQueueSize !== undefined ? { maxQueueSize: db.maxQueueSize } : {}),
        onExecution: (batch) => options.onExecution(m.name, version, batch),
      });
      loaded.versions.set(version, { version, pool, scheduler });
    }
  } catch (err) {
    loaded.error = asDrivegateError(err);
    await unloadModel(loaded);
  }
  return loaded;
}

/** Stops a model's schedulers and worker pools. */
export async function unloadModel(m: LoadedModel): Promise<void> {
  const vs = [...m.versions.values()];
  m.versions.clear();
  for (const v of vs) v.scheduler.close();
  await Promise.all(vs.map((v) => v.pool.close()));
}
