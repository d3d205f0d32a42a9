/**
 * Benchmark: packaging the reference detector.
 *
 * 1. Graph reading: drivegate's pure-TS ONNX reader (src/onnx/proto.ts: IR, opsets, nodes, graph I/O)
 *    against python-onnx's `onnx.load` + listing the nodes' op types (the alternative it replaces),
 *    both timed in-process over the same number of repetitions (python's own perf_counter, so
 *    interpreter start-up is not counted). Without /usr/bin/python3 + onnx it says so.
 * 2. The whole workflow in-process (stage, graph checks, sanity smoke, repository, contract smoke,
 *    equivalence on examples/recipe.yaml's samples, microbench, seal) in a temp workspace, with the
 *    per-step durations from the run record.
 *
 *   node --import tsx bench/package.ts [--reps 50]
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

const home = mkdtempSync(join(tmpdir(), 'dg-bench-package-'));
try {
  const ws = openWorkspace({ home, env: {} });
  await ensureWorkspace(ws);
  const store = await openStore(pathToFileURL(join(home, 'store')).href);
  const runner = createRunner(ws, store, { cache: false });
  const args = await preparePackage({
    model: modelPath,
    recipe: join(packageRoot(), 'examples', 'recipe.yaml'),
    out: join(home, 'pack'),
    packsDir: join(home, 'packs'),
  });
  const t1 = Date.now();
  const record = await runner.run(packageWorkflow(store), args);
  const total = Date.now() - t1;
  console.log(`whole package workflow (examples/recipe.yaml), in-process: ${total} ms`);
  for (const s of record.steps)
    console.log(`  ${s.name.padEnd(17)} ${String(s.durationMs ?? '-').padStart(6)} ms`);
} finally {
  rmSync(home, { recursive: true, force: true });
}
