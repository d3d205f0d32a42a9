/**
 * Triton's ModelConfig (model_config.proto) as far as drivegate reads and writes it: name,
 * platform/backend, max_batch_size, input/output, dynamic_batching, instance_group, version_policy,
 * parameters, default_model_filename, ensemble_scheduling (steps with their input/output maps). Other fields are kept verbatim (`extra`) and reported as
 * warnings, never an error. `parseModelConfig` reads config.pbtxt text; `writeModelConfig` writes it.
 */
import { badInput } from '../core/errors.js';
import { parsePbtxt, writePbtxt, type PbField, type PbMessage, type PbValue } from './pbtxt.js';

/** The model_config.proto data types. */
export const CONFIG_DATA_TYPES = [
  'TYPE_BOOL',
  'TYPE_UINT8',
  'TYPE_UINT16',
  'TYPE_UINT32',
  'TYPE_UINT64',
  'TYPE_INT8',
  'TYPE_INT16',
  'TYPE_INT32',
  'TYPE_INT64',
  'TYPE_FP16',
  'TYPE_FP32',
  'TYPE_FP64',
  'TYPE_STRING',
  'TYPE_BF16',
] as const;

/** A config data type such as TYPE_FP32. */
export type ConfigDataType = (typeof CONFIG_DATA_TYPES)[number];

/** One input or output of a model config. */
export interface TensorConfig {
  name: string;
  dataType: ConfigDataType;
  /** Dims without the batch dim; -1 = variable. */
  dims: number[];
  /** The shape the model itself sees (without the batch dim), when it differs from dims. */
  reshape?: number[];
  /** FORMAT_NONE | FORMAT_NCHW | FORMAT_NHWC (inputs only). */
  format?: string;
  /** Fields of the tensor that drivegate does not interpret, kept verbatim. */
  extra?: PbField[];
}

/** dynamic_batching. */
export interface DynamicBatchingConfig {
  preferredBatchSize: number[];
  maxQueueDelayMicroseconds: number;
  /** default_queue_policy.default_timeout_microseconds (0 = none). */
  defaultTimeoutMicroseconds?: number;
  /** default_queue_policy.max_queue_size (0 = unbounded). */
  maxQueueSize?: number;
}

/** One instance_group entry. */
export interface InstanceGroupConfig {
  name?: string;
  /** Instances; undefined when the config leaves it out. */
  count?: number;
  kind: string;
}

/** version_policy. */
export type VersionPolicy =
  { latest: { numVersions: number } } | { all: Record<string, never> } | { specific: { versions: number[] } };

/**
 * One ensemble_scheduling.step: a composing model and how its tensors map to the ensemble's.
 * Map keys are the composing model's tensor names, values the ensemble-level tensor names (Triton's
 * model_config.proto ModelEnsembling.Step).
 */
export interface EnsembleStep {
  modelName: string;
  /** -1 = the latest loaded version. */
  modelVersion: number;
  inputMap: Record<string, string>;
  outputMap: Record<string, string>;
  /** The line of the step in config.pbtxt (0 when built in code). */
  line: number;
}

/** ensemble_scheduling. */
export interface EnsembleScheduling {
  steps: EnsembleStep[];
}

/** A model config (config.pbtxt). */
export interface ModelConfig {
  name: string;
  platform?: string;
  backend?: string;
  maxBatchSize: number;
  inputs: TensorConfig[];
  outputs: TensorConfig[];
  dynamicBatching?: DynamicBatchingConfig;
  instanceGroups: InstanceGroupConfig[];
  versionPolicy?: VersionPolicy;
  parameters: Record<string, string>;
  defaultModelFilename?: string;
  /** The steps of an ensemble (platform "ensemble"). */
  ensembleScheduling?: EnsembleScheduling;
  /** Top-level fields drivegate does not interpret, kept verbatim (written back by writeModelConfig). */
  extra: PbField[];
}

/** A parsed config and what was ignored in it. */
export interface ParsedModelConfig {
  config: ModelConfig;
  warnings: string[];
}

interface Ctx {
  file: string;
  warnings: string[];
}

function num(f: PbField, ctx: Ctx, what: string, opts: { min?: number; int?: boolean } = {}): number {
  const v = f.value;
  const n = v.kind === 'number' ? Number(v.text.replace(/[fF]$/, '')) : Number.NaN;
  if (
    !Number.isFinite(n) ||
    (opts.int !== false && !Number.isInteger(n)) ||
    (opts.min !== undefined && n < opts.min)
  ) {
    throw badInput(`bad ${what}`, {
      file: ctx.file,
      line: f.line,
      field: f.name,
      expected: `${opts.int !== false ? 'an integer' : 'a number'}${opts.min !== undefined ? ` >= ${opts.min}` : ''}`,
      found: show(v),
    });
  }
  return n;
}

function str(f: PbField, ctx: Ctx): string {
  if (f.value.kind !== 'string')
    throw badInput('bad value', {
      file: ctx.file,
      line: f.line,
      field: f.name,
      expected: 'a quoted string',
      found: show(f.value),
    });
  return f.value.value;
}

function ident(f: PbField, ctx: Ctx, allowed?: readonly string[]): string {
  const v = f.value;
  const s = v.kind === 'ident' ? v.value : v.kind === 'number' ? v.text : undefined;
  if (s === undefined || (allowed !== undefined && !allowed.includes(s))) {
    throw badInput('bad value', {
      file: ctx.file,
      line: f.line,
      field: f.name,
      expected: allowed !== undefined ? `one of ${allowed.join(', ')}` : 'an identifier',
      found: show(v),
    });
  }
  return s;
}

function msg(f: PbField, ctx: Ctx): PbMessage {
  if (f.value.kind !== 'message')
    throw badInput('bad value', {
      file: ctx.file,
      line: f.line,
      field: f.name,
      expected: 'a message { ... }',
      found: show(f.value),
    });
  return f.value.fields;
}

function show(v: PbValue): string {
  if (v.kind === 'message') return 'a message';
  if (v.kind === 'string') return JSON.stringify(v.value);
  return v.kind === 'number' ? v.text : v.value;
}

function single(fields: PbMessage, name: string, ctx: Ctx, where: string): PbField | undefined {
  const all = fields.filter((f) => f.name === name);
  if (all.length > 1)
    throw badInput(`field '${name}' given twice${where}`, {
      file: ctx.file,
      line: all[1]!.line,
      expected: 'one value',
      found: `${all.length}`,
    });
  return all[0];
}

function parseTensor(fields: PbMessage, ctx: Ctx, kind: 'input' | 'output', line: number): TensorConfig {
  const known = new Set(['name', 'data_type', 'dims', 'reshape', 'format']);
  const nameF = single(fields, 'name', ctx, ` in ${kind}`);
  if (nameF === undefined)
    throw badInput(`an ${kind} has no name`, {
      file: ctx.file,
      line,
      field: `${kind}.name`,
      expected: 'name: "<tensor>"',
      found: 'nothing',
    });
  const name = str(nameF, ctx);
  const dtF = single(fields, 'data_type', ctx, ` in ${kind} '${name}'`);
  if (dtF === undefined)
    throw badInput(`${kind} '${name}' has no data_type`, {
      file: ctx.file,
      line,
      field: `${kind}.data_type`,
      expected: 'a TYPE_* value',
      found: 'nothing',
    });
  const dataType = ident(dtF, ctx, CONFIG_DATA_TYPES) as ConfigDataType;
  const dims = fields.filter((f) => f.name === 'dims').map((f) => num(f, ctx, 'dim', { min: -1 }));
  const t: TensorConfig = { name, dataType, dims };
  const reshapeF = single(fields, 'reshape', ctx, ` in ${kind} '${name}'`);
  if (reshapeF !== undefined)
    t.reshape = msg(reshapeF, ctx)
      .filter((f) => f.name === 'shape')
      .map((f) => num(f, ctx, 'reshape dim', { min: -1 }));
  const formatF = single(fields, 'format', ctx, ` in ${kind} '${name}'`);
  if (formatF !== undefined) t.format = ident(formatF, ctx, ['FORMAT_NONE', 'FORMAT_NHWC', 'FORMAT_NCHW']);
  const extra = fields.filter((f) => !known.has(f.name));
  if (extra.length > 0) {
    t.extra = extra;
    for (const f of extra)
      ctx.warnings.push(
        `${ctx.file}:${f.line}: ${kind} '${name}': field '${f.name}' is not interpreted by drivegate (kept)`,
      );
  }
  return t;
}

function parseMapEntry(f: PbField, ctx: Ctx, into: Record<string, string>, where: string): void {
  const body = msg(f, ctx);
  const k = body.find((h) => h.name === 'key');
  const v = body.find((h) => h.name === 'value');
  if (k === undefined || v === undefined || body.length !== 2)
    throw badInput(`bad ${f.name} entry${where}`, {
      file: ctx.file,
      line: f.line,
      field: `ensemble_scheduling.step.${f.name}`,
      expected: `${f.name} { key: "<model tensor>" value: "<ensemble tensor>" }`,
      found: body.map((h) => h.name).join(', ') || 'nothing',
    });
  const key = str(k, ctx);
  if (key in into)
    throw badInput(`${f.name} maps tensor '${key}' twice${where}`, {
      file: ctx.file,
      line: k.line,
      field: `ensemble_scheduling.step.${f.name}`,
      expected: 'each key once',
      found: `'${key}' again`,
    });
  into[key] = str(v, ctx);
}

function parseEnsembleScheduling(f: PbField, ctx: Ctx): EnsembleScheduling {
  const steps: EnsembleStep[] = [];
  for (const g of msg(f, ctx)) {
    if (g.name !== 'step') {
      ctx.warnings.push(`${ctx.file}:${g.line}: ensemble_scheduling.${g.name} is ignored`);
      continue;
    }
    const where = ` in ensemble_scheduling.step[${steps.length}]`;
    const step: EnsembleStep = { modelName: '', modelVersion: -1, inputMap: {}, outputMap: {}, line: g.line };
    let named = false;
    for (const h of msg(g, ctx)) {
      if (h.name === 'model_name') {
        step.modelName = str(h, ctx);
        named = true;
      } else if (h.name === 'model_version') {
        step.modelVersion = num(h, ctx, 'model_version', { min: -1 });
        if (step.modelVersion === 0)
          throw badInput(`bad model_version${where}`, {
            file: ctx.file,
            line: h.line,
            field: 'ensemble_scheduling.step.model_version',
            expected: '-1 (latest) or a version >= 1',
            found: '0',
          });
      } else if (h.name === 'input_map') parseMapEntry(h, ctx, step.inputMap, where);
      else if (h.name === 'output_map') parseMapEntry(h, ctx, step.outputMap, where);
      else ctx.warnings.push(`${ctx.file}:${h.line}: ensemble_scheduling.step.${h.name} is ignored`);
    }
    if (!named || step.modelName === '')
      throw badInput(`a step has no model_name${where.replace(' in', ':')}`, {
        file: ctx.file,
        line: g.line,
        field: `ensemble_scheduling.step[${steps.length}].model_name`,
        expected: 'model_name: "<model>"',
        found: 'nothing',
      });
    for (const m of ['input_map', 'output_map'] as const) {
      if (Object.keys(m === 'input_map' ? step.inputMap : step.outputMap).length === 0)
        throw badInput(`step '${step.modelName}' has no ${m}`, {
          file: ctx.file,
          line: g.line,
          field: `ensemble_scheduling.step[${steps.length}].${m}`,
          expected: `at least one ${m} { key: ... value: ... }`,
          found: 'none',
        });
    }
    steps.push(step);
  }
  if (steps.length === 0)
    throw badInput('ensemble_scheduling has no step', {
      file: ctx.file,
      line: f.line,
      field: 'ensemble_scheduling.step',
      expected: 'at least one step { ... }',
      found: 'none',
    });
  return { steps };
}

/**
 * Reads a config.pbtxt text into a ModelConfig. Syntax errors and bad values of interpreted fields
 * are BAD_INPUT naming the file, line and field; fields drivegate does not interpret are kept in
 * `extra` and listed in `warnings`. `defaultName` (the model directory) fills a missing name.
 */
export function parseModelConfig(
  text: string,
  file = 'config.pbtxt',
  defaultName?: string,
): ParsedModelConfig {
  const ctx: Ctx = { file, warnings: [] };
  const fields = parsePbtxt(text, file);
  const config: ModelConfig = {
    name: defaultName ?? '',
    maxBatchSize: 0,
    inputs: [],
    outputs: [],
    instanceGroups: [],
    parameters: {},
    extra: [],
  };
  const seen = new Map<string, number>();
  const once = (f: PbField): void => {
    if (seen.has(f.name))
      throw badInput(`field '${f.name}' given twice`, {
        file,
        line: f.line,
        expected: 'one value',
        found: `a second one (first on line ${seen.get(f.name)})`,
      });
    seen.set(f.name, f.line);
  };
  for (const f of fields) {
    switch (f.name) {
      case 'name':
        once(f);
        config.name = str(f, ctx);
        break;
      case 'platform':
        once(f);
        config.platform = str(f, ctx);
        break;
      case 'backend':
        once(f);
        config.backend = str(f, ctx);
        break;
      case 'max_batch_size':
        once(f);
        config.maxBatchSize = num(f, ctx, 'max_batch_size', { min: 0 });
        break;
      case 'default_model_filename':
        once(f);
        config.defaultModelFilename = str(f, ctx);
        break;
      case 'input':
        config.inputs.push(parseTensor(msg(f, ctx), ctx, 'input', f.line));
        break;
      case 'output':
        config.outputs.push(parseTensor(msg(f, ctx), ctx, 'output', f.line));
        break;
      case 'dynamic_batching': {
        once(f);
        const db: DynamicBatchingConfig = { preferredBatchSize: [], maxQueueDelayMicroseconds: 0 };
        for (const g of msg(f, ctx)) {
          if (g.name === 'preferred_batch_size')
            db.preferredBatchSize.push(num(g, ctx, 'preferred_batch_size', { min: 1 }));
          else if (g.name === 'max_queue_delay_microseconds')
            db.maxQueueDelayMicroseconds = num(g, ctx, 'max_queue_delay_microseconds', { min: 0 });
          else if (g.name === 'default_queue_policy') {
            for (const h of msg(g, ctx)) {
              if (h.name === 'default_timeout_microseconds')
                db.defaultTimeoutMicroseconds = num(h, ctx, 'default_timeout_microseconds', { min: 0 });
              else if (h.name === 'max_queue_size')
                db.maxQueueSize = num(h, ctx, 'max_queue_size', { min: 0 });
              else
                ctx.warnings.push(
                  `${file}:${h.line}: dynamic_batching.default_queue_policy.${h.name} is ignored`,
                );
            }
          } else ctx.warnings.push(`${file}:${g.line}: dynamic_batching.${g.name} is ignored`);
        }
        config.dynamicBatching = db;
        break;
      }
      case 'instance_group': {
        const ig: InstanceGroupConfig = { kind: 'KIND_AUTO' };
        for (const g of msg(f, ctx)) {
          if (g.name === 'count') ig.count = num(g, ctx, 'instance_group count', { min: 0 });
          else if (g.name === 'kind')
            ig.kind = ident(g, ctx, ['KIND_AUTO', 'KIND_GPU', 'KIND_CPU', 'KIND_MODEL']);
          else if (g.name === 'name') ig.name = str(g, ctx);
          else ctx.warnings.push(`${file}:${g.line}: instance_group.${g.name} is ignored`);
        }
        if (ig.kind === 'KIND_GPU')
          ctx.warnings.push(
            `${file}:${f.line}: instance_group kind KIND_GPU runs on CPU here (onnxruntime-node CPU provider)`,
          );
        config.instanceGroups.push(ig);
        break;
      }
      case 'version_policy': {
        once(f);
        const inner = msg(f, ctx);
        if (inner.length !== 1)
          throw badInput('bad version_policy', {
            file,
            line: f.line,
            expected: 'exactly one of latest, all, specific',
            found: inner.length === 0 ? 'none' : inner.map((g) => g.name).join(', '),
          });
        const g = inner[0]!;
        const body = msg(g, ctx);
        if (g.name === 'latest') {
          const n = body.find((h) => h.name === 'num_versions');
          config.versionPolicy = {
            latest: { numVersions: n === undefined ? 1 : num(n, ctx, 'num_versions', { min: 1 }) },
          };
        } else if (g.name === 'all') config.versionPolicy = { all: {} };
        else if (g.name === 'specific')
          config.versionPolicy = {
            specific: {
              versions: body
                .filter((h) => h.name === 'versions')
                .map((h) => num(h, ctx, 'version', { min: 1 })),
            },
          };
        else
          throw badInput('bad version_policy', {
            file,
            line: g.line,
            expected: 'latest, all or specific',
            found: g.name,
          });
        break;
      }
      case 'parameters': {
        const body = msg(f, ctx);
        const k = body.find((h) => h.name === 'key');
        const v = body.find((h) => h.name === 'value');
        if (k === undefined || v === undefined)
          throw badInput('bad parameters entry', {
            file,
            line: f.line,
            expected: 'parameters { key: "k" value: { string_value: "v" } }',
            found: body.map((h) => h.name).join(', ') || 'nothing',
          });
        let value: string;
        if (v.value.kind === 'message') {
          const sv = v.value.fields.find((h) => h.name === 'string_value');
          if (sv === undefined)
            throw badInput('bad parameters value', {
              file,
              line: v.line,
              expected: '{ string_value: "..." }',
              found: 'no string_value',
            });
          value = str(sv, ctx);
        } else value = str(v, ctx);
        config.parameters[str(k, ctx)] = value;
        break;
      }
      case 'ensemble_scheduling':
        once(f);
        config.ensembleScheduling = parseEnsembleScheduling(f, ctx);
        break;
      default:
        config.extra.push(f);
        ctx.warnings.push(`${file}:${f.line}: field '${f.name}' is not interpreted by drivegate (kept)`);
    }
  }
  if (config.name === '')
    throw badInput('the config has no name', {
      file,
      field: 'name',
      expected: 'name: "<model>"',
      found: 'nothing',
    });
  if (defaultName !== undefined && config.name !== defaultName) {
    throw badInput('the config name differs from its directory', {
      file,
      field: 'name',
      expected: JSON.stringify(defaultName),
      found: JSON.stringify(config.name),
    });
  }
  return { config, warnings: ctx.warnings };
}

const S = (name: string, value: string): PbField => ({ name, value: { kind: 'string', value }, line: 0 });
const N = (name: string, n: number): PbField => ({
  name,
  value: { kind: 'number', text: String(n) },
  line: 0,
});
const I = (name: string, value: string): PbField => ({ name, value: { kind: 'ident', value }, line: 0 });
const M = (name: string, fields: PbField[]): PbField => ({
  name,
  value: { kind: 'message', fields },
  line: 0,
});

function tensorFields(t: TensorConfig): PbField[] {
  const out = [S('name', t.name), I('data_type', t.dataType)];
  if (t.format !== undefined) out.push(I('format', t.format));
  for (const d of t.dims) out.push(N('dims', d));
  if (t.reshape !== undefined)
    out.push(
      M(
        'reshape',
        t.reshape.map((d) => N('shape', d)),
      ),
    );
  return [...out, ...(t.extra ?? [])];
}

/** The config as a text-format field tree (the order Triton's examples use). */
export function modelConfigToPb(c: ModelConfig): PbMessage {
  const out: PbMessage = [S('name', c.name)];
  if (c.platform !== undefined) out.push(S('platform', c.platform));
  if (c.backend !== undefined) out.push(S('backend', c.backend));
  out.push(N('max_batch_size', c.maxBatchSize));
  if (c.defaultModelFilename !== undefined) out.push(S('default_model_filename', c.defaultModelFilename));
  if (c.versionPolicy !== undefined) {
    const vp = c.versionPolicy;
    const inner =
      'latest' in vp
        ? M('latest', [N('num_versions', vp.latest.numVersions)])
        : 'all' in vp
          ? M('all', [])
          : M(
              'specific',
              vp.specific.versions.map((v) => N('versions', v)),
            );
    out.push(M('version_policy', [inner]));
  }
  for (const t of c.inputs) out.push(M('input', tensorFields(t)));
  for (const t of c.outputs) out.push(M('output', tensorFields(t)));
  for (const g of c.instanceGroups) {
    const f: PbField[] = [];
    if (g.name !== undefined) f.push(S('name', g.name));
    if (g.count !== undefined) f.push(N('count', g.count));
    f.push(I('kind', g.kind));
    out.push(M('instance_group', f));
  }
  if (c.dynamicBatching !== undefined) {
    const d = c.dynamicBatching;
    const f: PbField[] = d.preferredBatchSize.map((b) => N('preferred_batch_size', b));
    f.push(N('max_queue_delay_microseconds', d.maxQueueDelayMicroseconds));
    const qp: PbField[] = [];
    if (d.defaultTimeoutMicroseconds !== undefined)
      qp.push(N('default_timeout_microseconds', d.defaultTimeoutMicroseconds));
    if (d.maxQueueSize !== undefined) qp.push(N('max_queue_size', d.maxQueueSize));
    if (qp.length > 0) f.push(M('default_queue_policy', qp));
    out.push(M('dynamic_batching', f));
  }
  for (const [k, v] of Object.entries(c.parameters))
    out.push(M('parameters', [S('key', k), M('value', [S('string_value', v)])]));
  if (c.ensembleScheduling !== undefined) {
    const entries = (name: string, m: Record<string, string>): PbField[] =>
      Object.entries(m).map(([k, v]) => M(name, [S('key', k), S('value', v)]));
    out.push(
      M(
        'ensemble_scheduling',
        c.ensembleScheduling.steps.map((s) =>
          M('step', [
            S('model_name', s.modelName),
            N('model_version', s.modelVersion),
            ...entries('input_map', s.inputMap),
            ...entries('output_map', s.outputMap),
          ]),
        ),
      ),
    );
  }
  return [...out, ...c.extra];
}

/** Writes a model config as config.pbtxt text that Triton and parseModelConfig both read. */
export function writeModelConfig(c: ModelConfig): string {
  return writePbtxt(modelConfigToPb(c));
}

/** The API datatype (FP32, INT64, BYTES...) of a config data type. */
export function apiDatatype(t: ConfigDataType): string {
  return t === 'TYPE_STRING' ? 'BYTES' : t.slice('TYPE_'.length);
}

/** The config data type of an API datatype. */
export function configDataType(datatype: string): ConfigDataType | undefined {
  const t = datatype === 'BYTES' ? 'TYPE_STRING' : `TYPE_${datatype}`;
  return (CONFIG_DATA_TYPES as readonly string[]).includes(t) ? (t as ConfigDataType) : undefined;
}

/** The config as JSON the way Triton's GET .../config returns it (snake_case fields). */
export function modelConfigJson(c: ModelConfig): Record<string, unknown> {
  const tensor = (t: TensorConfig): Record<string, unknown> => ({
    name: t.name,
    data_type: t.dataType,
    dims: t.dims,
    ...(t.reshape !== undefined ? { reshape: { shape: t.reshape } } : {}),
    ...(t.format !== undefined ? { format: t.format } : {}),
  });
  return {
    name: c.name,
    platform: c.platform ?? '',
    backend: c.backend ?? '',
    max_batch_size: c.maxBatchSize,
    input: c.inputs.map(tensor),
    output: c.outputs.map(tensor),
    instance_group: c.instanceGroups.map((g) => ({
      ...(g.name !== undefined ? { name: g.name } : {}),
      count: g.count ?? 1,
      kind: g.kind,
    })),
    ...(c.versionPolicy !== undefined
      ? {
          version_policy:
            'latest' in c.versionPolicy
              ? { latest: { num_versions: c.versionPolicy.latest.numVersions } }
              : 'all' in c.versionPolicy
                ? { all: {} }
                : { specific: { versions: c.versionPolicy.specific.versions } },
        }
      : {}),
    ...(c.dynamicBatching !== undefined
      ? {
          dynamic_batching: {
            preferred_batch_size: c.dynamicBatching.preferredBatchSize,
            max_queue_delay_microseconds: c.dynamicBatching.maxQueueDelayMicroseconds,
          },
        }
      : {}),
    parameters: Object.fromEntries(Object.entries(c.parameters).map(([k, v]) => [k, { string_value: v }])),
    ...(c.ensembleScheduling !== undefined
      ? {
          ensemble_scheduling: {
            step: c.ensembleScheduling.steps.map((s) => ({
              model_name: s.modelName,
              model_version: s.modelVersion,
              input_map: s.inputMap,
              output_map: s.outputMap,
            })),
          },
        }
      : {}),
  };
}
