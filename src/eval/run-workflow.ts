/**
 * `eval run` as a workflow of the step runner (src/core/runner.ts), for runs recorded in the
 * workspace: each step's inputs are hashed, its outputs stored, an unchanged step is skipped, an
 * interrupted run resumes.
 *
 *   detect    (cached) the model on the manifest's images -> detections.json + detect.json (model,
 *             latency); or the predictions file. Inputs: model + config (or pack, or predictions),
 *             the manifest (whose sha256 fields pin the images), workers, batch, name, version.
 *   evaluate  (cached) every metric, deltas, the report folder without the gate -> report/.
 *             Inputs: detections, manifest, ground truth, slices, baseline, metric options.
 *   gate      (never cached: the verdict depends on the clock and the waivers) copies report/ beside
 *             --out, applies the gate (gate_verdict.json, blocking_report.md, summary), renames it
 *             onto --out.
 *
 * A re-run with a new baseline or gate policy re-uses the detections; a new model re-runs everything.
 * Latency in a cached detect step is the one measured when it ran (use --no-cache to re-measure).
 */
import { cp, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { atomicWriteFile } from '../core/fsutil.js';
import type { RunView, StepContext, StepInputs, Workflow } from '../core/runner.js';
import { loadEvalManifest, loadSlices, resolveGroundTruthFile } from './run-inputs.js';
import type { LatencySummary } from './run-detect.js';
import {
  EVAL_RUN_FILES,
  evaluateModel,
  gateReportFolder,
  produceDetections,
  swapInto,
  tempSibling,
} from './run.js';
import type { EvalRunOptions, PreparedDetections } from './run.js';

/** The workflow's arguments: the serializable flags of `eval run` (recorded in the run record). */
export interface EvalRunArgs {
  model?: string;
  config?: string;
  pack?: string;
  predictions?: string;
  manifest: string;
  gt?: string;
  slices: string;
  baseline?: string;
  gates?: string;
  waivers?: string;
  out: string;
  overwrite?: boolean;
  workers?: number;
  batch?: number;
  name?: string;
  version?: string;
  charts?: boolean;
  /** ISO time for the report and the waiver clock (default: when the step runs). */
  now?: string;
  bins?: number;
  thresholdMode?: 'f1' | 'precision';
  precisionTarget?: number;
}

/** The result the gate step records. */
export interface EvalRunStepResult {
  out: string;
  exit_code: 0 | 1 | 2;
  gate: string | null;
  map: number | null;
}

type Ctx = StepContext<EvalRunArgs>;

const abs = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolve(p));
const defined = (o: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined));

function options(a: EvalRunArgs): EvalRunOptions {
  return {
    model: abs(a.model),
    config: abs(a.config),
    pack: abs(a.pack),
    predictions: abs(a.predictions),
    manifest: resolve(a.manifest),
    gt: abs(a.gt),
    slices: resolve(a.slices),
    baseline: abs(a.baseline),
    out: resolve(a.out),
    workers: a.workers,
    batch: a.batch,
    name: a.name,
    version: a.version,
    charts: a.charts,
    now: a.now !== undefined ? new Date(a.now) : undefined,
    metrics: {
      ...(a.bins !== undefined ? { bins: a.bins } : {}),
      ...(a.thresholdMode !== undefined ? { thresholdMode: a.thresholdMode } : {}),
      ...(a.precisionTarget !== undefined ? { precisionTarget: a.precisionTarget } : {}),
    },
  };
}

/** `eval run` as a runner workflow (see the module comment). */
export const evalRunWorkflow: Workflow<EvalRunArgs> = {
  name: 'eval-run',
  steps: [
    {
      name: 'detect',
      version: 1,
      inputs: ({ args }) => ({
        files: defined({
          model: abs(args.model),
          config: abs(args.config),
          pack: abs(args.pack),
          predictions: abs(args.predictions),
          manifest: resolve(args.manifest),
        }),
        values: {
          workers: args.workers ?? 1,
          batch: args.batch ?? 1,
          name: args.name ?? null,
          version: args.version ?? null,
        },
      }),
      outputs: ['detections.json', 'detect.json'],
      async run(ctx: Ctx): Promise<{ detections_bytes: number; model: string }> {
        const manifest = await loadEvalManifest(resolve(ctx.args.manifest));
        const p = await produceDetections(options(ctx.args), {
          manifest,
          onProgress: (d, t) => ctx.progress(d, t),
        });
        await atomicWriteFile(ctx.out('detections.json'), p.bytes);
        await atomicWriteFile(
          ctx.out('detect.json'),
          JSON.stringify(
            { name: p.name, model: p.model, source: p.source, latency: p.latency ?? null },
            null,
            2,
          ),
        );
        return { detections_bytes: p.bytes.length, model: p.model.name };
      },
    },
    {
      name: 'evaluate',
      version: 1,
      inputs: async (view: RunView<EvalRunArgs>): Promise<StepInputs> => {
        const a = view.args;
        const manifest = await loadEvalManifest(resolve(a.manifest));
        const { doc } = await loadSlices(resolve(a.slices));
        const gt = resolveGroundTruthFile(abs(a.gt), manifest, resolve(a.slices), doc);
        return {
          files: defined({
            detections: view.outputPath('detect', 'detections.json'),
            detect: view.outputPath('detect', 'detect.json'),
            manifest: resolve(a.manifest),
            gt: resolve(gt),
            slices: resolve(a.slices),
            baseline: abs(a.baseline),
          }),
          values: {
            charts: a.charts !== false,
            bins: a.bins ?? 15,
            thresholdMode: a.thresholdMode ?? 'f1',
            precisionTarget: a.precisionTarget ?? null,
            now: a.now ?? null,
          },
        };
      },
      outputs: ['report/'],
      async run(ctx: Ctx): Promise<{ map: number | null; images: number | null }> {
        const meta = JSON.parse(await readFile(ctx.inputs.files['detect']!, 'utf8')) as {
          name: string;
          model: PreparedDetections['model'];
          source: Record<string, unknown>;
          latency: LatencySummary | null;
        };
        const prepared: PreparedDetections = {
          bytes: await readFile(ctx.inputs.files['detections']!),
          name: meta.name,
          model: meta.model,
          source: meta.source,
          ...(meta.latency !== null ? { latency: meta.latency } : {}),
        };
        const o = options(ctx.args);
        const r = await evaluateModel({
          ...o,
          model: undefined,
          config: undefined,
          pack: undefined,
          predictions: undefined,
          prepared,
          gt: ctx.inputs.files['gt'],
          out: join(ctx.workDir, 'report'),
          overwrite: true,
        });
        return { map: r.report.overall.map, images: r.report.dataset.images ?? null };
      },
    },
    {
      name: 'gate',
      cache: false,
      inputs: (view) => ({
        files: defined({
          report: view.outputPath('evaluate', 'report/'),
          gates: abs(view.args.gates),
          waivers: abs(view.args.waivers),
          slices: resolve(view.args.slices),
          baseline: abs(view.args.baseline),
        }),
        values: { out: resolve(view.args.out), now: view.args.now ?? null },
      }),
      async run(ctx: Ctx): Promise<EvalRunStepResult> {
        const a = ctx.args;
        const out = resolve(a.out);
        const tmp = await tempSibling(out);
        try {
          await cp(ctx.inputs.files['report']!, tmp, { recursive: true });
          let exitCode: 0 | 1 | 2 = 0;
          let gate: string | null = null;
          let map: number | null = null;
          if (a.gates !== undefined) {
            const g = await gateReportFolder(tmp, {
              gates: resolve(a.gates),
              waivers: abs(a.waivers),
              slices: resolve(a.slices),
              baseline: abs(a.baseline),
              now: a.now !== undefined ? new Date(a.now) : undefined,
            });
            exitCode = g.exitCode;
            gate = g.verdict.status;
            map = g.report.overall.map;
          } else {
            const rep = JSON.parse(await readFile(join(tmp, EVAL_RUN_FILES.report), 'utf8')) as {
              overall: { map: number | null };
            };
            map = rep.overall.map;
          }
          await swapInto(tmp, out, a.overwrite === true, a.out);
          return { out, exit_code: exitCode, gate, map };
        } catch (err) {
          await rm(tmp, { recursive: true, force: true });
          throw err;
        }
      },
    },
  ],
};
