/**
 * A minimal v2 client over node:http with keep-alive, used by the contract smoke and the load
 * generator: JSON GETs and binary-extension infer requests (binary input, binary outputs).
 */
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
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

/** A request serialised once (request line, headers and body in one buffer) to send many times. */
export interface RawRequest {
  bytes: Buffer;
}

/** Serialises an HTTP/1.1 request with a Content-Length body for HttpConnection. */
export function rawRequest(
  host: string,
  method: string,
  path: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
): RawRequest {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}`];
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== 'content-length' && k.toLowerCase() !== 'host') lines.push(`${k}: ${v}`);
  }
  lines.push(`Content-Length: ${body.byteLength}`, '', '');
  return { bytes: Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), body]) };
}

/**
 * One keep-alive HTTP/1.1 connection that sends pre-serialised requests one at a time, written to
 * the socket in one piece (Nagle off), and reads responses with a Content-Length body. The load
 * generator uses it so that the client's own cost (node:http's request and response objects, about
 * 0.2 ms a round trip on a small machine) does not count as the server's, as perf_analyzer's C++
 * client does not. A chunked or length-less response is an error.
 */
export class HttpConnection {
  private socket: Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private waiting:
    { resolve: (r: HttpReply) => void; reject: (e: Error) => void; head?: ParsedHead } | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  private open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.host, port: this.port, noDelay: true });
      s.once('connect', () => {
        s.off('error', reject);
        s.on('error', (e) => this.fail(e));
        resolve(s);
      });
      s.once('error', reject);
      s.on('data', (c: Buffer) => this.onData(c));
      s.on('close', () => {
        if (this.socket === s) this.socket = undefined;
        this.fail(new Error('the server closed the connection'));
      });
    });
  }

  private fail(e: Error): void {
    const w = this.waiting;
    this.waiting = undefined;
    this.buf = Buffer.alloc(0);
    w?.reject(new DrivegateError('UNAVAILABLE', `cannot reach ${this.host}:${this.port}: ${e.message}`));
  }

  private onData(c: Buffer): void {
    this.buf = this.buf.length === 0 ? c : Buffer.concat([this.buf, c]);
    const w = this.waiting;
    if (w === undefined) return;
    if (w.head === undefined) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      try {
        w.head = parseHead(this.buf.subarray(0, end).toString('latin1'), end + 4);
      } catch (err) {
        this.socket?.destroy();
        this.fail(err as Error);
        return;
      }
    }
    const total = w.head.bodyStart + w.head.length;
    if (this.buf.length < total) return;
    const body = this.buf.subarray(w.head.bodyStart, total);
    const rest = this.buf.subarray(total);
    this.buf = rest.length > 0 ? Buffer.from(rest) : Buffer.alloc(0);
    this.waiting = undefined;
    if (w.head.close) {
      this.socket?.destroy();
      this.socket = undefined;
    }
    w.resolve({ status: w.head.status, headers: w.head.headers, body });
  }

  /** Sends one request and resolves with the whole response (connects or reconnects as needed). */
  async send(req: RawRequest): Promise<HttpReply> {
    if (this.waiting !== undefined)
      throw new DrivegateError('INTERNAL', 'HttpConnection: one request at a time');
    this.socket ??= await this.open();
    const s = this.socket;
    return new Promise<HttpReply>((resolve, reject) => {
      this.waiting = { resolve, reject };
      s.write(req.bytes);
    });
  }

  /** Closes the connection. */
  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }
}

interface ParsedHead {
  status: number;
  headers: Record<string, string>;
  bodyStart: number;
  length: number;
  close: boolean;
}

function parseHead(text: string, bodyStart: number): ParsedHead {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (m === null) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const cl = headers['content-length'];
  if (cl === undefined || !/^\d+$/.test(cl)) {
    throw new Error('the response has no Content-Length (chunked responses are not supported)');
  }
  return {
    status: Number(m[1]),
    headers,
    bodyStart,
    length: Number(cl),
    close: (headers['connection'] ?? '').toLowerCase() === 'close',
  };
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
