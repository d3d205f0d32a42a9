/**
 * Benchmark of the simulator engine (src/sim/engine): real-time factors per core.
 *
 * 1. Ground-truth perception (no rendering): CCRs and CPNA example scenarios at several speeds;
 *    prints simulated seconds per wall second and per CPU second (process user+system time, so
 *    other load on the machine inflates it less), against the 1,000x target, and the ratio against
 *    the same runs when every perception frame is also rendered (what GT mode avoids).
 * 2. The reference detector in the loop at 10 Hz (one onnxruntime session, intra-op threads 1):
 *    real-time factors against the 20x target, the per-frame phase breakdown (render, inference
 *    incl. pre/post-processing, tracking), and the ratio against the generic runtime Detector path
 *    (fresh input tensors each call, onnxruntime's default thread count) on the same frames.
 * Run: node --import tsx bench/sim-engine.ts [modelRuns]
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { packageRoot } from '../src/core/paths.js';
import { Detector } from '../src/runtime/detector.js';
import { resolveModel } from '../src/runtime/resolve.js';
import { loadScenario } from '../src/sim/openscenario/index.js';
import { closeLoopDetectors, loopDetector, simulateRun, type PhaseTiming } from '../src/sim/engine/index.js';
import type { PerceptionSpec, ScenarioVariant } from '../src/sim/types.js';
import { renderCamera, RenderContext } from '../src/world/render/camera.js';
import { actorAt, clearDay, worldState } from '../src/world/render/example-states.js';

const MODEL_RUNS = Number(process.argv[2] ?? 6);
const root = packageRoot();

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
  `${(m.sim / m.wall).toFixed(0)}x real time (wall), ${(m.sim / m.cpu).toFixed(0)}x per core (CPU)`;

const vs = await variants();
const GT: PerceptionSpec = { kind: 'ground-truth' };
console.log(
  `machine load average ${(await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} (timings are noisy when > 0)`,
);

// 1. ground truth
await measure(vs, 6, GT); // warm-up (JIT)
const gt = await measure(vs, 60, GT);
console.log(
  `ground truth:            ${fmt(gt)}  (target >= 1000x per core: ${gt.sim / gt.cpu >= 1000 ? 'met' : 'NOT met'})`,
);
const gtRendered = await measure(vs, 6, GT, { record: true });
console.log(`ground truth + render:   ${fmt(gtRendered)}`);
console.log(
  `  ratio: GT without rendering is ${(gt.sim / gt.cpu / (gtRendered.sim / gtRendered.cpu)).toFixed(1)}x faster per core than rendering every frame`,
);

// 2. model in the loop
const modelPath = join(root, 'models', 'detector-v1.1.0.onnx');
const configPath = join(root, 'models', 'detector-v1.1.0.inference_config.json');
const model: PerceptionSpec = { kind: 'model', modelPath, configPath, label: 'detector-v1.1.0' };
await measure(vs.slice(0, 1), 1, model); // opens the session, warms up
const timing: PhaseTiming = { render: 0, detect: 0, track: 0, frames: 0 };
const mm = await measure(vs, MODEL_RUNS, model, { timing });
console.log(
  `detector-v1.1.0 @10 Hz:  ${fmt(mm)}  (target >= 20x per core: ${mm.sim / mm.cpu >= 20 ? 'met' : 'NOT met'})`,
);
const per = (x: number): string => (x / timing.frames).toFixed(2);
const frameMs = (mm.wall * 1000) / timing.frames;
console.log(
  `  per perception frame (${timing.frames} frames): ${frameMs.toFixed(2)} ms wall = render ${per(timing.render)} + ` +
    `inference (pre/run/decode) ${per(timing.detect)} + tracking ${per(timing.track)} + physics/storyboard/metrics ` +
    `${(frameMs - (timing.render + timing.detect + timing.track) / timing.frames).toFixed(2)}`,
);

// the alternative: the generic runtime Detector (fresh tensors, default threads) on the same kind of frames
const st = worldState({
  actors: [actorAt(1, 'sedan', 30, 0), actorAt(2, 'adult', 15, -3), actorAt(3, 'suv', 50, 3.5)],
  conditions: clearDay({ noiseSigma: 2 }),
});
const ctx = new RenderContext();
const frames = Array.from({ length: 100 }, (_, i) => {
  st.renderSeed = i + 1;
  st.odometer = i;
  return { width: 192, height: 96, data: renderCamera(st, ctx).rgb };
});
const loop = await loopDetector(modelPath, configPath);
const generic = await Detector.open(resolveModel(modelPath, configPath));
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
const batch = await time(async (i) => (i % 8 === 0 ? loop.detect(frames.slice(i, i + 8), 0.3) : undefined));
console.log(
  `inference per frame: loop detector ${a.wall.toFixed(2)} ms wall / ${a.cpu.toFixed(2)} ms CPU; generic runtime Detector ` +
    `${b.wall.toFixed(2)} ms wall / ${b.cpu.toFixed(2)} ms CPU (ratio ${(b.cpu / a.cpu).toFixed(2)}x CPU per frame); ` +
    `batch of 8 through the loop session ${batch.wall.toFixed(2)} ms wall / ${batch.cpu.toFixed(2)} ms CPU per frame`,
);
await generic.close();
await closeLoopDetectors();
