/**
 * Benchmark of the simulator engine (src/sim/engine): real-time factors per core.
 *
 * 1. Ground-truth perception (no rendering): CCRs and CPNA example scenarios at several speeds;
 *    simulated seconds per wall second and per CPU second of this process (= per core; other load
 *    on the machine inflates it less), against the 1,000x target, and the ratio against the same
 *    runs when every perception frame is also rendered (what GT mode avoids).
 * 2. A detector in the loop at 10 Hz (one onnxruntime session, intra-op threads 1): the reference
 *    detector-v1.1.0 (FP32) and, given a pack (`--pack DIR`, e.g. from `drivegate package`), the
 *    pack's CPU INT8 variant (model.int8.onnx) — reported on its own line, never as the FP32 figure.
 *    Per model: real-time factor per core against the 20x target, the per-frame breakdown
 *    (inference = normalise + onnxruntime + decode, render, tracking, the rest), and the ceiling the
 *    inference alone allows (1000 / (10 Hz x inference ms)).
 * 3. Lockstep batching (K concurrent runs' frames in one inference): on rendered frames, whether
 *    batches of 2 and 4 give bit-identical outputs to batch 1 per image, and their cost per image.
 * 4. The loop detector against the generic runtime Detector (fresh tensors, default threads).
 * 5. The FP32 ceiling: the reference detector's arithmetic (2 x the multiply-adds of its Conv and
 *    ConvTranspose nodes, their shapes read from one run with those tensors exposed), the bare
 *    onnxruntime run (1 thread, batch 1) in GFLOP/s, and what this core computes on a 1024^3 MatMul
 *    in onnxruntime: whether any FP32 run could fit the 20x frame budget here.
 *
 * Run: node --import tsx bench/sim-engine.ts [--model-runs 6] [--pack DIR]
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../src/core/paths.js';
import { DT, GraphBuilder, decodeModel, exposeTensors, type GraphTensor } from '../src/onnx/index.js';
import { Detector } from '../src/runtime/detector.js';
import { outputNames } from '../src/runtime/config.js';
import { resolveModel } from '../src/runtime/resolve.js';
import { LocalSession } from '../src/runtime/session.js';
import { elementCount, float32Tensor } from '../src/runtime/tensor.js';
import { loadScenario } from '../src/sim/openscenario/index.js';
import { closeLoopDetectors, loopDetector, simulateRun, type PhaseTiming } from '../src/sim/engine/index.js';
import type { PerceptionSpec, ScenarioVariant } from '../src/sim/types.js';
import { renderCamera, RenderContext } from '../src/world/render/camera.js';
import { actorAt, clearDay, worldState } from '../src/world/render/example-states.js';

function argOf(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const MODEL_RUNS = Number(argOf('--model-runs') ?? 6);
const PACK = argOf('--pack');
const TARGET_MODEL = 20;
const TARGET_GT = 1000;
const root = packageRoot();
const load = (): string =>
  `load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;

async function variants(): Promise<ScenarioVariant[]> {
  const out: ScenarioVariant[] = [];
  for (const [file, speeds] of [
    ['ncap/CCRs.xosc', [20, 40, 60]],
    ['ncap/CPNA.xosc', [20, 40, 60]],
  ] as const) {
    for (const v of speeds) {
      const s = await loadScenario(join(root, 'examples', 'scenarios', file), { ego_speed_kph: v });
      out.push({
        id: `${s.family}/ego_speed_kph=${v}`,
        family: s.family,
        category: s.category,
        file: s.file,
        parameters: {},
        scenario: s,
      });
    }
  }
  return out;
}

interface Measure {
  sim: number;
  wall: number;
  cpu: number;
}

async function measure(
  vs: readonly ScenarioVariant[],
  runs: number,
  perception: PerceptionSpec,
  extra: { record?: boolean; timing?: PhaseTiming } = {},
): Promise<Measure> {
  let sim = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const r = await simulateRun(vs[i % vs.length]!, { seed: i + 1, perception, ...extra });
    sim += r.simS;
  }
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { sim, wall, cpu: (c.user + c.system) / 1e6 };
}

const fmt = (m: Measure): string =>
  `${m.sim.toFixed(0)} sim s in ${m.wall.toFixed(2)} s wall / ${m.cpu.toFixed(2)} s CPU: ` +
  `${(m.sim / m.wall).toFixed(0)}x real time (wall), ${(m.sim / m.cpu).toFixed(1)}x per core (CPU)`;

/** CPU milliseconds of this process (the engine runs single-threaded here: onnxruntime intra-op 1). */
const cpuMs = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

const vs = await variants();
const GT: PerceptionSpec = { kind: 'ground-truth' };
console.log(`machine ${load()} (timings are noisy when > 0; CPU-time figures suffer less)`);

// 1. ground truth
await measure(vs, 12, GT); // warm-up (JIT)
const gt = await measure(vs, 120, GT);
console.log(
  `ground truth:            ${fmt(gt)}  (target >= ${TARGET_GT}x per core: ${gt.sim / gt.cpu >= TARGET_GT ? 'met' : 'NOT met'}, ${(gt.sim / gt.cpu / TARGET_GT).toFixed(2)}x of it)  [${load()}]`,
);
const gtRendered = await measure(vs, 6, GT, { record: true });
console.log(`ground truth + render:   ${fmt(gtRendered)}`);
console.log(
  `  ratio: GT without rendering is ${(gt.sim / gt.cpu / (gtRendered.sim / gtRendered.cpu)).toFixed(1)}x faster per core than rendering every frame`,
);

// 2. detectors in the loop
const fp32Model = join(root, 'models', 'detector-v1.1.0.onnx');
const fp32Config = join(root, 'models', 'detector-v1.1.0.inference_config.json');
const models: Array<{ name: string; modelPath: string; configPath: string }> = [
  { name: 'detector-v1.1.0 FP32', modelPath: fp32Model, configPath: fp32Config },
];
/** CPU ms of an FP32 perception frame outside the inference (render, tracking, the rest), for part 5. */
let fp32OtherMs = 0;
if (PACK !== undefined) {
  const p = join(PACK, 'model.int8.onnx');
  if (existsSync(p))
    models.push({ name: 'pack INT8 variant', modelPath: p, configPath: join(PACK, 'inference_config.json') });
  else console.log(`(no ${p}: the INT8 line is skipped)`);
} else {
  console.log('(INT8 variant: pass --pack DIR, a sealed pack with model.int8.onnx, for its line)');
}
for (const m of models) {
  const spec: PerceptionSpec = {
    kind: 'model',
    modelPath: m.modelPath,
    configPath: m.configPath,
    label: m.name,
  };
  await measure(vs.slice(0, 1), 1, spec); // opens the session, warms up
  const timing: PhaseTiming = { render: 0, detect: 0, track: 0, frames: 0, clock: cpuMs };
  const mm = await measure(vs, MODEL_RUNS, spec, { timing });
  const rtf = mm.sim / mm.cpu;
  console.log(
    `${m.name} @10 Hz: ${fmt(mm)}  (target >= ${TARGET_MODEL}x per core: ${rtf >= TARGET_MODEL ? 'met' : 'NOT met'}, ${(rtf / TARGET_MODEL).toFixed(2)}x of it)  [${load()}]`,
  );
  const per = (x: number): number => x / timing.frames;
  const frameCpu = (mm.cpu * 1000) / timing.frames;
  const frameWall = (mm.wall * 1000) / timing.frames;
  const rest = frameCpu - per(timing.render) - per(timing.detect) - per(timing.track);
  if (m.modelPath === fp32Model) fp32OtherMs = frameCpu - per(timing.detect);
  console.log(
    `  per perception frame (${timing.frames}): ${frameCpu.toFixed(2)} ms CPU (${frameWall.toFixed(2)} ms wall) = inference ${per(timing.detect).toFixed(2)} + ` +
      `render ${per(timing.render).toFixed(2)} + tracking ${per(timing.track).toFixed(2)} + other (physics, storyboard, metrics, controller between frames) ${rest.toFixed(2)} ms CPU`,
  );
  console.log(
    `  budget for ${TARGET_MODEL}x: ${(1000 / (10 * TARGET_MODEL)).toFixed(2)} ms per frame; the inference alone allows at most ` +
      `${(1000 / (10 * per(timing.detect))).toFixed(1)}x`,
  );
}

// 3. lockstep batching: bit-identical per image? cheaper per image?
const ctx = new RenderContext();
const st = worldState({
  actors: [actorAt(1, 'sedan', 30, 0), actorAt(2, 'adult', 15, -3), actorAt(3, 'suv', 50, 3.5)],
  conditions: clearDay({ noiseSigma: 2 }),
});
const sampleFrames: Uint8Array[] = [];
for (const v of vs) {
  const r = await simulateRun(v, { seed: 5, perception: GT, record: true });
  for (const f of r.frames ?? []) sampleFrames.push(f.rgb);
}
for (const m of models) {
  const det = await loopDetector(m.modelPath, m.configPath);
  const cfg = det.config;
  const W = cfg.input.width;
  const H = cfg.input.height;
  const plane = W * H;
  const { scale, mean, std } = cfg.preprocess.normalize;
  const norm = (rgb: Uint8Array, out: Float32Array, off: number): void => {
    for (let c = 0; c < 3; c++) {
      const a = scale / std[c]!;
      const b = -mean[c]! / std[c]!;
      for (let p = 0, q = c; p < plane; p++, q += 3) out[off + c * plane + p] = rgb[q]! * a + b;
    }
  };
  const sess = await LocalSession.open(m.modelPath, { intraOpThreads: 1 });
  const names = outputNames(cfg);
  const n = Math.min(sampleFrames.length, 240);
  const one: Float32Array[][] = [];
  const in1 = new Float32Array(3 * plane);
  const run1 = async (i: number): Promise<void> => {
    norm(sampleFrames[i]!, in1, 0);
    const o = await sess.run({ [cfg.input.name]: float32Tensor(in1, [1, 3, H, W]) }, names);
    one[i] = names.map((k) => Float32Array.from(o[k]!.data as Float32Array));
  };
  for (let i = 0; i < 8; i++) await run1(i);
  let t0 = cpuMs();
  for (let i = 0; i < n; i++) await run1(i);
  const ms1 = (cpuMs() - t0) / n;
  const parts = [`batch 1 ${ms1.toFixed(2)} ms CPU/image`];
  for (const K of [2, 4]) {
    const inK = new Float32Array(K * 3 * plane);
    let differ = 0;
    let images = 0;
    t0 = cpuMs();
    for (let i = 0; i + K <= n; i += K) {
      // frames of different runs in one batch, as lockstep runs would give
      const idx = Array.from({ length: K }, (_, k) => (i + k * Math.floor(n / K)) % n);
      idx.forEach((f, k) => norm(sampleFrames[f]!, inK, k * 3 * plane));
      const o = await sess.run({ [cfg.input.name]: float32Tensor(inK, [K, 3, H, W]) }, names);
      names.forEach((k, j) => {
        const data = o[k]!.data as Float32Array;
        const each = data.length / K;
        idx.forEach((f, b) => {
          const ref = one[f]![j]!;
          for (let e = 0; e < each; e++) if (!Object.is(data[b * each + e], ref[e])) differ++;
        });
      });
      images += K;
    }
    const msK = (cpuMs() - t0) / images;
    parts.push(
      `batch ${K} ${msK.toFixed(2)} ms CPU/image (${(ms1 / msK).toFixed(2)}x), ${differ === 0 ? 'bit-identical to batch 1' : `${differ} output values differ from batch 1`}`,
    );
  }
  console.log(`lockstep batching, ${m.name} (${n} rendered sim frames): ${parts.join('; ')}  [${load()}]`);
  await sess.close();
}

// 4. the loop detector against the generic runtime Detector (fresh tensors, default threads)
const frames = Array.from({ length: 100 }, (_, i) => {
  st.renderSeed = i + 1;
  st.odometer = i;
  return { width: 192, height: 96, data: renderCamera(st, ctx).rgb };
});
const loop = await loopDetector(fp32Model, fp32Config);
const generic = await Detector.open(resolveModel(fp32Model, fp32Config));
for (let i = 0; i < 10; i++) {
  await loop.detect([frames[i]!], 0.3);
  await generic.detect([frames[i]!]);
}
const time = async (f: (i: number) => Promise<unknown>): Promise<{ wall: number; cpu: number }> => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < frames.length; i++) await f(i);
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / frames.length, cpu: (c.user + c.system) / 1000 / frames.length };
};
const a = await time((i) => loop.detect([frames[i]!], 0.3));
const b = await time((i) => generic.detect([frames[i]!]));
console.log(
  `FP32 inference per frame: loop detector ${a.wall.toFixed(2)} ms wall / ${a.cpu.toFixed(2)} ms CPU; generic runtime Detector ` +
    `${b.wall.toFixed(2)} ms wall / ${b.cpu.toFixed(2)} ms CPU (ratio ${(b.cpu / a.cpu).toFixed(2)}x CPU per frame)  [${load()}]`,
);
await generic.close();
await closeLoopDetectors();

// 5. the FP32 ceiling: the model's arithmetic against what this core computes
{
  const tmp = mkdtempSync(join(tmpdir(), 'drivegate-bench-flops-'));
  try {
    const m = decodeModel(readFileSync(fp32Model), fp32Model);
    const weights = new Map<string, GraphTensor>(m.graph.initializers.map((t) => [t.name, t]));
    const convs = m.graph.nodes.filter((n) => n.opType === 'Conv' || n.opType === 'ConvTranspose');
    const exposed = join(tmp, 'exposed.onnx');
    writeFileSync(
      exposed,
      exposeTensors(m, [...new Set(convs.flatMap((n) => [n.inputs[0]!, n.outputs[0]!]))]),
    );
    const probe = await LocalSession.open(exposed, { intraOpThreads: 1 });
    const input = probe.io.inputs[0]!;
    const dims = input.shape.map((d, i) => (i === 0 ? 1 : typeof d === 'number' && d > 0 ? d : 1));
    const x = new Float32Array(elementCount(dims)).fill(0.25);
    const shapes = await probe.run({ [input.name]: float32Tensor(x, dims) });
    await probe.close();
    let macs = 0;
    for (const n of convs) {
      const w = weights.get(n.inputs[1]!);
      if (w === undefined) throw new Error(`${n.name}: weight ${n.inputs[1]} is not an initializer`);
      // Conv: each output element takes (Cin/group) x kh x kw multiply-adds (weight [Cout, Cin/g, kh, kw]);
      // ConvTranspose: each input element spreads over (Cout/group) x kh x kw (weight [Cin, Cout/g, kh, kw]).
      const per = elementCount(w.dims) / w.dims[0]!;
      const t = shapes[n.opType === 'Conv' ? n.outputs[0]! : n.inputs[0]!];
      if (t === undefined)
        throw new Error(`${n.name}: no shape for its ${n.opType === 'Conv' ? 'output' : 'input'}`);
      macs += elementCount(t.dims) * per;
    }
    const gflop = (2 * macs) / 1e9;
    const bare = await LocalSession.open(fp32Model, { intraOpThreads: 1 });
    const feeds = { [input.name]: float32Tensor(x, dims) };
    for (let i = 0; i < 20; i++) await bare.run(feeds);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const R = 200;
    for (let i = 0; i < R; i++) await bare.run(feeds);
    const runWall = (performance.now() - t0) / R;
    const cu = process.cpuUsage(c0);
    const runCpu = (cu.user + cu.system) / 1000 / R;
    await bare.close();
    // the core's FP32 throughput in onnxruntime: a 1024^3 MatMul
    const N = 1024;
    const g = new GraphBuilder('matmul');
    const a = g.input('a', DT.FLOAT, [N, N]);
    const wv: number[] = Array.from({ length: N * N }, (_, i) => ((i * 7919) % 1000) / 1000);
    g.output(g.op('MatMul', [a, g.f32(wv, [N, N])]), 'y', DT.FLOAT, [N, N]);
    const mmPath = join(tmp, 'matmul.onnx');
    writeFileSync(mmPath, g.encode());
    const mm = await LocalSession.open(mmPath, { intraOpThreads: 1 });
    const mmFeeds = { a: float32Tensor(new Float32Array(N * N).fill(0.5), [N, N]) };
    for (let i = 0; i < 3; i++) await mm.run(mmFeeds);
    const t1 = performance.now();
    const RM = 10;
    for (let i = 0; i < RM; i++) await mm.run(mmFeeds);
    const mmMs = (performance.now() - t1) / RM;
    await mm.close();
    const mmGflops = (2 * N * N * N) / (mmMs * 1e6);
    const budget = 1000 / (10 * TARGET_MODEL);
    console.log(
      `FP32 ceiling: detector-v1.1.0 is ${gflop.toFixed(3)} GFLOP per frame (${convs.length} Conv/ConvTranspose); ` +
        `bare onnxruntime run, 1 thread, batch 1: ${runWall.toFixed(2)} ms wall / ${runCpu.toFixed(2)} ms CPU = ${(gflop / (runWall / 1000)).toFixed(0)} GFLOP/s; ` +
        `a 1024^3 MatMul on this core: ${mmGflops.toFixed(0)} GFLOP/s  [${load()}]`,
    );
    console.log(
      `  the ${TARGET_MODEL}x budget is ${budget.toFixed(2)} ms per frame for everything; the FP32 arithmetic alone needs ` +
        `${((gflop / mmGflops) * 1000).toFixed(2)} ms at the MatMul rate and ${runWall.toFixed(2)} ms as onnxruntime runs it: ` +
        `${runWall < budget ? 'it fits' : `no FP32 run fits here (it would need ${((gflop * 1000) / budget).toFixed(0)} GFLOP/s for the model alone)`}`,
    );
    if (fp32OtherMs > 0 && fp32OtherMs < budget) {
      console.log(
        `  with the rest of a frame as measured above (render, tracking, physics: ${fp32OtherMs.toFixed(2)} ms CPU), the model ` +
          `would have ${(budget - fp32OtherMs).toFixed(2)} ms: ${((gflop * 1000) / (budget - fp32OtherMs)).toFixed(0)} GFLOP/s on one core`,
      );
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
