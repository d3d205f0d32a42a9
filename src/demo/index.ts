/**
 * The demo: every workflow that exists, in one go, on the reference world — generate a dataset,
 * validate it (schema, expectations, leakage), evaluate the production detector as the baseline and
 * the two candidates against it under the default gate policy, run a small closed-loop simulation
 * sweep of the candidate against production under the Sim Gate, package and register the detectors
 * and release under examples/policy.yaml, and keep every report in the store.
 * It is a workflow of the step runner, so it is recorded (`drivegate runs show`) and cached.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { DrivegateError } from '../core/errors.js';
import { packageRoot } from '../core/paths.js';
import type { Step, Workflow } from '../core/runner.js';
import { generateDataset } from '../world/index.js';
import { validateDatasets } from '../eval/integrity/validate.js';
import { evaluateModel } from '../eval/run.js';
import { defaultConfigPath } from '../runtime/resolve.js';
import { openWorkspace } from '../core/workspace.js';
import type { Workspace } from '../core/workspace.js';
import type { ArtifactStore } from '../store/types.js';
import { openStore } from '../store/open.js';
import { engineDigest, modelFile, readSimGate, runSweep } from '../sim/sweep/index.js';
import { packageForDemo, releaseForDemo } from './release.js';
import type { DemoPack, DemoRelease } from './release.js';

/** Arguments of the demo workflow. */
export interface DemoArgs {
  /** Scenes of the demo world. */
  scenes: number;
  /** Frames per scene. */
  framesPerScene: number;
  /** World seed. */
  seed: number;
  /** Runtime worker threads for evaluation. */
  workers: number;
  /** The workspace config file (--config), for the steps that package and register. */
  config?: string | undefined;
}

/** The demo's defaults: a world small enough that the world and eval steps take about a minute on 2 cores. */
export const DEMO_DEFAULTS: DemoArgs = { scenes: 600, framesPerScene: 6, seed: 7, workers: 1 };

/** One model the demo evaluates. */
export interface DemoModel {
  version: string;
  role: string;
  file: string;
}

/** The reference detectors, in the order the demo evaluates them. */
export const DEMO_MODELS: readonly DemoModel[] = [
  { version: '1.0.0', role: 'production (baseline)', file: 'models/detector-v1.0.0.onnx' },
  { version: '1.1.0', role: 'candidate', file: 'models/detector-v1.1.0.onnx' },
  { version: '1.2.0', role: 'regressing candidate', file: 'models/detector-v1.2.0.onnx' },
];

/** What one evaluation step returns (recorded in the run). */
export interface DemoEvalResult {
  version: string;
  role: string;
  map: number | null;
  verdict: string;
  failed_rules: string[];
}

function modelPath(m: DemoModel): string {
  const p = join(packageRoot(), m.file);
  if (!existsSync(p)) {
    throw new DrivegateError('NOT_FOUND', `reference detector ${m.file} is missing`, {
      file: p,
      expected: 'the committed ONNX file (see models/)',
    });
  }
  return p;
}

function evalStep(m: DemoModel, baseline: DemoModel | null): Step<DemoArgs> {
  const name = `eval-v${m.version}`;
  return {
    name,
    version: 1,
    inputs: (v) => ({
      files: {
        world: v.outputPath('world', 'world/'),
        model: modelPath(m),
        gates: join(packageRoot(), 'examples', 'gates.yaml'),
        ...(baseline ? { baseline: v.outputPath(`eval-v${baseline.version}`, 'report/') } : {}),
      },
      values: { workers: v.args.workers },
    }),
    outputs: ['report/'],
    async run(ctx) {
      const world = ctx.inputs.files['world'];
      const model = ctx.inputs.files['model'];
      if (world === undefined || model === undefined) throw new DrivegateError('INTERNAL', 'inputs missing');
      const baselineDir = ctx.inputs.files['baseline'];
      const result = await evaluateModel({
        model,
        manifest: join(world, 'golden_test.manifest'),
        slices: join(world, 'slices.yaml'),
        out: ctx.out('report/'),
        overwrite: true,
        workers: ctx.args.workers,
        ...(baselineDir !== undefined
          ? { baseline: join(baselineDir, 'eval_report.json'), gates: ctx.inputs.files['gates'] }
          : {}),
      });
      const verdict = result.verdict;
      const out: DemoEvalResult = {
        version: m.version,
        role: m.role,
        map: result.report.overall.map ?? null,
        verdict: verdict === null ? 'baseline (no gate)' : verdict.status === 'pass' ? 'pass' : 'blocked',
        failed_rules:
          verdict === null ? [] : verdict.rules.filter((r) => r.status === 'fail').map((r) => r.id),
      };
      return out;
    },
  };
}

/**
 * The demo's simulation sweep: which variants of examples/scenarios it runs, with how many seeds, and
 * how many failure clips it records. The subset was chosen for time and coverage (before its verdict
 * was known; docs/decisions.md#demo-with-simulation): the fog and the night variants of CCRs and CPNA (the #17
 * done-when set), at three ego speeds per family (CCRs 20/50/80 of 10-80 km/h, CPNA 20/40/60 of
 * 20-60 km/h) with every overlap / impact point: 45 of those 102 variants, one seed, candidate and
 * baseline on the same seeds (90 model-in-the-loop runs, about 45-70 s on 2 cores).
 */
export const DEMO_SIM = {
  scenarios: 'examples/scenarios',
  gate: 'examples/sim-gate.yaml',
  filters: [
    'family=CCRs,ego_speed_kph=20,ego_speed_kph=50,ego_speed_kph=80,weather=fog',
    'family=CCRs,ego_speed_kph=20,ego_speed_kph=50,ego_speed_kph=80,time_of_day=night',
    'family=CPNA,ego_speed_kph=20,ego_speed_kph=40,ego_speed_kph=60,weather=fog',
    'family=CPNA,ego_speed_kph=20,ego_speed_kph=40,ego_speed_kph=60,time_of_day=night',
  ],
  /** The subset in words, for the summary. */
  subset: 'fog and night variants of CCRs and CPNA, 3 ego speeds each, every overlap / impact point',
  seeds: 1,
  clips: 3,
} as const;

/** What the simulation step returns (recorded in the run): the Sim Gate's verdict and headline counts. */
export interface DemoSimResult {
  candidate: string;
  baseline: string;
  variants: number;
  runs: number;
  /** `pass`, `fail`, `error` (the gate could not be judged) or `none`. */
  verdict: string;
  summary: string;
  failed_rules: string[];
  collisions: { candidate: number; baseline: number };
  vru_conflicts: { candidate: number; baseline: number };
  false_brake_events: { candidate: number; baseline: number };
  clips: string[];
  wall_s: number;
}

/** The sweep of the candidate (DEMO_MODELS[1]) against production (DEMO_MODELS[0]) on the same seeds. */
function simStep(candidate: DemoModel, baseline: DemoModel): Step<DemoArgs> {
  return {
    name: `sim-v${candidate.version}`,
    version: 1,
    inputs: () => ({
      files: {
        candidate: modelPath(candidate),
        'candidate.config': defaultConfigPath(modelPath(candidate)),
        baseline: modelPath(baseline),
        'baseline.config': defaultConfigPath(modelPath(baseline)),
        scenarios: join(packageRoot(), DEMO_SIM.scenarios),
        gate: join(packageRoot(), DEMO_SIM.gate),
      },
      // The engine's code decides the runs: a changed engine reruns the sweep.
      values: {
        filters: DEMO_SIM.filters,
        seeds: DEMO_SIM.seeds,
        clips: DEMO_SIM.clips,
        engine: engineDigest(),
      },
    }),
    outputs: ['sim/'],
    async run(ctx) {
      const file = (k: string): string => {
        const f = ctx.inputs.files[k];
        if (f === undefined) throw new DrivegateError('INTERNAL', `input ${k} missing`);
        return f;
      };
      const result = await runSweep({
        scenarios: file('scenarios'),
        filters: DEMO_SIM.filters,
        seeds: DEMO_SIM.seeds,
        candidate: await modelFile(file('candidate')),
        baseline: await modelFile(file('baseline')),
        gate: await readSimGate(file('gate')),
        out: ctx.out('sim/'),
        resume: false,
        maxClips: DEMO_SIM.clips,
        onProgress: (done, total) => ctx.progress(done, total),
      });
      const v = result.verdict;
      const b = result.baseline;
      if (b === null) throw new DrivegateError('INTERNAL', 'the demo sweep ran no baseline');
      const c = result.candidate.overall;
      const out: DemoSimResult = {
        candidate: candidate.version,
        baseline: baseline.version,
        variants: result.variants,
        runs: result.runs,
        verdict: v?.status ?? 'none',
        summary: v?.summary ?? 'no gate',
        failed_rules: v === null ? [] : v.rules.filter((r) => r.status === 'fail').map((r) => r.id),
        collisions: { candidate: c.collisions, baseline: b.overall.collisions },
        vru_conflicts: { candidate: c.vru_conflicts, baseline: b.overall.vru_conflicts },
        false_brake_events: { candidate: c.false_brake_events, baseline: b.overall.false_brake_events },
        clips: result.clips,
        wall_s: result.wallS,
      };
      return out;
    },
  };
}

const worldStep: Step<DemoArgs> = {
  name: 'world',
  version: 1,
  inputs: (v) => ({
    values: { scenes: v.args.scenes, framesPerScene: v.args.framesPerScene, seed: v.args.seed },
  }),
  outputs: ['world/'],
  async run(ctx) {
    ctx.progress(0, ctx.args.scenes);
    const summary = await generateDataset({
      out: ctx.out('world/'),
      overwrite: true,
      scenes: ctx.args.scenes,
      framesPerScene: ctx.args.framesPerScene,
      seed: ctx.args.seed,
      minGapSeconds: 600,
      geoSeparation: true,
      onProgress: (done, total) => ctx.progress(done, total),
    });
    return { frames: summary.frames, splits: summary.splits };
  },
};

const validateStep: Step<DemoArgs> = {
  name: 'validate',
  version: 1,
  inputs: (v) => ({
    files: {
      world: v.outputPath('world', 'world/'),
      expectations: join(packageRoot(), 'examples', 'expectations.yaml'),
      leakage: join(packageRoot(), 'examples', 'leakage.yaml'),
    },
  }),
  outputs: ['validation.json'],
  async run(ctx) {
    const world = ctx.inputs.files['world'] ?? '';
    const report = await validateDatasets({
      manifests: ['train', 'val', 'test'].map((s) => join(world, `golden_${s}.manifest`)),
      expectations: ctx.inputs.files['expectations'],
      leakagePolicy: ctx.inputs.files['leakage'],
      checkFiles: true,
    });
    await writeFile(ctx.out('validation.json'), JSON.stringify(report, null, 2) + '\n');
    if (!report.passed) {
      throw new DrivegateError(
        'GATE_FAILED',
        `the demo world failed validation: ${report.failures.join('; ')}`,
      );
    }
    return { status: report.status };
  },
};

/** The workspace (and its store) the demo runs in, for the steps that package and register. */
async function workspaceOf(args: DemoArgs): Promise<{ ws: Workspace; store: ArtifactStore }> {
  const ws = openWorkspace({ configPath: args.config });
  return { ws, store: await openStore(ws.config.store.uri) };
}

const packageStep: Step<DemoArgs> = {
  name: 'package',
  version: 2,
  inputs: (v) => ({
    files: {
      recipe: join(packageRoot(), 'examples', 'recipe-demo.yaml'),
      world: v.outputPath('world', 'world/'),
      ...Object.fromEntries(DEMO_MODELS.map((m) => [m.version, modelPath(m)])),
      ...Object.fromEntries(DEMO_MODELS.map((m) => [`${m.version}.config`, defaultConfigPath(modelPath(m))])),
    },
  }),
  outputs: ['packs/'],
  async run(ctx) {
    const { ws, store } = await workspaceOf(ctx.args);
    const packs: DemoPack[] = [];
    for (const [i, m] of DEMO_MODELS.entries()) {
      ctx.progress(i, DEMO_MODELS.length);
      packs.push(
        await packageForDemo(
          ws,
          store,
          ctx.inputs.files[m.version] ?? '',
          ctx.inputs.files['recipe'] ?? '',
          join(ctx.out('packs/'), `v${m.version}`),
          join(ctx.inputs.files['world'] ?? '', 'golden_train.manifest'),
        ),
      );
    }
    return packs.map((p) => ({ ...p, path: undefined, folder: `v${p.version}` }));
  },
};

const SIM_STEP = simStep(DEMO_MODELS[1]!, DEMO_MODELS[0]!);

const releaseStep: Step<DemoArgs> = {
  name: 'release',
  version: 2,
  cache: false,
  inputs: (v) => ({
    files: {
      packs: v.outputPath('package', 'packs/'),
      policy: join(packageRoot(), 'examples', 'policy.yaml'),
      sim: v.outputPath(SIM_STEP.name, 'sim/'),
      ...Object.fromEntries(
        DEMO_MODELS.map((m) => [m.version, v.outputPath(`eval-v${m.version}`, 'report/')]),
      ),
    },
  }),
  outputs: ['release.json'],
  async run(ctx) {
    const { ws, store } = await workspaceOf(ctx.args);
    const made = ctx.result<Array<{ version: string; digest: string; folder: string }>>('package') ?? [];
    const packs = made.map((p) => ({
      version: p.version,
      digest: p.digest,
      path: join(ctx.inputs.files['packs'] ?? '', p.folder),
      evalReport: join(ctx.inputs.files[p.version] ?? '', 'eval_report.json'),
      // Only the candidate ran the sweep; the others are registered without a sim report.
      ...(p.version === DEMO_MODELS[1]!.version
        ? { simReport: join(ctx.inputs.files['sim'] ?? '', 'sim_gate.json') }
        : {}),
    }));
    const release: DemoRelease = await releaseForDemo({
      ws,
      store,
      policyFile: ctx.inputs.files['policy'] ?? '',
      packs,
      promote: DEMO_MODELS[1]!.version,
      refuse: DEMO_MODELS[2]!.version,
    });
    await writeFile(ctx.out('release.json'), JSON.stringify(release, null, 2) + '\n');
    return release;
  },
};

/** The demo workflow. */
export const demoWorkflow: Workflow<DemoArgs> = {
  name: 'demo',
  steps: [
    worldStep,
    validateStep,
    evalStep(DEMO_MODELS[0]!, null),
    evalStep(DEMO_MODELS[1]!, DEMO_MODELS[0]!),
    evalStep(DEMO_MODELS[2]!, DEMO_MODELS[0]!),
    SIM_STEP,
    packageStep,
    releaseStep,
  ],
};
