/**
 * Benchmark: packaging the reference detector.
 *
 * 1. Graph reading: drivegate's pure-TS ONNX reader (src/onnx/proto.ts: IR, opsets, nodes, graph I/O)
 *    against python-onnx's `onnx.load` + listing the nodes' op types (the alternative it replaces),
 *    both timed in-process over the same number of repetitions (python's own perf_counter, so
 *    interpreter start-up is not counted). Without /usr/bin/python3 + onnx it says so.
 * 2. The whole run for the reference detector with examples/recipe.yaml (fp32 + fp16 + int8 with a
 *    512-image shard, 1,000 random + 512 real equivalence inputs per variant, microbench), in-process,
 *    without the step cache, in a temp workspace: wall time against the 2-minute target, per-step
 *    durations, and from the export report the fp16/fp32 and int8/fp32 latency ratios and each
 *    variant's equivalence. The reference world the shard comes from is generated first (its
 *    first-use cost is printed separately; it is reused afterwards). INT8 mAP against FP32 is
 *    bench/int8.ts's.
 *
 *   node --import tsx bench/package.ts [--reps 50] [--worlds DIR]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../src/core/paths.js';
import { createRunner } from '../src/core/runner.js';
import { openWorkspace, ensureWorkspace } from '../src/core/workspace.js';
import { readOnnxModel } from '../src/onnx/proto.js';
import { packageWorkflow, preparePackage } from '../src/package/index.js';
import { openStore } from '../src/store/open.js';

const repsArg = process.argv.indexOf('--reps');
const reps = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 50;
const modelPath = join(packageRoot(), 'models', 'detector-v1.0.0.onnx');

const bytes = readFileSync(modelPath);
readOnnxModel(bytes, modelPath);
const t0 = process.hrtime.bigint();
let nodes = 0;
for (let i = 0; i < reps; i++) nodes = readOnnxModel(readFileSync(modelPath), modelPath).graph.nodes.length;
const tsMs = Number(process.hrtime.bigint() - t0) / 1e6 / reps;
console.log(
  `graph read, drivegate TS reader: ${tsMs.toFixed(3)} ms per read (${nodes} nodes, ${reps} reps, file read included)`,
);
const t2 = process.hrtime.bigint();
for (let i = 0; i < reps; i++) readOnnxModel(bytes, modelPath);
const parseMs = Number(process.hrtime.bigint() - t2) / 1e6 / reps;
console.log(`graph parse only (bytes in memory), drivegate TS reader: ${parseMs.toFixed(3)} ms`);

const py = '/usr/bin/python3';
if (existsSync(py)) {
  const script = [
    'import sys, time, onnx',
    'p, n = sys.argv[1], int(sys.argv[2])',
    'onnx.load(p)',
    't = time.perf_counter()',
    'for _ in range(n):',
    '    m = onnx.load(p); ops = [x.op_type for x in m.graph.node]',
    'print((time.perf_counter() - t) / n * 1000, len(ops))',
  ].join('\n');
  const r = spawnSync(py, ['-c', script, modelPath, String(reps)], { encoding: 'utf8' });
  if (r.status === 0) {
    const [ms] = r.stdout.trim().split(/\s+/).map(Number);
    console.log(`graph read, python-onnx onnx.load: ${(ms ?? NaN).toFixed(3)} ms per read`);
    console.log(`ratio (python-onnx / drivegate), file read included: ${((ms ?? NaN) / tsMs).toFixed(2)}x`);
  } else {
    console.log(
      `python-onnx not usable here (${r.stderr.trim().split('\n').pop() ?? ''}); ratio not measured`,
    );
  }
} else {
  console.log('no /usr/bin/python3: python-onnx ratio not measured');
}

const worldsArg = process.argv.indexOf('--worlds');
const home = mkdtempSync(join(tmpdir(), 'dg-bench-package-'));
const worldsDir =
  worldsArg > 0 ? (process.argv[worldsArg + 1] ?? join(home, 'worlds')) : join(home, 'worlds');
try {
  const ws = openWorkspace({ home, env: {} });
  await ensureWorkspace(ws);
  const store = await openStore(pathToFileURL(join(home, 'store')).href);
  const runner = createRunner(ws, store, { cache: false });
  const recipe = join(packageRoot(), 'examples', 'recipe.yaml');
  const tw = Date.now();
  const args = await preparePackage({
    model: modelPath,
    recipe,
    out: join(home, 'pack'),
    packsDir: join(home, 'packs'),
    worldsDir,
  });
  console.log(
    `reference world for the shard (first use only; ${worldsDir}) + run preparation: ${((Date.now() - tw) / 1000).toFixed(1)} s`,
  );
  const t1 = Date.now();
  const cpu0 = process.cpuUsage();
  const record = await runner.run(packageWorkflow(store), args);
  const total = (Date.now() - t1) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  console.log(
    `whole package run (examples/recipe.yaml: fp32 + fp16 + int8, 512-image shard, 1,000 inputs, microbench), ` +
      `in-process, no step cache: ${total.toFixed(1)} s; target 120 s: ${(total / 120).toFixed(2)}x of the budget ` +
      `(${total <= 120 ? 'met' : 'NOT met'})`,
  );
  console.log(
    `CPU time of this process during the run: ${cpuS.toFixed(1)} s (user+sys; the microbench child processes not ` +
      `included): a load-independent figure; with onnxruntime on 2 threads an idle 2-core host needs >= ${(cpuS / 2).toFixed(1)} s`,
  );
  for (const s of record.steps) {
    console.log(`  ${s.name.padEnd(17)} ${((s.durationMs ?? 0) / 1000).toFixed(1).padStart(6)} s`);
  }
  const report = JSON.parse(readFileSync(join(home, 'pack', 'export_report.json'), 'utf8')) as {
    microbench: {
      figures: {
        host: string;
        ratios: Record<string, Record<string, number>>;
        variants: Record<
          string,
          { figures: Array<{ batch: number; p50_ms: number }>; memory: { peak_rss_bytes: number } }
        >;
      };
    };
    equivalence: Record<
      string,
      {
        ok: boolean;
        random?: { heads: Record<string, { max_abs: number }> };
        images?: { detection: { iou_drift_mean: number; score_drift_mean: number; recall: number } } | null;
      }
    >;
    precisions: {
      int8: {
        calibrator?: string;
        fallback?: string[];
        comparison?: Array<{ calibrator: string; score: number }>;
      };
    };
  };
  const mb = report.microbench.figures;
  console.log(`microbench host: ${mb.host}`);
  for (const [v, f] of Object.entries(mb.variants)) {
    console.log(
      `  ${v.padEnd(5)} ${f.figures.map((x) => `b${x.batch} p50 ${x.p50_ms.toFixed(2)} ms`).join(', ')}; peak RSS +${(f.memory.peak_rss_bytes / 2 ** 20).toFixed(0)} MiB`,
    );
  }
  for (const [k, r] of Object.entries(mb.ratios)) {
    console.log(
      `  latency ratio ${k}: ${Object.entries(r)
        .map(([b, x]) => `${b} ${x.toFixed(2)}x`)
        .join(', ')}`,
    );
  }
  for (const [v, e] of Object.entries(report.equivalence)) {
    const heads = Object.entries(e.random?.heads ?? {})
      .map(([h, x]) => `${h} ${x.max_abs.toPrecision(2)}`)
      .join(', ');
    const d = e.images?.detection;
    console.log(
      `  equivalence ${v.padEnd(13)} ok=${e.ok} max_abs {${heads}}` +
        (d
          ? ` IoU drift ${(d.iou_drift_mean * 100).toFixed(2)}%, score drift ${d.score_drift_mean.toFixed(4)}, recall ${d.recall.toFixed(3)}`
          : ''),
    );
  }
  const q = report.precisions.int8;
  console.log(
    `  int8: calibrator ${q.calibrator ?? '-'}, fallback ${q.fallback?.length ?? 0} layers; comparison ` +
      (q.comparison ?? []).map((c) => `${c.calibrator} ${c.score.toFixed(2)}`).join(', '),
  );
} finally {
  rmSync(home, { recursive: true, force: true });
}
