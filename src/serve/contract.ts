/**
 * The contract smoke the packaging workflow runs on a pack's model repository: start the server,
 * send one known request, and check the response against the inference config (input name, type
 * and size; the decoder's output names, dtypes, shapes and value ranges), then stop. The result is
 * plain JSON for export_report.json. When the model is the config's pipeline ensemble (`ensemble` in
 * inference_config.json), raw images go through it instead, its IO and outputs are checked against the
 * config's description, and its detections are compared with the runtime's own pipeline
 * (the runtime's Detector over the ensemble's detector model) on the same images.
 */
import { asDrivegateError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/log.js';
import { join } from 'node:path';
import {
  classList,
  loadInferenceConfig,
  type EnsembleSpec,
  type InferenceConfig,
} from '../runtime/config.js';
import { Detector } from '../runtime/detector.js';
import type { RgbImage } from '../runtime/preprocess.js';
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
  /** For an ensemble: per raw image, its size and how its detections compare with the runtime's. */
  ensemble?: EnsembleComparison[];
}

/** One raw image through the ensemble against the runtime's decode of the same image. */
export interface EnsembleComparison {
  width: number;
  height: number;
  /** Detections of the ensemble (num_detections) and of the runtime. */
  detections: number;
  runtime_detections: number;
  /** Largest |difference| over matched rows (same rank): box coordinates in pixels, scores. */
  max_box_diff: number;
  max_score_diff: number;
  class_mismatches: number;
  latency_ms: number;
}

/** How close the ensemble's detections must be to the runtime's (float32 graph vs float64 JS). */
export const ENSEMBLE_TOLERANCE = { box_px: 1e-3, score: 1e-5 } as const;

/** Options of contractSmoke. */
export interface ContractSmokeOptions {
  /** The model of the repository to check (default: the config's model.name, else the only model). */
  model?: string;
  log?: Logger;
  /**
   * Raw images sent through an ensemble (default: one synthetic image of the input size, and one of
   * twice the size when the ensemble takes any size).
   */
  images?: RgbImage[];
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
    if (cfg.ensemble !== undefined && state.name === cfg.ensemble.name) {
      const configPath = typeof inferenceConfig === 'string' ? inferenceConfig : 'inference_config.json';
      await ensembleSmoke(
        client,
        repoDir,
        cfg,
        configPath,
        cfg.ensemble,
        options.images ?? syntheticImages(cfg),
        result,
      );
      result.ok = result.checks.length > 1 && result.checks.every((c) => c.ok);
      return result;
    }
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

/** A deterministic raw image: a gradient background with a few solid blocks (things to detect). */
function syntheticImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = (x * 7 + y * 3 + c * 50) % 256;
  for (const [fx, fy, fw, fh, v] of [
    [0.2, 0.45, 0.12, 0.15, 20],
    [0.55, 0.5, 0.2, 0.25, 230],
    [0.8, 0.4, 0.05, 0.2, 120],
  ] as const) {
    for (let y = Math.floor(fy * height); y < Math.floor((fy + fh) * height); y++)
      for (let x = Math.floor(fx * width); x < Math.floor((fx + fw) * width); x++)
        for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = (v + c * 30) % 256;
  }
  return { width, height, data };
}

function syntheticImages(cfg: InferenceConfig): RgbImage[] {
  const { width: W, height: H } = cfg.input;
  const out = [syntheticImage(W, H)];
  if (cfg.ensemble?.input.size === 'any') out.push(syntheticImage(W * 2, H * 2));
  return out;
}

function sameTensors(
  kind: string,
  want: EnsembleSpec['outputs'],
  found: Array<{ name: string; datatype: string; shape: number[] }>,
): ContractCheck {
  const show = (ts: Array<{ name: string; datatype: string; shape: number[] }>): string =>
    ts.map((t) => `${t.name} ${t.datatype} [${t.shape.join(',')}]`).join('; ');
  const ok =
    want.length === found.length &&
    want.every((w) => {
      const f = found.find((x) => x.name === w.name);
      return f !== undefined && f.datatype === w.datatype && f.shape.join(',') === w.shape.join(',');
    });
  return { name: `ensemble ${kind}`, ok, detail: `expected ${show(want)}; found ${show(found)}` };
}

/** The ensemble's rows as detections (first num_detections rows), with checks of every row's values. */
function ensembleRows(
  spec: EnsembleSpec,
  outputs: Record<string, TensorData & { datatype: string }>,
  img: RgbImage,
  classes: number,
  checks: ContractCheck[],
): Array<{ bbox: number[]; score: number; classIndex: number }> {
  const d = spec.detections;
  const tag = `(${img.width}x${img.height})`;
  for (const o of spec.outputs) {
    const t = outputs[o.name];
    const shape = [1, ...o.shape.slice(1)];
    checks.push({
      name: `ensemble output ${o.name} ${tag}`,
      ok: t !== undefined && t.datatype === o.datatype && t.dims.join(',') === shape.join(','),
      detail: `expected ${o.datatype} [${shape.join(',')}], found ${t === undefined ? 'nothing' : `${t.datatype} [${t.dims.join(',')}]`}`,
    });
  }
  const boxes = outputs[d.boxes];
  const scores = outputs[d.scores];
  const cls = outputs[d.classes];
  const count = outputs[d.count];
  if (boxes === undefined || scores === undefined || cls === undefined || count === undefined) return [];
  const n = numberAt(count, 0);
  const rows = scores.data.length;
  const bad: string[] = [];
  if (!(Number.isInteger(n) && n >= 0 && n <= rows)) bad.push(`num_detections ${n} not in [0, ${rows}]`);
  const out: Array<{ bbox: number[]; score: number; classIndex: number }> = [];
  for (let i = 0; i < rows && bad.length < 5; i++) {
    const s = numberAt(scores, i);
    const c = numberAt(cls, i);
    const b = [0, 1, 2, 3].map((j) => numberAt(boxes, i * 4 + j)) as [number, number, number, number];
    if (i < n) {
      if (!(s >= 0 && s <= 1)) bad.push(`row ${i}: score ${s} not in [0, 1]`);
      if (!(Number.isInteger(c) && c >= 0 && c < classes))
        bad.push(`row ${i}: class ${c} not in [0, ${classes - 1}]`);
      const eps = 1e-3;
      if (!(
        b[0] >= -eps &&
        b[1] >= -eps &&
        b[2] > 0 &&
        b[3] > 0 &&
        b[0] + b[2] <= img.width + eps &&
        b[1] + b[3] <= img.height + eps
      ))
        bad.push(`row ${i}: box [${b.join(',')}] not inside the ${img.width}x${img.height} image`);
      if (i > 0 && s > numberAt(scores, i - 1)) bad.push(`row ${i}: scores not descending`);
      out.push({ bbox: b, score: s, classIndex: c });
    } else if (s !== 0 || c !== -1 || b.some((v) => v !== 0))
      bad.push(`padding row ${i}: expected score 0, class -1, box 0`);
  }
  checks.push({
    name: `ensemble output values ${tag}`,
    ok: bad.length === 0,
    detail: bad.length === 0 ? `${n} detections of ${rows} rows; padding score 0, class -1` : bad.join('; '),
  });
  return out;
}

async function ensembleSmoke(
  client: V2Client,
  repoDir: string,
  cfg: InferenceConfig,
  configPath: string,
  spec: EnsembleSpec,
  images: RgbImage[],
  result: ContractSmokeResult,
): Promise<void> {
  const path = `/v2/models/${encodeURIComponent(spec.name)}`;
  const meta = (await client.getJson(path)) as {
    platform?: string;
    inputs: Array<{ name: string; datatype: string; shape: number[] }>;
    outputs: Array<{ name: string; datatype: string; shape: number[] }>;
  };
  result.checks.push({
    name: 'ensemble platform',
    ok: meta.platform === 'ensemble',
    detail: `expected ensemble, found ${String(meta.platform)}`,
  });
  result.checks.push(sameTensors('inputs', [spec.input], meta.inputs));
  result.checks.push(sameTensors('outputs', spec.outputs, meta.outputs));
  if (!result.checks.every((c) => c.ok)) return;
  // The detector the ensemble runs (its middle step), in-process, for the runtime's reference answer.
  const detector = spec.steps[1] ?? '';
  const versions = (await client.getJson(`/v2/models/${encodeURIComponent(detector)}`)) as {
    versions?: string[];
  };
  const version = versions.versions?.[versions.versions.length - 1] ?? '1';
  const runtime = await Detector.open(
    { modelPath: join(repoDir, detector, version, 'model.onnx'), configPath, config: cfg },
    { intraOpThreads: 1 },
  );
  const classes = classList(cfg).length;
  result.ensemble = [];
  try {
    for (const img of images) {
      const tag = `(${img.width}x${img.height})`;
      const req = binaryInferBody(
        [{ name: spec.input.name, datatype: 'UINT8', shape: [1, img.height, img.width, 3], data: img.data }],
        'contract-smoke',
      );
      const t0 = performance.now();
      const reply = await client.send('POST', `${path}/infer`, req.body, req.headers);
      const latency = Math.round((performance.now() - t0) * 1000) / 1000;
      result.latency_ms ??= latency;
      if (reply.status !== 200) {
        result.checks.push({
          name: `ensemble infer status ${tag}`,
          ok: false,
          detail: `HTTP ${reply.status}: ${reply.body.toString('utf8').slice(0, 500)}`,
        });
        return;
      }
      const rows = ensembleRows(spec, decodeInferResponse(reply).outputs, img, classes, result.checks);
      const ref = (await runtime.detect([img]))[0] ?? [];
      let boxDiff = 0;
      let scoreDiff = 0;
      let mismatches = 0;
      for (let i = 0; i < Math.min(rows.length, ref.length); i++) {
        const a = rows[i]!;
        const b = ref[i]!;
        for (let j = 0; j < 4; j++) boxDiff = Math.max(boxDiff, Math.abs(a.bbox[j]! - b.bbox[j]!));
        scoreDiff = Math.max(scoreDiff, Math.abs(a.score - b.score));
        if (a.classIndex !== b.classIndex) mismatches++;
      }
      const ok =
        rows.length === ref.length &&
        mismatches === 0 &&
        boxDiff <= ENSEMBLE_TOLERANCE.box_px &&
        scoreDiff <= ENSEMBLE_TOLERANCE.score;
      result.checks.push({
        name: `ensemble detections equal the runtime decode ${tag}`,
        ok,
        detail: `${rows.length} vs ${ref.length} detections, ${mismatches} class mismatches, max box diff ${boxDiff.toExponential(2)} px (<= ${ENSEMBLE_TOLERANCE.box_px}), max score diff ${scoreDiff.toExponential(2)} (<= ${ENSEMBLE_TOLERANCE.score})`,
      });
      result.ensemble.push({
        width: img.width,
        height: img.height,
        detections: rows.length,
        runtime_detections: ref.length,
        max_box_diff: boxDiff,
        max_score_diff: scoreDiff,
        class_mismatches: mismatches,
        latency_ms: latency,
      });
    }
  } finally {
    await runtime.close();
  }
}
