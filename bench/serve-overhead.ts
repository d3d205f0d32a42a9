/**
 * Benchmark: what serving over HTTP costs, and what dynamic batching gains, on the reference detector
 * (models/detector-v1.1.0.onnx, else the first models/*.onnx, else the toy test model; or the model
 * named on the command line).
 *
 * Part 1, overhead at concurrency 1, batch 1: p50 latency of
 *   (a) onnxruntime-node in-process (LocalSession.run) with the same onnxruntime settings as the
 *       server's worker (intra-op threads = cores / instances, spinning on as onnxruntime's default),
 *   (b) the same model through the worker-thread pool (SessionPool.run),
 *   (c) a v2 infer request over HTTP with binary tensors, sent by a load-generator process (like
 *       perf_analyzer, a separate process with a lean keep-alive client),
 *   (d) the same sent with node:http's client (as the earlier bench did, for comparison),
 *   (e) JSON tensors,
 * and the same pair (a, c) with onnxruntime's spinning off and with session.force_spinning_stop
 * (spinning during a run, stopped after it); and the floor, a bare node:http server
 * answering the same sizes with no work, at once and after a pause as long as the inference (its
 * idle wake-ups). Then a per-request breakdown: the load generator's send/receive stamps and the
 * server's trace (ServeOptions.trace: handler, body, parse, worker hop, run, hop back, encode, write)
 * on one monotonic clock, medians per stage, for spinning on, off and force_spinning_stop. Paths are
 * measured in rotating blocks of 25 warm calls (the first call of each block is not counted); each
 * figure is the p50 over all blocks, and the overhead is also given as the median over blocks of
 * (HTTP p50 - in-process p50). Every figure block prints the load average beside it.
 *
 * Part 2, dynamic batching at concurrency 16 (load generator in the other process): throughput with
 * batching off vs on, same instances and threads, for 1 instance x cores threads and cores instances x 1
 * thread, alternating off/on rounds; and the bound batching can reach here: the model's own batch
 * efficiency in-process (images/s at batch 8 over batch 1, same threads).
 *
 *   node --import tsx bench/serve-overhead.ts [model.onnx] [--rounds N] [--part overhead|batching]
 *   node dist/bench/serve-overhead.js [model.onnx] [--rounds N] [--part overhead|batching]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../src/core/log.js';
import { packageRoot } from '../src/core/paths.js';
import { SessionPool } from '../src/runtime/pool.js';
import { LocalSession } from '../src/runtime/session.js';
import type { TensorMap } from '../src/runtime/tensor.js';
import { runServeBench } from '../src/serve/bench.js';
import { binaryInferBody, HttpConnection, rawRequest, V2Client } from '../src/serve/client.js';
import { monoMs } from '../src/runtime/protocol.js';
import { startServer, type InferTrace } from '../src/serve/server.js';

/** Messages from the bench to its load-generator process. */
type ClientCommand =
  | { cmd: 'lat'; client: 'raw' | 'node'; model: string; json: boolean; n: number; url?: string }
  | { cmd: 'trace'; model: string; n: number }
  | { cmd: 'sweep'; model: string; concurrency: number; seconds: number }
  | { cmd: 'exit' };

const BLOCK = 25;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? Number.NaN : n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

function inputOf(dims: number[]): Float32Array {
  const count = dims.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: count }, (_, i) => ((i * 2654435761) % 1000) / 1000);
}

// ---------------------------------------------------------------- load-generator process
async function clientMain(url: string, dims: number[], inputName: string): Promise<void> {
  const u = new URL(url);
  const data = inputOf(dims);
  const bin = binaryInferBody([{ name: inputName, datatype: 'FP32', shape: dims, data }]);
  const json = Buffer.from(
    JSON.stringify({ inputs: [{ name: inputName, datatype: 'FP32', shape: dims, data: Array.from(data) }] }),
  );
  const conn = new HttpConnection(u.hostname, Number(u.port));
  const floorConns = new Map<string, HttpConnection>();
  const node = new V2Client(url, 4);
  const raws = new Map<string, ReturnType<typeof rawRequest>>();
  const raw = (model: string, isJson: boolean): ReturnType<typeof rawRequest> => {
    const key = `${model}:${isJson}`;
    let r = raws.get(key);
    if (r === undefined) {
      r = isJson
        ? rawRequest(u.host, 'POST', `/v2/models/${model}/infer`, json, {
            'Content-Type': 'application/json',
          })
        : rawRequest(u.host, 'POST', `/v2/models/${model}/infer`, bin.body, bin.headers);
      raws.set(key, r);
    }
    return r;
  };
  process.on('message', (m: ClientCommand) => {
    void (async () => {
      if (m.cmd === 'exit') {
        conn.close();
        node.close();
        for (const c of floorConns.values()) c.close();
        process.disconnect();
        return;
      }
      if (m.cmd === 'trace') {
        // Send and receive stamps on the monotonic clock the server's trace uses (same host).
        const stamps: Array<[number, number]> = [];
        for (let i = 0; i < m.n; i++) {
          const t0 = monoMs();
          const res = await conn.send(raw(m.model, false));
          const t1 = monoMs();
          if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
          stamps.push([t0, t1]);
        }
        process.send!({ stamps });
        return;
      }
      if (m.cmd === 'sweep') {
        const r = await runServeBench({
          url,
          model: m.model,
          concurrency: [m.concurrency],
          durationS: m.seconds,
          warmupS: 1,
        });
        process.send!({ rps: r.results[0]!.throughput_rps, errors: r.results[0]!.errors });
        return;
      }
      const lat: number[] = [];
      for (let i = 0; i < m.n; i++) {
        const t = performance.now();
        const floor =
          m.url === undefined
            ? undefined
            : (floorConns.get(m.url) ??
              floorConns
                .set(m.url, new HttpConnection(new URL(m.url).hostname, Number(new URL(m.url).port)))
                .get(m.url)!);
        const res =
          floor !== undefined
            ? await floor.send(raw(m.model, m.json))
            : m.client === 'raw'
              ? await conn.send(raw(m.model, m.json))
              : await node.send(
                  'POST',
                  `/v2/models/${m.model}/infer`,
                  m.json ? json : bin.body,
                  m.json ? { 'Content-Type': 'application/json' } : bin.headers,
                );
        const e = performance.now() - t;
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body.toString().slice(0, 200)}`);
        lat.push(e);
      }
      process.send!({ lat });
    })();
  });
  process.send!({ ready: true });
}

// ---------------------------------------------------------------- orchestrating process
function pickModel(): string {
  const arg = process.argv.slice(2).find((a) => a.endsWith('.onnx'));
  if (arg !== undefined) return arg;
  const dir = join(packageRoot(), 'models');
  if (existsSync(join(dir, 'detector-v1.1.0.onnx'))) return join(dir, 'detector-v1.1.0.onnx');
  try {
    const found = readdirSync(dir)
      .filter((f) => f.endsWith('.onnx'))
      .sort();
    if (found.length > 0) return join(dir, found[0]!);
  } catch {
    // no models/
  }
  return join(packageRoot(), 'src', 'runtime', 'testdata', 'toy_centernet.onnx');
}

function ask<T>(child: ChildProcess, msg: ClientCommand): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (): void => reject(new Error('the load-generator process exited'));
    child.once('exit', onExit);
    child.once('message', (r: unknown) => {
      child.off('exit', onExit);
      resolve(r as T);
    });
    child.send(msg);
  });
}

async function main(): Promise<void> {
  const roundsArg = process.argv.indexOf('--rounds');
  const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;
  const partArg = process.argv.indexOf('--part');
  const part = partArg > 0 ? process.argv[partArg + 1] : 'all';
  const model = pickModel();
  const cores = availableParallelism();
  const probe = await LocalSession.open(model, { intraOpThreads: 1 });
  const input = probe.io.inputs[0]!;
  await probe.close();
  const dims = input.shape.map((d, i) => (i === 0 ? 1 : typeof d === 'number' && d > 0 ? d : 1));
  const data = inputOf(dims);
  const feeds = (b = 1): TensorMap => {
    const d = new Float32Array(data.length * b);
    for (let i = 0; i < b; i++) d.set(data, i * data.length);
    return { [input.name]: { type: 'float32', data: d, dims: [b, ...dims.slice(1)] } };
  };

  // One repository, every configuration a model of its own (idle models cost nothing).
  const repo = mkdtempSync(join(tmpdir(), 'drivegate-bench-serve-'));
  const batching = 'dynamic_batching { preferred_batch_size: [ 8, 16 ] max_queue_delay_microseconds: 2000 }';
  const models: Record<string, string> = {
    det: `instance_group [ { count: 1 kind: KIND_CPU } ]`,
    det_nospin: `instance_group [ { count: 1 kind: KIND_CPU } ]\nparameters { key: "session.intra_op.allow_spinning" value: { string_value: "0" } }`,
    det_stop: `instance_group [ { count: 1 kind: KIND_CPU } ]\nparameters { key: "session.force_spinning_stop" value: { string_value: "1" } }`,
    det_b: `instance_group [ { count: 1 kind: KIND_CPU } ]\n${batching}`,
    det_i: `instance_group [ { count: ${cores} kind: KIND_CPU } ]`,
    det_i_b: `instance_group [ { count: ${cores} kind: KIND_CPU } ]\n${batching}`,
  };
  for (const [name, extra] of Object.entries(models)) {
    mkdirSync(join(repo, name, '1'), { recursive: true });
    copyFileSync(model, join(repo, name, '1', 'model.onnx'));
    writeFileSync(
      join(repo, name, 'config.pbtxt'),
      `name: "${name}"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 16\n${extra}\n`,
    );
  }
  // Per-request stamps from the server, kept only while the breakdown runs.
  let traces: InferTrace[] | undefined;
  const server = await startServer({
    repository: repo,
    port: 0,
    log: createLogger({ level: 'warn' }),
    trace: (t) => traces?.push(t),
  });
  // The in-process baselines use the server worker's settings for 'det' (1 instance: all cores,
  // spinning on, onnxruntime's and the server's default) and for 'det_nospin' (spinning off).
  const local = await LocalSession.open(model, { intraOpThreads: cores, allowSpinning: true });
  const localNoSpin = await LocalSession.open(model, { intraOpThreads: cores, allowSpinning: false });
  const localStop = await LocalSession.open(model, {
    intraOpThreads: cores,
    allowSpinning: true,
    sessionConfig: { 'session.force_spinning_stop': '1' },
  });
  const pool = await SessionPool.open(model, { workers: 1, intraOpThreads: cores, allowSpinning: true });
  // The floor of any node:http server: a bare one that reads the same request body and answers with a
  // body as large as the real response, doing nothing else.
  const sample = await new V2Client(server.url, 1).send(
    'POST',
    '/v2/models/det/infer',
    binaryInferBody([{ name: input.name, datatype: 'FP32', shape: dims, data }]).body,
    binaryInferBody([{ name: input.name, datatype: 'FP32', shape: dims, data }]).headers,
  );
  const floorBody = Buffer.alloc(sample.body.length);
  const floorServer = createServer({ keepAlive: true }, (req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': floorBody.length });
      res.end(floorBody);
    });
  });
  await new Promise<void>((r) => floorServer.listen(0, '127.0.0.1', () => r()));
  const floorUrl = `http://127.0.0.1:${(floorServer.address() as AddressInfo).port}`;
  // The same bare server, but answering after a pause as long as the inference (a timer): the client
  // and the server's event loop sleep meanwhile, as they do while a worker runs the model, so the
  // round trip also pays their wake-ups (idle cores), which the back-to-back in-process loop does
  // not. Its figure is the round trip minus the pause the server actually waited.
  let idleDelayMs = 1;
  const idleWaits: number[] = [];
  const idleServer = createServer({ keepAlive: true }, (req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      const t = performance.now();
      setTimeout(() => {
        idleWaits.push(performance.now() - t);
        res.writeHead(200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': floorBody.length,
        });
        res.end(floorBody);
      }, idleDelayMs);
    });
  });
  await new Promise<void>((r) => idleServer.listen(0, '127.0.0.1', () => r()));
  const idleUrl = `http://127.0.0.1:${(idleServer.address() as AddressInfo).port}`;
  const child = fork(fileURLToPath(import.meta.url), ['--client', server.url, dims.join(','), input.name], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve) => child.once('message', () => resolve()));
  const load0 = loadavg()[0]!;
  try {
    const paths = [
      'floor',
      'floorIdle',
      'local',
      'pool',
      'http',
      'httpNode',
      'httpJson',
      'localNoSpin',
      'httpNoSpin',
      'localStop',
      'httpStop',
    ] as const;
    type Path = (typeof paths)[number];
    const perPath = (): Record<Path, number[]> =>
      Object.fromEntries(paths.map((p) => [p, [] as number[]])) as Record<Path, number[]>;
    const lat = perPath();
    const blockP50 = perPath();
    const inProcess = async (r: LocalSession | SessionPool): Promise<number[]> => {
      const xs: number[] = [];
      for (let i = 0; i <= BLOCK; i++) {
        const f = feeds();
        const t = performance.now();
        await r.run(f);
        if (i > 0) xs.push(performance.now() - t);
      }
      return xs;
    };
    const http = async (
      client: 'raw' | 'node',
      name: string,
      json: boolean,
      n = BLOCK,
      url?: string,
    ): Promise<number[]> =>
      (
        await ask<{ lat: number[] }>(child, {
          cmd: 'lat',
          client,
          model: name,
          json,
          n: n + 1,
          ...(url !== undefined ? { url } : {}),
        })
      ).lat.slice(1);
    // Server-side means per block of the binary HTTP path (from the server's own metrics): request time
    // from arrival to response written, execution time (worker hop included) and queue time.
    const side = { req: [] as number[], comp: [] as number[], queue: [] as number[] };
    // Between blocks: let the previous path's spinning onnxruntime threads go quiet.
    const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 60));
    const steps: Array<[Path, () => Promise<number[]>]> = [
      ['local', () => inProcess(local)],
      [
        'http',
        async () => {
          const st = server.metrics.stats('det', '1');
          const before = {
            n: st.requestSuccess,
            req: st.requestDurationUs,
            comp: st.computeInferDurationUs,
            q: st.queueDurationUs,
          };
          const xs = await http('raw', 'det', false);
          const n = st.requestSuccess - before.n;
          side.req.push((st.requestDurationUs - before.req) / n / 1000);
          side.comp.push((st.computeInferDurationUs - before.comp) / n / 1000);
          side.queue.push((st.queueDurationUs - before.q) / n / 1000);
          return xs;
        },
      ],
      ['pool', () => inProcess(pool)],
      ['httpNode', () => http('node', 'det', false)],
      ['localNoSpin', () => inProcess(localNoSpin)],
      ['httpNoSpin', () => http('raw', 'det_nospin', false)],
      ['localStop', () => inProcess(localStop)],
      ['httpStop', () => http('raw', 'det_stop', false)],
      ['floor', () => http('raw', 'det', false, BLOCK, floorUrl)],
      [
        'floorIdle',
        async () => {
          idleWaits.length = 0;
          const xs = await http('raw', 'det', false, BLOCK, idleUrl);
          const wait = median(idleWaits);
          return xs.map((x) => x - wait);
        },
      ],
    ];
    const BLOCKS = part === 'batching' ? 0 : 8 * rounds;
    for (let b = 0; b < (part === 'batching' ? 0 : BLOCKS + 1); b++) {
      for (const [key, f] of steps) {
        const xs = await f();
        await pause();
        // The idle floor's pause follows the in-process run time measured so far.
        if (key === 'local') idleDelayMs = Math.max(1, Math.round(median(b === 0 ? xs : lat.local)));
        if (b === 0) continue; // warm-up round
        lat[key].push(...xs);
        blockP50[key].push(median(xs));
      }
      if (b % 4 === 1) {
        const xs = await http('raw', 'det', true, 5);
        lat.httpJson.push(...xs);
      }
    }
    if (part !== 'batching') {
      const m = Object.fromEntries(Object.entries(lat).map(([k, v]) => [k, median(v)])) as Record<
        Path,
        number
      >;
      const diff = (a: Path, b: Path): number =>
        median(blockP50[a].map((v, i) => v - blockP50[b][i]!).filter((v) => Number.isFinite(v)));
      const allowed = (base: number): number => Math.max(0.3, base * 0.1);
      const f3 = (v: number): string => v.toFixed(3);
      console.log(
        `model ${model} input [${dims.join(',')}], ${cores} cores; 1 instance x ${cores} intra-op threads; ` +
          `p50 over ${BLOCKS} rotating blocks of ${BLOCK} warm calls per path; load average ${load0.toFixed(2)} at start`,
      );
      console.log(`  in-process onnxruntime (same settings as the server)    ${f3(m.local)} ms`);
      console.log(
        `  worker-thread pool (SessionPool)                        ${f3(m.pool)} ms  (+${f3(m.pool - m.local)} ms)`,
      );
      console.log(
        `  HTTP v2 binary, load generator in another process       ${f3(m.http)} ms  (+${f3(m.http - m.local)} ms, ${(m.http / m.local).toFixed(3)}x; per-block median +${f3(diff('http', 'local'))} ms)`,
      );
      console.log(
        `  HTTP v2 binary, node:http client in another process     ${f3(m.httpNode)} ms  (+${f3(m.httpNode - m.local)} ms)`,
      );
      console.log(
        `  HTTP v2 JSON tensors                                    ${f3(m.httpJson)} ms  (+${f3(m.httpJson - m.local)} ms)`,
      );
      console.log(
        `  floor: a bare node:http server, same request and response sizes, no inference: ${f3(m.floor)} ms`,
      );
      console.log(
        `  floor after idling: the same bare server answering after a ${idleDelayMs} ms timer (client and event loop asleep meanwhile), minus the wait: ${f3(m.floorIdle)} ms`,
      );
      console.log(
        `  breakdown of HTTP - in-process: worker hop (pool - in-process) ${f3(m.pool - m.local)} ms + bare HTTP round trip ${f3(m.floor)} ms + the rest (parse, schedule, encode) ${f3(m.http - m.pool - m.floor)} ms`,
      );
      console.log(
        `  inside the server (its metrics, median of block means): request ${f3(median(side.req))} ms = execution incl. worker hop ${f3(median(side.comp))} ms + queue ${f3(median(side.queue))} ms + parse/encode/write ${f3(median(side.req) - median(side.comp) - median(side.queue))} ms; outside (socket, client, HTTP parsing before the handler) ${f3(m.http - median(side.req))} ms`,
      );
      console.log(`  in-process onnxruntime, spinning off                    ${f3(m.localNoSpin)} ms`);
      console.log(
        `  HTTP v2 binary, server with spinning off               ${f3(m.httpNoSpin)} ms  (+${f3(m.httpNoSpin - m.localNoSpin)} ms vs in-process spinning off; per-block median +${f3(diff('httpNoSpin', 'localNoSpin'))} ms)`,
      );
      console.log(`  in-process onnxruntime, spinning stopped after each run  ${f3(m.localStop)} ms`);
      console.log(
        `  HTTP v2 binary, server with session.force_spinning_stop ${f3(m.httpStop)} ms  (+${f3(m.httpStop - m.local)} ms vs in-process default settings; +${f3(m.httpStop - m.localStop)} ms vs in-process same settings; per-block median +${f3(diff('httpStop', 'local'))} ms)`,
      );
      const over = m.http - m.local;
      console.log(
        `  OVERHEAD TARGET (binary, server defaults vs in-process with the same settings): within ${f3(allowed(m.local))} ms -> ${over <= allowed(m.local) ? 'MET' : 'NOT MET'} (+${f3(over)} ms, ${(over / allowed(m.local)).toFixed(2)}x the allowance)`,
      );
      const best = Math.min(m.http, m.httpNoSpin, m.httpStop);
      const bestLocal = Math.min(m.local, m.localNoSpin, m.localStop);
      console.log(
        `  best server setting vs best in-process setting: ${f3(best)} vs ${f3(bestLocal)} ms -> +${f3(best - bestLocal)} ms (allowance ${f3(allowed(bestLocal))} ms: ${best - bestLocal <= allowed(bestLocal) ? 'MET' : 'NOT MET'}); load average now ${loadavg()[0]!.toFixed(2)}`,
      );
      // What any server built on node:http with inference off the HTTP thread (the issue requires
      // it: onnxruntime-node's run blocks its thread) pays before doing anything of its own.
      const floor = m.floor + (m.pool - m.local);
      console.log(
        `  architecture floor: bare node:http round trip ${f3(m.floor)} ms + worker-thread hop ${f3(m.pool - m.local)} ms = ${f3(floor)} ms ` +
          `(${floor > allowed(m.local) ? 'above' : 'within'} the ${f3(allowed(m.local))} ms allowance before parsing, scheduling or encoding anything)`,
      );
    }
    if (part !== 'batching') {
      // ---- where the time of one request goes: client stamps (its process) + the server's trace
      // (main thread and worker), all on the same monotonic clock; medians over the requests.
      const N = 30 * rounds + 10;
      const stageNames = [
        'client write -> handler runs (headers parsed)',
        'body read (221 KB arriving, copied into its parts)',
        'parse + check the request',
        'scheduler -> posted to the worker',
        'main -> worker hop (wake-up, message)',
        'worker: message -> onnxruntime run starts',
        'onnxruntime run (in the worker)',
        'worker: run -> outputs posted',
        'worker -> main hop (wake-up, message)',
        'main: message -> handler resumes',
        'encode the response',
        'writeHead + end -> client has the whole response',
      ];
      const table: Array<{ label: string; stages: number[][]; total: number[] }> = [];
      for (const [label, name] of [
        ['spinning on (default)', 'det'],
        ['spinning off', 'det_nospin'],
        ['force_spinning_stop', 'det_stop'],
      ] as const) {
        traces = [];
        const { stamps } = await ask<{ stamps: Array<[number, number]> }>(child, {
          cmd: 'trace',
          model: name,
          n: N,
        });
        const got = traces;
        traces = undefined;
        const stages: number[][] = stageNames.map(() => []);
        const total: number[] = [];
        for (let i = 10; i < N; i++) {
          const [send, recv] = stamps[i]!;
          const t = got[i];
          const e = t?.execution;
          if (t === undefined || e === undefined) continue;
          const points = [
            send,
            t.arrived,
            t.bodyRead,
            t.parsed,
            e.dispatched,
            e.received,
            e.runStart,
            e.runEnd,
            e.posted,
            e.returned,
            t.resumed,
            t.encoded,
            recv,
          ];
          for (let k = 0; k < stageNames.length; k++) stages[k]!.push(points[k + 1]! - points[k]!);
          total.push(recv - send);
        }
        await pause();
        table.push({ label, stages, total });
      }
      const f3 = (v: number): string => v.toFixed(3);
      console.log(
        `breakdown of one request (ms, medians of ${N - 10} sequential requests per server setting; load average ${loadavg()[0]!.toFixed(2)}):`,
      );
      console.log(`  ${'stage'.padEnd(52)} ${table.map((c) => c.label.padStart(22)).join(' ')}`);
      stageNames.forEach((s, k) =>
        console.log(`  ${s.padEnd(52)} ${table.map((c) => f3(median(c.stages[k]!)).padStart(22)).join(' ')}`),
      );
      const sumBut = (c: (typeof table)[number], skip: number): number =>
        c.stages.reduce((a, xs, k) => (k === skip ? a : a + median(xs)), 0);
      console.log(
        `  ${'total (client)'.padEnd(52)} ${table.map((c) => f3(median(c.total)).padStart(22)).join(' ')}`,
      );
      console.log(
        `  ${'sum of the stages other than the run'.padEnd(52)} ${table.map((c) => f3(sumBut(c, 6)).padStart(22)).join(' ')}`,
      );
    }
    if (part === 'overhead') return;
    // ---- batching bound: the model's own batch efficiency in-process, same threads as each configuration
    const imgPerS = async (r: LocalSession, b: number): Promise<number> => {
      for (let i = 0; i < 2; i++) await r.run(feeds(b));
      let n = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < 1500) {
        await r.run(feeds(b));
        n += b;
      }
      return n / ((performance.now() - t0) / 1000);
    };
    const one = await LocalSession.open(model, { intraOpThreads: 1 });
    const eff: Record<string, number[]> = { all1: [], all8: [], one1: [], one8: [] };
    for (let r = 0; r < 2; r++) {
      eff.all1!.push(await imgPerS(local, 1));
      eff.all8!.push(await imgPerS(local, 8));
      eff.one1!.push(await imgPerS(one, 1));
      eff.one8!.push(await imgPerS(one, 8));
    }
    await one.close();
    const e = Object.fromEntries(Object.entries(eff).map(([k, v]) => [k, median(v)])) as Record<
      string,
      number
    >;
    console.log(
      `model batch efficiency in-process (the bound on what batching can gain from the model itself): ` +
        `${cores} threads: batch 1 ${e.all1!.toFixed(0)} img/s, batch 8 ${e.all8!.toFixed(0)} img/s (${(e.all8! / e.all1!).toFixed(2)}x); ` +
        `1 thread: batch 1 ${e.one1!.toFixed(0)} img/s, batch 8 ${e.one8!.toFixed(0)} img/s (${(e.one8! / e.one1!).toFixed(2)}x)`,
    );

    // ---- dynamic batching at concurrency 16, off vs on, alternating rounds
    const sweep = async (name: string): Promise<number> =>
      (await ask<{ rps: number }>(child, { cmd: 'sweep', model: name, concurrency: 16, seconds: 3 })).rps;
    // The mean batch of the executions of a model (inferences / executions), from the server's metrics.
    const meanBatch = (name: string): string => {
      const st = server.metrics.stats(name, '1');
      return st.execCount > 0 ? (st.inferenceCount / st.execCount).toFixed(2) : '-';
    };
    for (const [label, off, on] of [
      [`1 instance x ${cores} threads`, 'det', 'det_b'],
      [`${cores} instances x 1 thread`, 'det_i', 'det_i_b'],
    ] as const) {
      const offs: number[] = [];
      const ons: number[] = [];
      const ratios: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const a = await sweep(off);
        const b = await sweep(on);
        offs.push(a);
        ons.push(b);
        ratios.push(b / a);
      }
      console.log(
        `dynamic batching at concurrency 16, ${label}: off ${median(offs).toFixed(1)} req/s, on ${median(ons).toFixed(1)} req/s -> ` +
          `${median(ratios).toFixed(2)}x (median of ${rounds} alternating rounds: ${ratios.map((x) => x.toFixed(2)).join(', ')}; target 1.5x: ${median(ratios) >= 1.5 ? 'MET' : 'NOT MET'}; ` +
          `mean batch per execution with batching on ${meanBatch(on)})`,
      );
    }
    console.log(`load average at the end ${loadavg()[0]!.toFixed(2)}`);
  } finally {
    await ask(child, { cmd: 'exit' }).catch(() => undefined);
    child.kill();
    await pool.close();
    await local.close();
    await localNoSpin.close();
    await localStop.close();
    await server.close();
    await new Promise<void>((r) => floorServer.close(() => r()));
    await new Promise<void>((r) => idleServer.close(() => r()));
    rmSync(repo, { recursive: true, force: true });
  }
}

const ci = process.argv.indexOf('--client');
if (ci > 0) {
  await clientMain(
    process.argv[ci + 1]!,
    process.argv[ci + 2]!.split(',').map(Number),
    process.argv[ci + 3]!,
  );
} else {
  await main();
}
