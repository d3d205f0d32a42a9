/**
 * The demo: every workflow that exists, in one go, on the reference world — generate a dataset,
 * validate it (schema, expectations, leakage), evaluate the production detector as the baseline and
 * the two candidates against it under the default gate policy, and keep every report in the store.
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

/** The demo's defaults: a world small enough that the whole demo takes about a minute on 2 cores. */
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

const releaseStep: Step<DemoArgs> = {
  name: 'release',
  version: 1,
  cache: false,
  inputs: (v) => ({
    files: {
      packs: v.outputPath('package', 'packs/'),
      policy: join(packageRoot(), 'examples', 'policy-no-sim.yaml'),
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
    packageStep,
    releaseStep,
  ],
};
