/**
 * `drivegate serve`: the v2 inference server over a Triton-layout model repository, and
 * `drivegate bench serve`: a perf_analyzer-style concurrency sweep against a running server.
 */
import type { Command } from 'commander';
import { DrivegateError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { formatServeBench, runServeBench } from '../serve/bench.js';
import { startServer } from '../serve/server.js';

interface ServeFlags {
  modelRepository: string;
  host: string;
  port: string;
  maxBodyBytes: string;
  queueTimeoutMs: string;
  intraOpThreads?: string;
  onnxSpinning?: boolean;
  json?: boolean;
}

interface BenchFlags {
  url: string;
  model: string;
  modelVersion?: string;
  concurrency: string;
  duration: string;
  batch: string;
  shape: string[];
  json?: boolean;
}

function intFlag(option: string, text: string, min: number, max: number): number {
  const v = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || v < min || v > max) {
    throw new DrivegateError('USAGE', 'bad option value', {
      field: option,
      expected: `an integer in ${min}..${max}`,
      found: JSON.stringify(text),
    });
  }
  return v;
}

/** Registers `drivegate serve` and `drivegate bench serve`. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'Serve every model of a Triton-layout model repository (<repo>/<model>/config.pbtxt, <repo>/<model>/<version>/model.onnx) ' +
        'over the KServe v2 / Open Inference Protocol (HTTP/REST, binary tensor extension), with dynamic batching and Prometheus metrics at /metrics. ' +
        'Runs until interrupted (SIGINT/SIGTERM).',
    )
    .requiredOption('--model-repository <dir>', 'the model repository')
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--port <port>', 'listen port (0 = any free port)', '8000')
    .option('--max-body-bytes <n>', 'largest request body (larger: 413)', String(64 * 1024 * 1024))
    .option(
      '--queue-timeout-ms <n>',
      'queue timeout per request unless config.pbtxt sets one (0 = none)',
      '30000',
    )
    .option(
      '--intra-op-threads <n>',
      "onnxruntime intra-op threads per instance (default: cores / instances; config.pbtxt's intra_op_thread_count parameter wins)",
    )
    .option(
      '--no-onnx-spinning',
      "stop onnxruntime's threads spinning between operators (spinning, the default, gives the lowest latency on a machine the server has " +
        "to itself but keeps a core busy after every run; turn it off where other work shares the cores). config.pbtxt's " +
        'session.intra_op.allow_spinning parameter wins',
    )
    .option('--json', 'print the startup summary as JSON')
    .addHelpText(
      'after',
      `
Examples:
  drivegate serve --model-repository packs/detector/triton --port 8000
  drivegate serve --model-repository packs/detector/triton --intra-op-threads 1 --no-onnx-spinning
  curl -s localhost:8000/v2/models/detector | jq .
  curl -s -X POST localhost:8000/v2/models/detector/infer -d @request.json`,
    )
    .action(async (flags: ServeFlags) => {
      const log = createLogger({ ...(flags.json ? { json: true } : {}) });
      const server = await startServer({
        repository: flags.modelRepository,
        host: flags.host,
        port: intFlag('--port', flags.port, 0, 65535),
        maxBodyBytes: intFlag('--max-body-bytes', flags.maxBodyBytes, 1024, 2 ** 31),
        queueTimeoutMs: intFlag('--queue-timeout-ms', flags.queueTimeoutMs, 0, 86_400_000),
        ...(flags.intraOpThreads !== undefined
          ? { intraOpThreads: intFlag('--intra-op-threads', flags.intraOpThreads, 1, 256) }
          : {}),
        ...(flags.onnxSpinning === false ? { allowSpinning: false } : {}),
        log,
      });
      const summary = { url: server.url, models: server.models, warnings: server.warnings };
      if (flags.json) process.stdout.write(JSON.stringify(summary) + '\n');
      else {
        process.stdout.write(`serving at ${server.url}\n`);
        for (const m of server.models) {
          process.stdout.write(
            `  ${m.name} versions [${m.versions.join(', ')}] ${m.ready ? 'READY' : `UNAVAILABLE: ${m.reason ?? ''}`}\n`,
          );
        }
      }
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      log.info('stopping: finishing running inferences');
      await server.close();
    });

  const bench =
    program.commands.find((c) => c.name() === 'bench') ??
    program.command('bench').description('Benchmarks of running services');
  bench
    .command('serve')
    .description(
      'Drive a v2 inference server like perf_analyzer: for each concurrency level, that many clients send binary infer requests ' +
        'back to back for --duration seconds (after a short warm-up); prints p50/p90/p95/p99 latency and throughput per level. Loopback URLs only.',
    )
    .requiredOption('--url <url>', 'server base URL (loopback), e.g. http://127.0.0.1:8000')
    .requiredOption('--model <name>', 'model name')
    .option('--model-version <v>', 'model version (default: the latest)')
    .option('--concurrency <list>', 'comma-separated concurrency levels', '1,2,4,8')
    .option('--duration <s>', 'measured seconds per level (max 60)', '5')
    .option('--batch <n>', 'batch size of each request', '1')
    .option(
      '--shape <name=d1,d2,...>',
      'full shape of an input with variable dims (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      `
Examples:
  drivegate bench serve --url http://127.0.0.1:8000 --model detector --concurrency 1,2,4,8,16 --duration 10
  drivegate bench serve --url http://127.0.0.1:8000 --model busy --shape x=1,64,64 --json`,
    )
    .action(async (flags: BenchFlags) => {
      const levels = flags.concurrency.split(',').map((s) => intFlag('--concurrency', s, 1, 256));
      const duration = Number(flags.duration);
      if (!(duration > 0 && duration <= 60)) {
        throw new DrivegateError('USAGE', 'bad option value', {
          field: '--duration',
          expected: 'seconds in (0, 60]',
          found: JSON.stringify(flags.duration),
        });
      }
      const shapes: Record<string, number[]> = {};
      for (const s of flags.shape) {
        const m = /^([^=]+)=(\d+(,\d+)*)$/.exec(s);
        if (m === null)
          throw new DrivegateError('USAGE', 'bad option value', {
            field: '--shape',
            expected: 'name=d1,d2,...',
            found: JSON.stringify(s),
          });
        shapes[m[1]!] = m[2]!.split(',').map(Number);
      }
      const result = await runServeBench({
        url: flags.url,
        model: flags.model,
        ...(flags.modelVersion !== undefined ? { version: flags.modelVersion } : {}),
        concurrency: levels,
        durationS: duration,
        batch: intFlag('--batch', flags.batch, 1, 4096),
        shapes,
      });
      process.stdout.write((flags.json ? JSON.stringify(result) : formatServeBench(result)) + '\n');
    });
}
