/**
 * A minimal v2 client over node:http with keep-alive, used by the contract smoke and the load
 * generator: JSON GETs and binary-extension infer requests (binary input, binary outputs).
 */
import { Agent, request } from 'node:http';
import { DrivegateError } from '../core/errors.js';
import type { TensorArray, TensorData } from '../runtime/tensor.js';
import { DATATYPE_SIZE, runtimeType } from './tensors.js';

/** A raw HTTP response. */
export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A keep-alive HTTP client bound to a base URL. */
export class V2Client {
  private readonly agent: Agent;
  private readonly base: URL;

  constructor(url: string, maxSockets = 64) {
    this.base = new URL(url);
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  /** Sends one request and collects the whole response. */
  send(
    method: string,
    path: string,
    body?: Uint8Array,
    headers: Record<string, string> = {},
  ): Promise<HttpReply> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          hostname: this.base.hostname,
          port: this.base.port,
          method,
          path,
          headers: {
            ...headers,
            ...(body !== undefined ? { 'Content-Length': String(body.byteLength) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (e) =>
        reject(new DrivegateError('UNAVAILABLE', `cannot reach ${this.base.origin}${path}: ${e.message}`)),
      );
      req.end(body);
    });
  }

  /** GET returning parsed JSON; a non-2xx status is an error carrying the server's message. */
  async getJson(path: string): Promise<unknown> {
    const r = await this.send('GET', path);
    const text = r.body.toString('utf8');
    if (r.status < 200 || r.status > 299) {
      let msg = text;
      try {
        msg = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // keep the raw text
      }
      throw new DrivegateError(
        r.status === 404 ? 'NOT_FOUND' : 'UNAVAILABLE',
        `GET ${path} answered ${r.status}: ${msg}`,
      );
    }
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  }

  /** Closes idle sockets. */
  close(): void {
    this.agent.destroy();
  }
}

/** A prepared binary infer request body. */
export interface InferBody {
  body: Buffer;
  headers: Record<string, string>;
}

/** Builds a binary-extension infer body for the given input tensors, asking for every output in binary. */
export function binaryInferBody(
  inputs: Array<{ name: string; datatype: string; shape: number[]; data: TensorArray }>,
  id?: string,
): InferBody {
  const head = Buffer.from(
    JSON.stringify({
      ...(id !== undefined ? { id } : {}),
      parameters: { binary_data_output: true },
      inputs: inputs.map((i) => ({
        name: i.name,
        shape: i.shape,
        datatype: i.datatype,
        parameters: { binary_data_size: i.data.byteLength },
      })),
    }),
  );
  const parts = [
    head,
    ...inputs.map((i) => new Uint8Array(i.data.buffer, i.data.byteOffset, i.data.byteLength)),
  ];
  return {
    body: Buffer.concat(parts),
    headers: {
      'Content-Type': 'application/octet-stream',
      'Inference-Header-Content-Length': String(head.length),
    },
  };
}

/** The outputs of an infer response (JSON or binary extension) as typed tensors, by name. */
export function decodeInferResponse(reply: HttpReply): {
  json: Record<string, unknown>;
  outputs: Record<string, TensorData & { datatype: string }>;
} {
  const hl = reply.headers['inference-header-content-length'];
  const n = typeof hl === 'string' ? Number(hl) : reply.body.length;
  const json = JSON.parse(reply.body.subarray(0, n).toString('utf8')) as Record<string, unknown>;
  if (reply.status !== 200)
    throw new DrivegateError(
      reply.status === 404 ? 'NOT_FOUND' : 'BAD_INPUT',
      `infer answered ${reply.status}: ${String(json['error'])}`,
    );
  const outputs: Record<string, TensorData & { datatype: string }> = {};
  let off = n;
  for (const o of (json['outputs'] ?? []) as Array<{
    name: string;
    datatype: string;
    shape: number[];
    data?: number[];
    parameters?: { binary_data_size?: number };
  }>) {
    const type = runtimeType(o.datatype) ?? 'float32';
    const size = o.parameters?.binary_data_size;
    let data: TensorArray;
    if (size !== undefined) {
      const bytes = reply.body.subarray(off, off + size);
      off += size;
      const copy = new Uint8Array(bytes).buffer;
      const el = DATATYPE_SIZE[o.datatype] ?? 4;
      data =
        type === 'int64'
          ? new BigInt64Array(copy, 0, size / el)
          : type === 'int32'
            ? new Int32Array(copy)
            : type === 'float64'
              ? new Float64Array(copy)
              : type === 'uint8' || type === 'bool'
                ? new Uint8Array(copy)
                : type === 'int8'
                  ? new Int8Array(copy)
                  : new Float32Array(copy);
    } else {
      data = Float64Array.from((o.data ?? []).map((v) => Number(v)));
    }
    outputs[o.name] = {
      type: size !== undefined ? type : 'float64',
      data,
      dims: o.shape,
      datatype: o.datatype,
    };
  }
  return { json, outputs };
}
