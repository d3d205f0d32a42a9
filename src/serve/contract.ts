/**
 * The contract smoke the packaging workflow runs on a pack's model repository: start the server,
 * send one known request, and check the response against the inference config (input name, type
 * and size; the decoder's output names, dtypes, shapes and value ranges), then stop. The result is
 * plain JSON for export_report.json.
 */
import { asDrivegateError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/log.js';
import { loadInferenceConfig, type InferenceConfig } from '../runtime/config.js';
import { numberAt, type TensorData } from '../runtime/tensor.js';
import { binaryInferBody, decodeInferResponse, V2Client } from './client.js';
import { startServer, type RunningServer } from './server.js';

/** One check of the contract smoke. */
export interface ContractCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** The result of a contract smoke (JSON-serialisable). */
export interface ContractSmokeResult {
  ok: boolean;
  repository: string;
  model: string | null;
  version: string | null;
  /** Wall time of the one inference request through HTTP, in ms. */
  latency_ms: number | null;
  checks: ContractCheck[];
  /** Config fields the server ignored. */
  warnings: string[];
  /** Set when the smoke could not run at all (server did not start, no model). */
  error?: string;
}

/** Options of contractSmoke. */
export interface ContractSmokeOptions {
  /** The model of the repository to check (default: the config's model.name, else the only model). */
  model?: string;
  log?: Logger;
}

interface OutputExpectation {
  name: string;
  shape: Array<number | null>;
  datatypes: string[];
  range?: [number, number];
  integer?: boolean;
}

/** What the inference config says the outputs must look like for a batch of 1. */
function expectations(cfg: InferenceConfig): OutputExpectation[] {
  const nClasses = Object.keys(cfg.classes).length;
  const o = cfg.output;
  if (o.decoder === 'centernet') {
    const h = Math.ceil(cfg.input.height / o.stride);
    const w = Math.ceil(cfg.input.width / o.stride);
    return [
      {
        name: o.heatmap,
        shape: [1, nClasses, h, w],
        datatypes: ['FP32'],
        ...(o.heatmap_activation === 'none' ? { range: [0, 1] as [number, number] } : {}),
      },
      { name: o.wh, shape: [1, 2, h, w], datatypes: ['FP32'] },
      { name: o.offset, shape: [1, 2, h, w], datatypes: ['FP32'] },
    ];
  }
  const list: OutputExpectation[] = [
    { name: o.boxes, shape: [1, null, 4], datatypes: ['FP32'] },
    {
      name: o.scores,
      shape: o.classes !== undefined ? [1, null] : [1, null, nClasses],
      datatypes: ['FP32'],
      range: [0, 1],
    },
  ];
  if (o.classes !== undefined)
    list.push({
      name: o.classes,
      shape: [1, null],
      datatypes: ['INT64', 'INT32', 'FP32'],
      range: [0, nClasses - 1],
      integer: true,
    });
  return list;
}

/** A deterministic image-like input: a gradient of pixel values, normalised as the config says. */
function knownInput(cfg: InferenceConfig): Float32Array {
  const { width: W, height: H } = cfg.input;
  const { scale, mean, std } = cfg.preprocess.normalize;
  const data = new Float32Array(3 * H * W);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const px = (x * 7 + y * 3 + c * 50) % 256;
        data[(c * H + y) * W + x] = (px * scale - mean[c]!) / std[c]!;
      }
  return data;
}

function checkOutput(
  e: OutputExpectation,
  t: (TensorData & { datatype: string }) | undefined,
): ContractCheck[] {
  if (t === undefined) return [{ name: `output ${e.name}`, ok: false, detail: 'missing from the response' }];
  const out: ContractCheck[] = [];
  const shapeOk = t.dims.length === e.shape.length && e.shape.every((d, i) => d === null || d === t.dims[i]);
  out.push({
    name: `output ${e.name} shape`,
    ok: shapeOk,
    detail: `expected [${e.shape.map((d) => d ?? '*').join(',')}], found [${t.dims.join(',')}]`,
  });
  out.push({
    name: `output ${e.name} datatype`,
    ok: e.datatypes.includes(t.datatype),
    detail: `expected ${e.datatypes.join(' or ')}, found ${t.datatype}`,
  });
  let min = Infinity;
  let max = -Infinity;
  let bad = 0;
  for (let i = 0; i < t.data.length; i++) {
    const v = numberAt(t, i);
    if (!Number.isFinite(v) || (e.integer === true && !Number.isInteger(v))) bad++;
    else {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  const inRange =
    e.range === undefined || t.data.length === 0 || (min >= e.range[0] - 1e-6 && max <= e.range[1] + 1e-6);
  out.push({
    name: `output ${e.name} values`,
    ok: bad === 0 && inRange,
    detail:
      `${t.data.length} values in [${t.data.length > 0 ? `${min}, ${max}` : ''}]` +
      (bad > 0 ? `, ${bad} not finite${e.integer === true ? ' or not integer' : ''}` : '') +
      (e.range !== undefined ? `; expected within [${e.range[0]}, ${e.range[1]}]` : '; expected finite'),
  });
  return out;
}

/**
 * Starts a server on `repoDir` (ephemeral loopback port), sends one known request to the model and
 * checks the answer against the inference config (an object or a path to inference_config.json).
 * Never throws for a failed contract: the result says what failed.
 */
export async function contractSmoke(
  repoDir: string,
  inferenceConfig: InferenceConfig | string,
  options: ContractSmokeOptions = {},
): Promise<ContractSmokeResult> {
  const result: ContractSmokeResult = {
    ok: false,
    repository: repoDir,
    model: null,
    version: null,
    latency_ms: null,
    checks: [],
    warnings: [],
  };
  let server: RunningServer | undefined;
  let client: V2Client | undefined;
  try {
    const cfg = typeof inferenceConfig === 'string' ? loadInferenceConfig(inferenceConfig) : inferenceConfig;
    server = await startServer({
      repository: repoDir,
      port: 0,
      host: '127.0.0.1',
      log: options.log ?? createLogger({ level: 'warn' }),
    });
    result.warnings = server.warnings;
    const wanted = options.model ?? cfg.model?.name;
    const state =
      (wanted !== undefined ? server.models.find((m) => m.name === wanted) : undefined) ??
      (server.models.length === 1 ? server.models[0] : undefined);
    if (state === undefined) {
      throw new Error(
        `no model to check: the repository has ${server.models.map((m) => m.name).join(', ') || 'no models'}${wanted !== undefined ? `, none named '${wanted}'` : ''}`,
      );
    }
    result.model = state.name;
    result.version = state.versions[state.versions.length - 1] ?? null;
    result.checks.push({
      name: 'model ready',
      ok: state.ready,
      detail: state.ready ? `versions ${state.versions.join(', ')}` : (state.reason ?? 'not ready'),
    });
    if (!state.ready) return result;
    client = new V2Client(server.url, 2);
    const meta = (await client.getJson(`/v2/models/${encodeURIComponent(state.name)}`)) as {
      inputs: Array<{ name: string; datatype: string; shape: number[] }>;
    };
    const { name, width: W, height: H } = cfg.input;
    const input = meta.inputs.find((i) => i.name === name);
    const want = [1, 3, H, W];
    const inputOk =
      input !== undefined &&
      input.datatype === 'FP32' &&
      input.shape.length === 4 &&
      input.shape.every((d, i) => d === -1 || d === want[i]);
    result.checks.push({
      name: `input ${name}`,
      ok: inputOk,
      detail: `expected FP32 [N,3,${H},${W}], found ${input === undefined ? `no such input (inputs: ${meta.inputs.map((i) => i.name).join(', ')})` : `${input.datatype} [${input.shape.join(',')}]`}`,
    });
    if (!inputOk) return result;
    const req = binaryInferBody(
      [{ name, datatype: 'FP32', shape: want, data: knownInput(cfg) }],
      'contract-smoke',
    );
    const t0 = performance.now();
    const reply = await client.send(
      'POST',
      `/v2/models/${encodeURIComponent(state.name)}/infer`,
      req.body,
      req.headers,
    );
    result.latency_ms = Math.round((performance.now() - t0) * 1000) / 1000;
    result.checks.push({ name: 'infer status', ok: reply.status === 200, detail: `HTTP ${reply.status}` });
    if (reply.status !== 200) {
      result.checks[result.checks.length - 1]!.detail += `: ${reply.body.toString('utf8').slice(0, 500)}`;
      return result;
    }
    const { outputs } = decodeInferResponse(reply);
    for (const e of expectations(cfg)) result.checks.push(...checkOutput(e, outputs[e.name]));
    result.ok = result.checks.every((c) => c.ok);
  } catch (err) {
    result.error = asDrivegateError(err).message;
  } finally {
    client?.close();
    await server?.close();
  }
  return result;
}
