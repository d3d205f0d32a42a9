/**
 * A load generator for v2 servers in the manner of perf_analyzer's concurrency mode: for each
 * concurrency level, that many clients send infer requests back to back (binary tensors) for a
 * fixed time after a short warm-up; latency percentiles and throughput per level. Loopback only.
 */
import { DrivegateError } from '../core/errors.js';
import type { TensorArray } from '../runtime/tensor.js';
import { binaryInferBody, HttpConnection, rawRequest, V2Client, type RawRequest } from './client.js';
import { allocate, runtimeType } from './tensors.js';

/** Options of runServeBench. */
export interface ServeBenchOptions {
  url: string;
  model: string;
  version?: string;
  /** Concurrency levels (default 1, 2, 4, 8). */
  concurrency?: number[];
  /** Measured seconds per level (default 5, at most 60). */
  durationS?: number;
  /** Warm-up seconds per level, not measured (default min(1, duration / 4)). */
  warmupS?: number;
  /** Batch size of each request (default 1). */
  batch?: number;
  /** Shape per input for dims the metadata leaves variable besides the batch dim. */
  shapes?: Record<string, number[]>;
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
}

/** The result of one concurrency level. */
export interface ConcurrencyResult {
  concurrency: number;
  requests: number;
  errors: number;
  /** Successful requests per second. */
  throughput_rps: number;
  /** Inferences (requests x batch) per second. */
  inferences_per_s: number;
  latency_ms: LatencySummary;
}

/** The result of a sweep. */
export interface ServeBenchResult {
  url: string;
  model: string;
  version: string | null;
  batch: number;
  duration_s: number;
  results: ConcurrencyResult[];
  /** The first error message seen, if any request failed. */
  first_error?: string;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Summarises latencies (ms). */
export function summarise(latencies: number[]): LatencySummary {
  const s = [...latencies].sort((a, b) => a - b);
  const r = (v: number): number => Math.round(v * 1000) / 1000;
  return {
    p50: r(percentile(s, 50)),
    p90: r(percentile(s, 90)),
    p95: r(percentile(s, 95)),
    p99: r(percentile(s, 99)),
    mean: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)),
    max: r(s[s.length - 1] ?? Number.NaN),
  };
}

/** Refuses URLs that are not on the loopback interface. */
export function assertLoopback(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DrivegateError('USAGE', 'bad --url', {
      field: '--url',
      expected: 'http://127.0.0.1:PORT',
      found: JSON.stringify(url),
    });
  }
  const h = u.hostname.replace(/^\[|\]$/g, '');
  if (u.protocol !== 'http:' || !(h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h))) {
    throw new DrivegateError('USAGE', 'bench serve only drives servers on this machine', {
      field: '--url',
      expected: 'an http:// URL on 127.0.0.1, ::1 or localhost',
      found: JSON.stringify(url),
    });
  }
  return u;
}

function randomData(datatype: string, n: number): TensorArray {
  const t = runtimeType(datatype);
  if (t === undefined) throw new DrivegateError('USAGE', `cannot generate data of datatype ${datatype}`);
  const data = allocate(t, n);
  // Floats get values in [0, 1); integer and boolean tensors stay zero.
  if (data instanceof Float32Array || data instanceof Float64Array) {
    for (let i = 0; i < n; i++) data[i] = Math.random();
  }
  return data;
}

/** Runs the concurrency sweep against a live server. */
export async function runServeBench(o: ServeBenchOptions): Promise<ServeBenchResult> {
  const u = assertLoopback(o.url);
  const levels = o.concurrency ?? [1, 2, 4, 8];
  const duration = o.durationS ?? 5;
  const batch = o.batch ?? 1;
  if (
    levels.length === 0 ||
    levels.length > 16 ||
    levels.some((c) => !Number.isInteger(c) || c < 1 || c > 256)
  ) {
    throw new DrivegateError('USAGE', 'bad concurrency levels', {
      field: '--concurrency',
      expected: '1 to 16 integers in 1..256',
      found: levels.join(','),
    });
  }
  if (!(duration > 0 && duration <= 60))
    throw new DrivegateError('USAGE', 'bad duration', {
      field: '--duration',
      expected: 'seconds in (0, 60]',
      found: String(duration),
    });
  const warmup = o.warmupS ?? Math.min(1, duration / 4);
  const base = `/v2/models/${encodeURIComponent(o.model)}${o.version !== undefined ? `/versions/${encodeURIComponent(o.version)}` : ''}`;
  const client = new V2Client(o.url, Math.max(...levels));
  try {
    const meta = (await client.getJson(base)) as {
      inputs: Array<{ name: string; datatype: string; shape: number[] }>;
    };
    const inputs = meta.inputs.map((i) => {
      const shape = o.shapes?.[i.name] ?? i.shape.map((d, k) => (k === 0 && d === -1 ? batch : d));
      if (shape.some((d) => d < 0)) {
        throw new DrivegateError(
          'USAGE',
          `input '${i.name}' has variable dims [${i.shape.join(',')}]; give its shape`,
          { field: '--shape' },
        );
      }
      return {
        name: i.name,
        datatype: i.datatype,
        shape,
        data: randomData(
          i.datatype,
          shape.reduce((a, b) => a * b, 1),
        ),
      };
    });
    const body = binaryInferBody(inputs);
    // Each simulated client has its own keep-alive connection and sends the request serialised once,
    // as perf_analyzer does; node:http's client would add its own ~0.2 ms a request to the latencies.
    const req: RawRequest = rawRequest(u.host, 'POST', `${base}/infer`, body.body, body.headers);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = Number(u.port === '' ? 80 : u.port);
    let firstError: string | undefined;
    const one = async (conn: HttpConnection): Promise<boolean> => {
      try {
        const r = await conn.send(req);
        if (r.status !== 200) {
          firstError ??= `HTTP ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`;
          return false;
        }
        return true;
      } catch (err) {
        firstError ??= err instanceof Error ? err.message : String(err);
        return false;
      }
    };
    const results: ConcurrencyResult[] = [];
    for (const c of levels) {
      const lat: number[] = [];
      let errors = 0;
      const t0 = performance.now();
      const warmEnd = t0 + warmup * 1000;
      const end = warmEnd + duration * 1000;
      let measuredEnd = end;
      const loop = async (conn: HttpConnection): Promise<void> => {
        for (;;) {
          const s = performance.now();
          if (s >= end) return;
          const ok = await one(conn);
          const e = performance.now();
          if (s >= warmEnd) {
            if (ok) lat.push(e - s);
            else errors++;
            if (e > measuredEnd) measuredEnd = e;
          }
        }
      };
      const conns = Array.from({ length: c }, () => new HttpConnection(host, port));
      try {
        await Promise.all(conns.map(loop));
      } finally {
        for (const conn of conns) conn.close();
      }
      const secs = (measuredEnd - warmEnd) / 1000;
      results.push({
        concurrency: c,
        requests: lat.length,
        errors,
        throughput_rps: Math.round((lat.length / secs) * 100) / 100,
        inferences_per_s: Math.round(((lat.length * batch) / secs) * 100) / 100,
        latency_ms: summarise(lat),
      });
    }
    return {
      url: o.url,
      model: o.model,
      version: o.version ?? null,
      batch,
      duration_s: duration,
      results,
      ...(firstError !== undefined ? { first_error: firstError } : {}),
    };
  } finally {
    client.close();
  }
}

/** The sweep as a text table. */
export function formatServeBench(r: ServeBenchResult): string {
  const head = ['concurrency', 'req/s', 'infer/s', 'p50 ms', 'p90 ms', 'p95 ms', 'p99 ms', 'errors'];
  const rows = r.results.map((x) => [
    String(x.concurrency),
    x.throughput_rps.toFixed(1),
    x.inferences_per_s.toFixed(1),
    x.latency_ms.p50.toFixed(3),
    x.latency_ms.p90.toFixed(3),
    x.latency_ms.p95.toFixed(3),
    x.latency_ms.p99.toFixed(3),
    String(x.errors),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(w[i]!)).join('  ');
  return [
    `model ${r.model}${r.version !== null ? ` version ${r.version}` : ''} at ${r.url}, batch ${r.batch}, ${r.duration_s} s per level`,
    line(head),
    ...rows.map(line),
    ...(r.first_error !== undefined ? [`first error: ${r.first_error}`] : []),
  ].join('\n');
}
