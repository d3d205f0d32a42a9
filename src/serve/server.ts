/**
 * The v2 inference server: KServe v2 / Open Inference Protocol over HTTP/REST as Triton implements
 * it (health, server and model metadata, readiness, model config, infer with JSON tensors and the
 * binary tensor data extension), plus Prometheus metrics at /metrics. Built on node:http; inference
 * runs in worker threads behind each model version's scheduler, so the event loop stays free.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DrivegateError, asDrivegateError, badInput } from '../core/errors.js';
import { createLogger, type Logger } from '../core/log.js';
import { monoMs, type RunTiming } from '../runtime/protocol.js';
import type { TensorData, TensorMap } from '../runtime/tensor.js';
import { elementCount } from '../runtime/tensor.js';
import { linkEnsembles } from './ensemble.js';
import { ServerMetrics } from './metrics.js';
import { modelConfigJson } from './model-config.js';
import { loadModel, unloadModel, type LoadedModel, type LoadedVersion, type TensorMeta } from './models.js';
import { scanRepository } from './repository.js';
import {
  DATATYPE_SIZE,
  datatypeOf,
  decodeBinaryData,
  decodeJsonData,
  encodeJsonData,
  viewBinaryData,
  runtimeType,
  tensorBytes,
} from './tensors.js';

/** The server name and version reported by GET /v2. */
export const SERVER_NAME = 'drivegate';
/** The server version reported by GET /v2. */
export const SERVER_VERSION = '0.1.0';
/** Protocol extensions this server implements. */
export const SERVER_EXTENSIONS = [
  'binary_tensor_data',
  'model_configuration',
  'model_repository(index only)',
];

/** Options of startServer. */
export interface ServeOptions {
  /** The Triton-layout model repository. */
  repository: string;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Port (default 8000; 0 = an ephemeral port). */
  port?: number;
  /** Largest request body in bytes (default 64 MiB); larger bodies get 413. */
  maxBodyBytes?: number;
  /** Default queue timeout of a request in ms (default 30000; config.pbtxt's default_queue_policy wins). */
  queueTimeoutMs?: number;
  /** Time to receive a whole request in ms (default 60000). */
  requestTimeoutMs?: number;
  /** onnxruntime intra-op threads per instance (default: cores / instances). */
  intraOpThreads?: number;
  /**
   * onnxruntime intra-op spinning in the instances' workers (default on, onnxruntime's default: lowest
   * latency on a machine the server has to itself; turn it off where other work shares the cores, since
   * a spinning thread keeps a core busy after every run). config.pbtxt's
   * `session.intra_op.allow_spinning` parameter wins.
   */
  allowSpinning?: boolean;
  /** Logger (default: stderr). */
  log?: Logger;
  /**
   * Called after each successful infer request with where its time went (benchmarks: see
   * bench/serve-overhead.ts). The server's own stamps cost a few clock reads per request when set,
   * nothing otherwise; the session pool stamps every run anyway (four clock reads in the worker, two
   * in the main thread, four numbers in the reply message).
   */
  trace?: (t: InferTrace) => void;
}

/**
 * One infer request's stamps on the process-wide monotonic clock (ms, see monoMs in
 * src/runtime/protocol.ts): the handler ran (headers parsed), the body was read, the request parsed
 * and checked, the execution's own stamps (when the runner gives them), the handler resumed with the
 * outputs, the response encoded, and `res.end` returned.
 */
export interface InferTrace {
  model: string;
  arrived: number;
  bodyRead: number;
  parsed: number;
  execution?: RunTiming;
  resumed: number;
  encoded: number;
  written: number;
}

/** A model's state as the server reports it. */
export interface ModelState {
  name: string;
  versions: string[];
  ready: boolean;
  reason?: string;
}

/** A running server. */
export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8000 */
  url: string;
  host: string;
  port: number;
  models: ModelState[];
  /** Config fields ignored while loading, per model. */
  warnings: string[];
  metrics: ServerMetrics;
  /** Stops accepting requests, unloads every model (worker threads end) and closes the socket. */
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function statusOf(err: unknown): { status: number; message: string } {
  if (err instanceof HttpError) return { status: err.status, message: err.message };
  const e = asDrivegateError(err);
  // Triton: INTERNAL 500, NOT_FOUND 404, UNAVAILABLE 503, everything else 400.
  const status =
    e.code === 'INTERNAL'
      ? 500
      : e.code === 'NOT_FOUND'
        ? 404
        : e.code === 'UNAVAILABLE' || e.code === 'TIMEOUT'
          ? 503
          : 400;
  return { status, message: e.message };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}

/** Reads a request body up to `max` bytes; a larger one is drained and answered 413. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > max * 16) {
      reject(new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${max} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) over = true;
      if (!over) chunks.push(c);
      else if (size > max * 16) req.destroy();
    });
    req.on('end', () => {
      if (over) reject(new HttpError(413, `request body of ${size} bytes exceeds the limit of ${max} bytes`));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on('error', (e) => reject(new HttpError(400, `cannot read the request body: ${e.message}`)));
  });
}

/** An infer body split at Inference-Header-Content-Length while it arrives. */
interface SplitBody {
  /** The JSON part. */
  head: Buffer;
  /** The binary part, in an ArrayBuffer of its own (so a single input can be handed on without a copy). */
  bin: Uint8Array;
}

/**
 * Reads an infer request body. With a Content-Length and a well-formed Inference-Header-Content-Length
 * no larger than it, the bytes are copied once, straight from the socket's chunks into the JSON part
 * and into an ArrayBuffer of the binary part's exact size (no concatenation, no second copy when the
 * tensor is decoded). Otherwise (no length, a malformed header) the whole body, for
 * parseInferRequest to judge.
 */
function readInferBody(
  req: IncomingMessage,
  max: number,
  headerLength: string | undefined,
): Promise<SplitBody | { whole: Buffer }> {
  const declared = req.headers['content-length'];
  const total = declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : undefined;
  const hl =
    headerLength !== undefined && /^\d+$/.test(headerLength.trim()) ? Number(headerLength.trim()) : undefined;
  if (total === undefined || hl === undefined || hl > total || total > max)
    return readBody(req, max).then((whole) => ({ whole }));
  return new Promise((resolve, reject) => {
    const head = Buffer.allocUnsafe(hl);
    // An ArrayBuffer of its own (allocUnsafeSlow does not pool), not zero-filled: every byte is
    // overwritten below before use ('end' checks that all `total` bytes arrived). Zeroing a 221 KB
    // tensor first cost ~20-35 us a request.
    const bin = Buffer.allocUnsafeSlow(total - hl);
    let off = 0;
    req.on('data', (c: Buffer) => {
      if (off + c.length > total) {
        off += c.length; // more than declared: node's parser does not let this happen; refused at 'end'
        return;
      }
      if (off >= hl) bin.set(c, off - hl);
      else if (off + c.length <= hl) c.copy(head, off);
      else {
        c.copy(head, off, 0, hl - off);
        bin.set(c.subarray(hl - off), 0);
      }
      off += c.length;
    });
    req.on('end', () => {
      if (off !== total)
        reject(new HttpError(400, `the body has ${off} bytes but Content-Length says ${total}`));
      else resolve({ head, bin });
    });
    req.on('error', (e) => reject(new HttpError(400, `cannot read the request body: ${e.message}`)));
  });
}

interface ParsedInput {
  name: string;
  tensor: TensorData;
}

interface ParsedRequest {
  id?: string;
  inputs: ParsedInput[];
  /** Requested outputs (all when undefined) with their binary flag. */
  outputs: Array<{ name: string; binary: boolean }>;
  batch: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fmtShape(s: readonly number[]): string {
  return `[${s.join(',')}]`;
}

/** Parses and checks an infer request body against a model (pure apart from the model's metadata). */
export function parseInferRequest(
  model: LoadedModel,
  body: Buffer,
  headerLength: string | undefined,
): ParsedRequest {
  let jsonPart: Buffer = body;
  let bin: Uint8Array = new Uint8Array(0);
  let raw = false;
  if (headerLength !== undefined) {
    if (!/^\d+$/.test(headerLength.trim())) {
      throw badInput(`bad Inference-Header-Content-Length header`, {
        expected: 'a non-negative integer',
        found: JSON.stringify(headerLength),
      });
    }
    const n = Number(headerLength.trim());
    if (n > body.length) {
      throw badInput('Inference-Header-Content-Length is larger than the body', {
        expected: `at most ${body.length}`,
        found: String(n),
      });
    }
    jsonPart = body.subarray(0, n);
    bin = body.subarray(n);
    raw = n === 0;
  }
  return parseInferParts(model, jsonPart, bin, raw);
}

/**
 * Parses and checks an infer request already split into its JSON part and binary part (`raw`: header
 * length 0, the binary part is the single input's bytes). A binary input that is the whole of an
 * ArrayBuffer of its own (as readInferBody delivers it) becomes the tensor without a copy; any other
 * is copied into a tensor of its own.
 */
export function parseInferParts(
  model: LoadedModel,
  jsonPart: Buffer,
  bin: Uint8Array,
  raw: boolean,
): ParsedRequest {
  let req: unknown;
  if (raw) {
    // Header length 0: the body is the raw bytes of the model's single input.
    if (model.inputs.length !== 1) {
      throw badInput(
        `a raw binary request needs a model with exactly one input; model '${model.name}' has ${model.inputs.length}`,
      );
    }
    const meta = model.inputs[0]!;
    const size = DATATYPE_SIZE[meta.datatype] ?? 0;
    const rest = meta.shape.slice(model.maxBatchSize > 0 ? 1 : 0);
    if (size === 0 || rest.some((d) => d < 0))
      throw badInput(`a raw binary request needs input '${meta.name}' to have a fixed shape and size`);
    const per = elementCount(rest) * size;
    if (bin.length === 0 || bin.length % per !== 0) {
      throw badInput(`raw binary input '${meta.name}' has ${bin.length} bytes`, {
        expected: `a multiple of ${per} bytes`,
      });
    }
    const shape = model.maxBatchSize > 0 ? [bin.length / per, ...rest] : rest;
    req = {
      inputs: [
        { name: meta.name, datatype: meta.datatype, shape, parameters: { binary_data_size: bin.length } },
      ],
    };
  } else {
    try {
      req = JSON.parse(jsonPart.toString('utf8'));
    } catch (err) {
      throw badInput(`malformed JSON in the request: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (!isObject(req))
    throw badInput('the request must be a JSON object', {
      found: Array.isArray(req) ? 'an array' : typeof req,
    });
  const out: ParsedRequest = { inputs: [], outputs: [], batch: 1 };
  if (req['id'] !== undefined) {
    if (typeof req['id'] !== 'string')
      throw badInput("'id' must be a string", { found: JSON.stringify(req['id']) });
    out.id = req['id'];
  }
  const params = req['parameters'];
  if (params !== undefined && !isObject(params)) throw badInput("'parameters' must be an object");
  const binaryAll = isObject(params) && params['binary_data_output'] === true;
  const inputs = req['inputs'];
  if (!Array.isArray(inputs))
    throw badInput("the request needs 'inputs', an array of tensors", {
      found: inputs === undefined ? 'nothing' : typeof inputs,
    });
  let binOffset = 0;
  const seen = new Set<string>();
  const batches = new Set<number>();
  inputs.forEach((inp: unknown, i: number) => {
    if (!isObject(inp)) throw badInput(`inputs[${i}] must be an object`);
    const name = inp['name'];
    if (typeof name !== 'string') throw badInput(`inputs[${i}] has no 'name' string`);
    const meta = model.inputs.find((m) => m.name === name);
    if (meta === undefined) {
      throw badInput(`unexpected inference input '${name}' for model '${model.name}'`, {
        expected: `one of ${model.inputs.map((m) => m.name).join(', ')}`,
      });
    }
    if (seen.has(name)) throw badInput(`input '${name}' is given twice`);
    seen.add(name);
    const datatype = inp['datatype'];
    if (typeof datatype !== 'string') throw badInput(`input '${name}' has no 'datatype' string`);
    if (datatype !== meta.datatype) {
      throw badInput(
        `inference input '${name}' data-type is '${datatype}', but model '${model.name}' expects '${meta.datatype}'`,
      );
    }
    const shape = inp['shape'];
    if (
      !Array.isArray(shape) ||
      !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)
    ) {
      throw badInput(`input '${name}' needs 'shape', an array of non-negative integers`, {
        found: JSON.stringify(shape),
      });
    }
    const dims = shape as number[];
    const okShape =
      dims.length === meta.shape.length && dims.every((d, k) => meta.shape[k] === -1 || meta.shape[k] === d);
    if (!okShape) {
      throw badInput(
        `unexpected shape for input '${name}' for model '${model.name}'. Expected ${fmtShape(meta.shape)}, got ${fmtShape(dims)}`,
      );
    }
    if (model.maxBatchSize > 0) {
      const b = dims[0]!;
      if (b < 1 || b > model.maxBatchSize) {
        throw badInput(`inference request batch-size must be <= ${model.maxBatchSize} for '${model.name}'`, {
          field: `${name}.shape[0]`,
          found: String(b),
        });
      }
      batches.add(b);
      out.batch = b;
    }
    if (runtimeType(datatype) === undefined)
      throw badInput(`input '${name}': datatype ${datatype} is not supported by this server`);
    const count = elementCount(dims);
    const ip = inp['parameters'];
    if (ip !== undefined && !isObject(ip)) throw badInput(`input '${name}': 'parameters' must be an object`);
    const bds = isObject(ip) ? ip['binary_data_size'] : undefined;
    let data;
    if (bds !== undefined) {
      if (typeof bds !== 'number' || !Number.isInteger(bds) || bds < 0)
        throw badInput(`input '${name}': binary_data_size must be a non-negative integer`, {
          found: JSON.stringify(bds),
        });
      if (inp['data'] !== undefined) throw badInput(`input '${name}' has both 'data' and binary_data_size`);
      if (binOffset + bds > bin.length) {
        throw badInput(`input '${name}': binary_data_size ${bds} runs past the end of the body`, {
          expected: `at most ${bin.length - binOffset} bytes left`,
        });
      }
      data =
        bds === bin.byteLength && bin.byteOffset === 0 && bin.byteLength === bin.buffer.byteLength
          ? viewBinaryData(bin, datatype, count, `input '${name}'`)
          : decodeBinaryData(bin.subarray(binOffset, binOffset + bds), datatype, count, `input '${name}'`);
      binOffset += bds;
    } else {
      if (inp['data'] === undefined)
        throw badInput(`input '${name}' has no 'data' (and no binary_data_size parameter)`);
      data = decodeJsonData(inp['data'], datatype, count, `input '${name}'`);
    }
    const modelDims =
      meta.reshape !== undefined
        ? model.maxBatchSize > 0
          ? [dims[0]!, ...meta.reshape]
          : [...meta.reshape]
        : dims;
    out.inputs.push({ name, tensor: { type: runtimeType(datatype)!, data, dims: modelDims } });
  });
  if (binOffset !== bin.length) {
    throw badInput(`the binary part of the body has ${bin.length - binOffset} bytes that no input claims`, {
      expected: `${binOffset} bytes of binary data`,
      found: `${bin.length}`,
    });
  }
  const missing = model.inputs.filter((m) => !seen.has(m.name)).map((m) => m.name);
  if (missing.length > 0) {
    throw badInput(
      `expected ${model.inputs.length} inputs but got ${inputs.length} inputs for model '${model.name}'; missing: ${missing.join(', ')}`,
    );
  }
  if (batches.size > 1) throw badInput(`the inputs disagree on the batch size: ${[...batches].join(', ')}`);
  const outputs = req['outputs'];
  if (outputs === undefined) {
    out.outputs = model.outputs.map((m) => ({ name: m.name, binary: binaryAll }));
  } else {
    if (!Array.isArray(outputs)) throw badInput("'outputs' must be an array");
    outputs.forEach((o: unknown, i: number) => {
      if (!isObject(o) || typeof o['name'] !== 'string')
        throw badInput(`outputs[${i}] needs a 'name' string`);
      const name = o['name'];
      if (!model.outputs.some((m) => m.name === name)) {
        throw badInput(`unexpected inference output '${name}' for model '${model.name}'`, {
          expected: `one of ${model.outputs.map((m) => m.name).join(', ')}`,
        });
      }
      const op = o['parameters'];
      if (op !== undefined && !isObject(op))
        throw badInput(`output '${name}': 'parameters' must be an object`);
      const bd = isObject(op) ? op['binary_data'] : undefined;
      if (bd !== undefined && typeof bd !== 'boolean')
        throw badInput(`output '${name}': binary_data must be a boolean`, { found: JSON.stringify(bd) });
      out.outputs.push({ name, binary: bd ?? binaryAll });
    });
  }
  return out;
}

/**
 * Encodes an infer response: JSON, or JSON + binary tensors with its header length. The body is
 * allocated once at its final size (not zero-filled) and the JSON and tensors are written into it (no
 * intermediate JSON buffer, no Buffer.concat).
 */
export function encodeInferResponse(
  model: string,
  version: string,
  id: string | undefined,
  outputs: TensorMap,
  wanted: Array<{ name: string; binary: boolean }>,
): { body: Buffer; headerLength?: number } {
  const binaries: Uint8Array[] = [];
  const list = wanted.map(({ name, binary }) => {
    const t = outputs[name];
    if (t === undefined) throw new DrivegateError('INTERNAL', `the model did not return output '${name}'`);
    const base = { name, datatype: datatypeOf(t), shape: t.dims };
    if (binary) {
      const bytes = tensorBytes(t);
      binaries.push(bytes);
      return { ...base, parameters: { binary_data_size: bytes.byteLength } };
    }
    return { ...base, data: encodeJsonData(t) };
  });
  const text = JSON.stringify({
    model_name: model,
    model_version: version,
    ...(id !== undefined ? { id } : {}),
    outputs: list,
  });
  if (binaries.length === 0) return { body: Buffer.from(text) };
  const headerLength = Buffer.byteLength(text);
  const body = Buffer.allocUnsafe(headerLength + binaries.reduce((a, b) => a + b.byteLength, 0));
  let off = body.write(text, 0, 'utf8');
  for (const b of binaries) {
    body.set(b, off);
    off += b.byteLength;
  }
  return { body, headerLength };
}

/**
 * Starts the server on a model repository: scans it, loads every model (a model that fails to load
 * is reported not ready, the others serve), listens. Resolves once it accepts requests.
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const log = options.log ?? createLogger();
  const host = options.host ?? '127.0.0.1';
  const maxBody = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const metrics = new ServerMetrics();
  const scanned = scanRepository(options.repository);
  const warnings = scanned.flatMap((m) => m.warnings);
  for (const w of warnings) log.warn('config.pbtxt', { warning: w });
  const models = new Map<string, LoadedModel>();
  for (const m of scanned) {
    const loaded = await loadModel(m, {
      queueTimeoutMs: options.queueTimeoutMs ?? 30_000,
      ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
      ...(options.allowSpinning !== undefined ? { allowSpinning: options.allowSpinning } : {}),
      onExecution: (model, version, batch) => metrics.recordExecution(model, version, batch),
    });
    models.set(m.name, loaded);
    for (const v of loaded.versions.keys()) metrics.stats(m.name, v);
    if (loaded.error !== undefined)
      log.error('model failed to load', { model: m.name, error: loaded.error.message });
    else log.info('model loaded', { model: m.name, versions: [...loaded.versions.keys()] });
  }
  // Ensembles: linked to their composing models once those are loaded (src/serve/ensemble.ts).
  for (const e of linkEnsembles(models, scanned, {
    queueTimeoutMs: options.queueTimeoutMs ?? 30_000,
    onExecution: (model, version, batch) => metrics.recordExecution(model, version, batch),
  })) {
    for (const v of e.versions.keys()) metrics.stats(e.name, v);
    if (e.error !== undefined)
      log.error('ensemble failed to load', { model: e.name, error: e.error.message });
    else log.info('ensemble linked', { model: e.name, versions: [...e.versions.keys()] });
  }

  const findModel = (
    name: string,
    version: string | undefined,
  ): { model: LoadedModel; version: LoadedVersion | undefined } => {
    const model = models.get(name);
    if (model === undefined)
      throw new DrivegateError('NOT_FOUND', `Request for unknown model: '${name}' is not found`);
    if (version === undefined) {
      const vs = [...model.versions.values()];
      return { model, version: vs[vs.length - 1] };
    }
    const v = model.versions.get(version);
    if (v === undefined) {
      throw new DrivegateError(
        'NOT_FOUND',
        `Request for unknown model: '${name}' version ${version} is not found`,
      );
    }
    return { model, version: v };
  };

  const modelReady = (m: LoadedModel): boolean => m.error === undefined && m.versions.size > 0;

  const metadataTensor = (t: TensorMeta): Record<string, unknown> => ({
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
  });

  async function infer(
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    version: string | undefined,
  ): Promise<void> {
    const started = performance.now();
    const trace = options.trace;
    const arrived = trace !== undefined ? monoMs() : 0;
    const h = req.headers['inference-header-content-length'];
    const headerLength = Array.isArray(h) ? h[0] : h;
    const body = await readInferBody(req, maxBody, headerLength);
    const bodyRead = trace !== undefined ? monoMs() : 0;
    const { model, version: v } = findModel(name, version);
    if (v === undefined || !modelReady(model)) {
      throw new DrivegateError(
        'UNAVAILABLE',
        `model '${name}' is not ready${model.error !== undefined ? `: ${model.error.message}` : ''}`,
      );
    }
    let ok = false;
    let queueUs = 0;
    let computeUs = 0;
    try {
      const parsed =
        'whole' in body
          ? parseInferRequest(model, body.whole, headerLength)
          : parseInferParts(model, body.head, body.bin, body.head.length === 0);
      const feeds: TensorMap = {};
      for (const i of parsed.inputs) feeds[i.name] = i.tensor;
      const parsedAt = trace !== undefined ? monoMs() : 0;
      const result = await v.scheduler.submit(feeds, parsed.batch);
      const resumed = trace !== undefined ? monoMs() : 0;
      queueUs = result.queueUs;
      computeUs = result.computeUs;
      const enc = encodeInferResponse(name, v.version, parsed.id, result.outputs, parsed.outputs);
      const encoded = trace !== undefined ? monoMs() : 0;
      const headers: Record<string, string | number> = { 'Content-Length': enc.body.length };
      if (enc.headerLength !== undefined) {
        headers['Content-Type'] = 'application/octet-stream';
        headers['Inference-Header-Content-Length'] = enc.headerLength;
      } else headers['Content-Type'] = JSON_TYPE;
      res.writeHead(200, headers);
      res.end(enc.body);
      ok = true;
      trace?.({
        model: name,
        arrived,
        bodyRead,
        parsed: parsedAt,
        ...(result.timing !== undefined ? { execution: result.timing } : {}),
        resumed,
        encoded,
        written: monoMs(),
      });
    } finally {
      metrics.recordRequest(name, v.version, ok, (performance.now() - started) * 1000, queueUs, computeUs);
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const path = url.split('?')[0]!;
    let parts: string[];
    try {
      parts = path
        .split('/')
        .filter((s) => s !== '')
        .map((s) => decodeURIComponent(s));
    } catch {
      throw new HttpError(400, `bad percent-encoding in the path ${JSON.stringify(path)}`);
    }
    const method = req.method ?? 'GET';
    const need = (m: string): void => {
      if (method !== m) throw new HttpError(405, `method ${method} is not allowed on ${path}; use ${m}`);
    };
    if (parts.length === 1 && parts[0] === 'metrics') {
      need('GET');
      const text = metrics.render((m, v) => models.get(m)?.versions.get(v)?.scheduler.queued ?? 0);
      res.writeHead(200, {
        'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
      return;
    }
    if (parts[0] !== 'v2') throw new HttpError(404, `no route for ${path}`);
    if (parts.length === 1) {
      need('GET');
      sendJson(res, 200, { name: SERVER_NAME, version: SERVER_VERSION, extensions: SERVER_EXTENSIONS });
      return;
    }
    if (parts[1] === 'health' && parts.length === 3) {
      need('GET');
      if (parts[2] === 'live') return sendEmpty(res, 200);
      if (parts[2] === 'ready') return sendEmpty(res, [...models.values()].every(modelReady) ? 200 : 400);
      throw new HttpError(404, `no route for ${path}`);
    }
    if (parts[1] === 'repository' && parts[2] === 'index' && parts.length === 3) {
      need('POST');
      await readBody(req, maxBody);
      sendJson(
        res,
        200,
        [...models.values()].flatMap((m) =>
          m.versions.size === 0
            ? [{ name: m.name, state: 'UNAVAILABLE', reason: m.error?.message ?? '' }]
            : [...m.versions.keys()].map((v) => ({
                name: m.name,
                version: v,
                state: modelReady(m) ? 'READY' : 'UNAVAILABLE',
                reason: '',
              })),
        ),
      );
      return;
    }
    if (parts[1] === 'models' && parts.length >= 3) {
      const name = parts[2]!;
      let rest = parts.slice(3);
      let version: string | undefined;
      if (rest[0] === 'versions') {
        if (rest.length < 2) throw new HttpError(404, `no route for ${path}`);
        version = rest[1]!;
        rest = rest.slice(2);
      }
      if (rest.length === 0) {
        need('GET');
        const { model } = findModel(name, version);
        if (!modelReady(model)) {
          throw new DrivegateError(
            'UNAVAILABLE',
            `model '${name}' is not ready${model.error !== undefined ? `: ${model.error.message}` : ''}`,
          );
        }
        sendJson(res, 200, {
          name: model.name,
          versions: version !== undefined ? [version] : [...model.versions.keys()],
          platform: model.platform,
          inputs: model.inputs.map(metadataTensor),
          outputs: model.outputs.map(metadataTensor),
        });
        return;
      }
      if (rest.length === 1 && rest[0] === 'ready') {
        need('GET');
        const { model, version: v } = findModel(name, version);
        return sendEmpty(res, v !== undefined && modelReady(model) ? 200 : 400);
      }
      if (rest.length === 1 && rest[0] === 'config') {
        need('GET');
        const { model } = findModel(name, version);
        if (model.config === undefined)
          throw new DrivegateError(
            'UNAVAILABLE',
            `model '${name}' has no readable config: ${model.error?.message ?? ''}`,
          );
        sendJson(res, 200, modelConfigJson(model.config));
        return;
      }
      if (rest.length === 1 && rest[0] === 'infer') {
        need('POST');
        await infer(req, res, name, version);
        return;
      }
    }
    throw new HttpError(404, `no route for ${path}`);
  }

  const server: Server = createServer(
    { keepAlive: true, requestTimeout: options.requestTimeoutMs ?? 60_000 },
    (req, res) => {
      route(req, res).catch((err: unknown) => {
        const { status, message } = statusOf(err);
        if (status >= 500) log.error('request failed', { url: req.url, status, error: message });
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (status === 413 || !req.complete) res.setHeader('Connection', 'close');
        sendJson(res, status, { error: message });
      });
    },
  );
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) =>
      reject(
        new DrivegateError('UNAVAILABLE', `cannot listen on ${host}:${options.port ?? 8000}: ${e.message}`),
      ),
    );
    server.listen(options.port ?? 8000, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closed = false;
  return {
    url: `http://${urlHost}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    warnings,
    metrics,
    models: [...models.values()].map((m) => ({
      name: m.name,
      versions: [...m.versions.keys()],
      ready: modelReady(m),
      ...(m.error !== undefined ? { reason: m.error.message } : {}),
    })),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await Promise.all([...models.values()].map((m) => unloadModel(m)));
      server.closeAllConnections();
      await done;
    },
  };
}
