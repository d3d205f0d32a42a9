/**
 * Workflow #16, `drivegate eval run`: evaluates a model (an ONNX file, a model pack, or its
 * predictions) on a manifest's images against COCO ground truth, overall and per slice, compares
 * with a baseline report, applies the gate, and writes the report folder.
 *
 * The workflow is a list of named steps (`EVAL_RUN_STEPS`), each timed in the report:
 *   inputs   read and check every input (slices, gates, waivers, baseline, manifest, ground truth)
 *   detect   run the model through the runtime's worker pool (latency per image), or read predictions
 *   metrics  COCO stats, per-class AP, PR curves, calibration, confusion, thresholds; overall and per slice
 *   compare  deltas against the baseline
 *   gate     the gate engine's verdict
 *   write    every report file into a temp folder, renamed onto --out at the end
 * Bad input fails in `inputs` or `detect` before anything is written (--out is untouched).
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { sha256, sha256File } from '../core/digest.js';
import { DrivegateError, badInput } from '../core/errors.js';
import { atomicWriteFile, exists } from '../core/fsutil.js';
import type { Logger } from '../core/log.js';
import { writeSliceMetrics } from '../report/index.js';
import type { CocoDetections } from './metrics/coco/index.js';
import { loadDetections } from './metrics/coco/index.js';
import { evaluateGates } from './gates/engine.js';
import type { GateVerdict } from './gates/engine.js';
import type { WaiverVerifier } from './gates/waivers.js';
import {
  EVAL_REPORT_SCHEMA_VERSION,
  computeDeltas,
  parseEvalReport,
  readEvalReport,
} from './report-schema.js';
import type { EvalReport } from './report-schema.js';
import { checkModelClasses, detectManifest, resolveEvalModel } from './run-detect.js';
import type { LatencySummary } from './run-detect.js';
import type { GateInputs } from './run-inputs.js';
import {
  loadBaseline,
  loadEvalGroundTruth,
  loadEvalManifest,
  loadGateInputs,
  loadSlices,
  resolveGroundTruthFile,
} from './run-inputs.js';
import { computeMetrics } from './run-metrics.js';
import type { EvalMetrics, MetricOptions } from './run-metrics.js';
import { blockingDocument, sliceMetricRows, summaryDocument, writeCharts } from './run-outputs.js';
import type { ChartIndex } from './run-outputs.js';
import { compileSlices } from './slices.js';

/** The named steps of the workflow, in order. */
export const EVAL_RUN_STEPS = ['inputs', 'detect', 'metrics', 'compare', 'gate', 'write'] as const;
/** A step name. */
export type EvalRunStep = (typeof EVAL_RUN_STEPS)[number];

/** File names inside the output folder. */
export const EVAL_RUN_FILES = {
  report: 'eval_report.json',
  sliceMetrics: 'slice_metrics.parquet',
  detections: 'detections.json',
  thresholds: 'thresholds.json',
  summary: 'evaluation_summary.md',
  verdict: 'gate_verdict.json',
  blocking: 'blocking_report.md',
  charts: 'charts',
} as const;

/** Options of evaluateModel (the CLI flags of `drivegate eval run`). */
export interface EvalRunOptions {
  /** An ONNX model (its inference config beside it, or `config`). */
  model?: string | undefined;
  config?: string | undefined;
  /** A model pack folder (model.onnx + inference_config.json). */
  pack?: string | undefined;
  /** COCO results to evaluate instead of running a model. */
  predictions?: string | undefined;
  /** Detections produced earlier (the workflow's detect step), instead of a model or predictions. */
  prepared?: PreparedDetections | undefined;
  /** The manifest of the evaluation images (JSON lines). */
  manifest: string;
  /** COCO ground truth (default: slices.yaml's `annotations[split]`, else the manifest's sibling .json). */
  gt?: string | undefined;
  /** Slice definitions (slices.yaml). */
  slices: string;
  /** A baseline eval_report.json to compare with. */
  baseline?: string | undefined;
  /** A gate policy (gates.yaml). */
  gates?: string | undefined;
  /** Waiver records for the gate. */
  waivers?: string | undefined;
  /** The output folder (created; replaced only with `overwrite`). */
  out: string;
  overwrite?: boolean | undefined;
  /** Runtime worker threads (0: in-process; default 1). */
  workers?: number | undefined;
  /** Images per inference call (default 1: latency per image is per call). */
  batch?: number | undefined;
  /** Model name and version in the report (default: from the inference config or file name). */
  name?: string | undefined;
  version?: string | undefined;
  /** Dataset name in the report (default: the ground truth's info.description or file name). */
  datasetName?: string | undefined;
  /** Write charts (default true). */
  charts?: boolean | undefined;
  /** The clock (report time, waiver expiry). */
  now?: Date | undefined;
  metrics?: MetricOptions | undefined;
  verifyWaiver?: WaiverVerifier | undefined;
  log?: Logger | undefined;
  onProgress?: ((step: EvalRunStep, done: number, total: number) => void) | undefined;
}

/** What evaluateModel returns. */
export interface EvalResult {
  /** The output folder (absolute). */
  out: string;
  report: EvalReport;
  verdict: GateVerdict | null;
  /** 0 evaluated (gate passed or none), 1 the gate failed, 2 the gate could not be evaluated. */
  exitCode: 0 | 1 | 2;
  /** Files written, relative to `out`. */
  files: string[];
  /** Milliseconds per step. */
  timings_ms: Record<EvalRunStep, number>;
}

function modelSourceCount(o: EvalRunOptions): number {
  return [o.model, o.pack, o.predictions, o.prepared].filter((x) => x !== undefined).length;
}

/** Evaluates a model or predictions and writes the report folder. */
export async function evaluateModel(options: EvalRunOptions): Promise<EvalResult> {
  const timings = {} as Record<EvalRunStep, number>;
  const step = async <T>(name: EvalRunStep, f: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    options.log?.debug('eval run step', { step: name });
    try {
      return await f();
    } finally {
      timings[name] = Math.round((performance.now() - t0) * 10) / 10;
    }
  };
  if (modelSourceCount(options) !== 1) {
    throw new DrivegateError('USAGE', 'give exactly one of --model, --pack, --predictions', {
      field: '--model',
      found: `${modelSourceCount(options)} given`,
    });
  }
  const now = options.now ?? new Date();
  const out = resolve(options.out);

  // ---- inputs --------------------------------------------------------------------------------------
  const inputs = await step('inputs', async () => {
    if ((await exists(out)) && options.overwrite !== true) {
      throw new DrivegateError('CONFLICT', 'the output folder exists (use --overwrite to replace it)', {
        file: options.out,
      });
    }
    const slices = await loadSlices(options.slices);
    const gate: GateInputs | null =
      options.gates !== undefined ? await loadGateInputs(options.gates, options.waivers) : null;
    if (options.gates === undefined && options.waivers !== undefined) {
      throw new DrivegateError('USAGE', '--waivers needs --gates', { field: '--waivers' });
    }
    const baseline = options.baseline !== undefined ? await loadBaseline(options.baseline) : null;
    const manifest = await loadEvalManifest(options.manifest);
    const gtFile = resolveGroundTruthFile(options.gt, manifest, options.slices, slices.doc);
    const gt = await loadEvalGroundTruth(gtFile);
    // every manifest image must be a ground-truth image
    const cols = gt.columns;
    const manifestIndexOf = new Int32Array(cols.imageIds.length).fill(-1);
    manifest.records.forEach((r, i) => {
      const ix = cols.imageIndex.get(Number(r['image_id']));
      if (ix === undefined) {
        throw badInput('a manifest image is not in the ground truth', {
          file: manifest.file,
          line: manifest.lines[i]!,
          field: 'image_id',
          expected: `an image id of ${gtFile}`,
          found: String(r['image_id']),
        });
      }
      manifestIndexOf[ix] = i;
    });
    const compiled = compileSlices(slices.defs, {
      images: manifest.records,
      annotations: gt.objects.annotations as unknown as Array<Record<string, unknown>>,
      categories: gt.categories,
      slicesFile: options.slices,
    });
    return { slices, gate, baseline, manifest, gtFile, gt, manifestIndexOf, compiled };
  });
  const { gt, manifest } = inputs;

  // ---- detect ----------------------------------------------------------------------------------------
  const detected = await step('detect', async () => {
    const prepared = await produceDetections(options, {
      manifest,
      categories: gt.categories,
      onProgress: (d, t) => options.onProgress?.('detect', d, t),
    });
    const { bytes, name, latency, model: modelInfo, source } = prepared;
    const dt: CocoDetections = loadDetections({ bytes, name }, gt.columns);
    for (let d = 0; d < dt.count; d++) {
      if (dt.score[d]! > 1) {
        throw badInput('a detection score is above 1', {
          file: name,
          record: d,
          field: 'score',
          expected: 'a confidence in [0, 1] (calibration and thresholds need probabilities)',
          found: String(dt.score[d]),
        });
      }
    }
    return { dt, latency, modelInfo, source };
  });

  // ---- metrics ---------------------------------------------------------------------------------------
  const metrics: EvalMetrics = await step('metrics', () =>
    computeMetrics(
      gt,
      detected.dt,
      manifest.records,
      inputs.manifestIndexOf,
      inputs.compiled,
      options.metrics,
    ),
  );

  // ---- the report, compare, gate -------------------------------------------------------------------
  const info = (gt.objects as Record<string, unknown>)['info'];
  const described =
    info !== null && typeof info === 'object' ? (info as Record<string, unknown>)['description'] : undefined;
  const datasetName =
    options.datasetName ?? (typeof described === 'string' ? described : basename(inputs.gtFile));
  const cal = metrics.calibration;
  const reportValue: Record<string, unknown> = {
    schema_version: EVAL_REPORT_SCHEMA_VERSION,
    model: { ...detected.modelInfo, source: detected.source },
    dataset: {
      name: datasetName,
      ...(manifest.split !== undefined ? { split: manifest.split } : {}),
      manifest: resolve(manifest.file),
      manifest_sha256: manifest.sha256,
      images: metrics.images,
      ground_truth: resolve(inputs.gtFile),
      ground_truth_sha256: gt.sha256,
      slices: resolve(options.slices),
    },
    created_at: now.toISOString(),
    overall: metrics.overall,
    slices: metrics.slices,
    weighted_map: metrics.weighted_map,
    ...(cal.uniform !== null && cal.quantile !== null
      ? {
          calibration: {
            ece: cal.uniform.overall.ece,
            ece_equal_mass: cal.quantile.overall.ece,
            mce: cal.uniform.overall.mce,
            mce_equal_mass: cal.quantile.overall.mce,
            brier: cal.uniform.overall.brier,
            strategy: 'uniform',
            n_bins: cal.uniform.overall.n_bins,
            iou_threshold: cal.uniform.iou_threshold,
            count: cal.uniform.overall.count,
            ignored: cal.uniform.ignored,
            per_class: Object.fromEntries(
              Object.entries(cal.uniform.per_class).map(([k, v]) => [
                k,
                {
                  ece: v.ece,
                  ece_equal_mass: cal.quantile!.per_class[k]?.ece ?? null,
                  mce: v.mce,
                  brier: v.brier,
                  count: v.count,
                },
              ]),
            ),
            reliability: cal.uniform.overall.bins,
            reliability_equal_mass: cal.quantile.overall.bins,
          },
        }
      : {}),
    confusion: metrics.confusion,
    thresholds: metrics.thresholds,
    pr_curves: metrics.pr_curves,
    ...(detected.latency !== undefined ? { latency: detected.latency } : {}),
    detections: {
      count: metrics.detections,
      outside_manifest: detected.dt.count - metrics.detections,
      file: EVAL_RUN_FILES.detections,
    },
    metric_timings_ms: metrics.timings_ms,
  };
  let report = parseEvalReport(reportValue, 'eval_report.json (being written)');

  const baseline = inputs.baseline;
  report = await step('compare', () => {
    if (baseline === null) return report;
    const deltas = computeDeltas(report, baseline) as NonNullable<EvalReport['deltas']> &
      Record<string, unknown>;
    deltas['per_class'] = perClassDeltas(report, baseline);
    if (typeof report['weighted_map'] === 'object' && typeof baseline['weighted_map'] === 'object') {
      const a = (report['weighted_map'] as { value?: unknown }).value;
      const b = (baseline['weighted_map'] as { value?: unknown }).value;
      deltas['weighted_map'] = typeof a === 'number' && typeof b === 'number' ? a - b : null;
    }
    const warnings = baselineWarnings(report, baseline, options.baseline ?? 'the baseline');
    return { ...report, deltas, ...(warnings.length > 0 ? { warnings } : {}) };
  });

  const verdict = await step('gate', () => {
    if (inputs.gate === null) return null;
    return evaluateGates({
      policy: inputs.gate.policy,
      candidate: report,
      baseline,
      slices: inputs.slices.defs,
      waivers: inputs.gate.waivers,
      now,
      verifyWaiver: options.verifyWaiver,
      sources: { candidate: join(options.out, EVAL_RUN_FILES.report), baseline: options.baseline },
    });
  });
  if (verdict !== null) report = withGateSummary(report, verdict);

  // ---- write ---------------------------------------------------------------------------------------
  const files = await step('write', () =>
    writeFolder(out, options, report, baseline, metrics, verdict, detected.dt, gt.columns, (i) => {
      return inputs.manifestIndexOf[i]! >= 0;
    }),
  );
  const exitCode: 0 | 1 | 2 =
    verdict === null || verdict.status === 'pass' ? 0 : verdict.status === 'fail' ? 1 : 2;
  return { out, report, verdict, exitCode, files, timings_ms: timings };
}

/** Detections ready to evaluate: COCO results bytes, the model they came from, latency when measured. */
export interface PreparedDetections {
  bytes: Uint8Array;
  /** Names the detections in errors. */
  name: string;
  model: { name: string; version?: string; digest?: string };
  source: Record<string, unknown>;
  latency?: LatencySummary | undefined;
}

/**
 * The detect step: runs the model (or pack) on the manifest's images through the runtime, or reads
 * the predictions file, or takes `options.prepared`. With `categories`, a model whose classes the
 * ground truth does not declare is BAD_INPUT naming its config (before anything runs).
 */
export async function produceDetections(
  options: EvalRunOptions,
  ctx: {
    manifest: { file: string; records: ReadonlyArray<Record<string, unknown>>; lines: readonly number[] };
    categories?: ReadonlyMap<number, string> | undefined;
    onProgress?: ((done: number, total: number) => void) | undefined;
  },
): Promise<PreparedDetections> {
  if (options.prepared !== undefined) return options.prepared;
  if (options.predictions !== undefined) {
    const file = options.predictions;
    const bytes = await readFile(file).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code;
      throw new DrivegateError(code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_INPUT', 'cannot read the predictions', {
        file,
        expected: 'a COCO results JSON file',
        found: String(code),
      });
    });
    return {
      bytes,
      name: file,
      model: {
        name: options.name ?? basename(file).replace(/\.json(\.gz)?$/i, ''),
        ...(options.version !== undefined ? { version: options.version } : {}),
        digest: `sha256:${sha256(bytes)}`,
      },
      source: { kind: 'predictions', path: resolve(file) },
    };
  }
  const model = resolveEvalModel(options);
  if (ctx.categories !== undefined) checkModelClasses(model, ctx.categories);
  const digest = (await sha256File(model.modelPath)).sha256;
  const res = await detectManifest(model, ctx.manifest, {
    workers: options.workers ?? 1,
    batch: options.batch ?? 1,
    ...(ctx.onProgress !== undefined ? { onProgress: ctx.onProgress } : {}),
  });
  const cfgModel = model.config.model;
  const version = options.version ?? cfgModel?.version;
  return {
    bytes: Buffer.from(JSON.stringify(res.detections)),
    name: `detections of ${model.modelPath}`,
    model: {
      name: options.name ?? cfgModel?.name ?? basename(model.modelPath).replace(/\.onnx$/i, ''),
      ...(version !== undefined ? { version } : {}),
      digest: `sha256:${digest}`,
    },
    source: {
      kind: options.pack !== undefined ? 'pack' : 'model',
      path: model.modelPath,
      config: model.configPath,
    },
    latency: res.latency,
  };
}

/** The report with the gate's verdict in short (`gate`: status, policy, summary, verdict file). */
function withGateSummary(report: EvalReport, verdict: GateVerdict): EvalReport {
  return {
    ...report,
    gate: {
      status: verdict.status,
      policy: verdict.policy.name,
      summary: verdict.summary,
      file: EVAL_RUN_FILES.verdict,
    },
  };
}

/**
 * Warnings about a comparison that may not be like for like: the baseline was evaluated on another
 * manifest or ground truth, or lacks slices the candidate has.
 */
export function baselineWarnings(report: EvalReport, baseline: EvalReport, file: string): string[] {
  const out: string[] = [];
  const ds = report.dataset as Record<string, unknown>;
  const bs = baseline.dataset as Record<string, unknown>;
  for (const [key, what] of [
    ['manifest_sha256', 'manifest'],
    ['ground_truth_sha256', 'ground truth'],
  ] as const) {
    const a = ds[key];
    const b = bs[key];
    if (typeof a === 'string' && typeof b === 'string' && a !== b)
      out.push(
        `${file} was evaluated on another ${what} (sha256 ${b.slice(0, 12)}..., this run ${a.slice(0, 12)}...): deltas compare different data`,
      );
    else if (typeof a === 'string' && b === undefined)
      out.push(`${file} does not record its ${what} digest: deltas may compare different data`);
  }
  const names = new Set(baseline.slices.map((s) => s.name));
  const missing = report.slices.filter((s) => !names.has(s.name)).map((s) => s.name);
  if (missing.length > 0) out.push(`${file} has no slice(s) ${missing.join(', ')}: no deltas for them`);
  return out;
}

function perClassDeltas(
  report: EvalReport,
  baseline: EvalReport,
): Record<string, Record<string, Record<string, number | null>>> {
  const out: Record<string, Record<string, Record<string, number | null>>> = {};
  const diff = (
    a: Record<string, Record<string, unknown>> | undefined,
    b: Record<string, Record<string, unknown>> | undefined,
  ): Record<string, Record<string, number | null>> => {
    const r: Record<string, Record<string, number | null>> = {};
    if (a === undefined || b === undefined) return r;
    for (const [cls, m] of Object.entries(a)) {
      const bm = b[cls];
      if (bm === undefined) continue;
      const d: Record<string, number | null> = {};
      for (const [k, v] of Object.entries(m)) {
        const w = bm[k];
        if (typeof v === 'number' && typeof w === 'number') d[k] = v - w;
        else if ((v === null || typeof v === 'number') && (w === null || typeof w === 'number')) d[k] = null;
      }
      r[cls] = d;
    }
    return r;
  };
  out['overall'] = diff(report.overall.per_class, baseline.overall.per_class);
  const base = new Map(baseline.slices.map((s) => [s.name, s] as const));
  for (const s of report.slices) {
    const b = base.get(s.name);
    if (b !== undefined) out[s.name] = diff(s.metrics.per_class, b.metrics.per_class);
  }
  return out;
}

/** COCO results JSON of the evaluated detections (manifest images only), one detection per line. */
function detectionsJson(dt: CocoDetections, gt: EvalResultGt, keep: (image: number) => boolean): string {
  const lines: string[] = [];
  for (let d = 0; d < dt.count; d++) {
    if (!keep(dt.image[d]!)) continue;
    lines.push(
      JSON.stringify({
        image_id: gt.imageIds[dt.image[d]!],
        category_id: gt.categoryIds[dt.category[d]!],
        bbox: [dt.box[d * 4], dt.box[d * 4 + 1], dt.box[d * 4 + 2], dt.box[d * 4 + 3]],
        score: dt.score[d],
      }),
    );
  }
  return lines.length === 0 ? '[]\n' : `[\n${lines.join(',\n')}\n]\n`;
}

type EvalResultGt = { imageIds: ReadonlyArray<unknown>; categoryIds: ReadonlyArray<unknown> };

async function writeFolder(
  out: string,
  options: EvalRunOptions,
  report: EvalReport,
  baseline: EvalReport | null,
  metrics: EvalMetrics,
  verdict: GateVerdict | null,
  dt: CocoDetections,
  gtCols: EvalResultGt,
  keepImage: (image: number) => boolean,
): Promise<string[]> {
  const tmp = await tempSibling(out);
  await mkdir(join(tmp, EVAL_RUN_FILES.charts), { recursive: true });
  const files: string[] = [];
  const put = async (name: string, data: string | Uint8Array): Promise<void> => {
    await atomicWriteFile(join(tmp, name), data);
    files.push(name);
  };
  try {
    await put(EVAL_RUN_FILES.detections, detectionsJson(dt, gtCols, keepImage));
    await put(
      EVAL_RUN_FILES.thresholds,
      JSON.stringify({ postprocess: { score_thresholds: metrics.thresholds.score_thresholds } }, null, 2) +
        '\n',
    );
    await writeSliceMetrics(join(tmp, EVAL_RUN_FILES.sliceMetrics), sliceMetricRows(report, baseline), {
      metadata: {
        model: report.model.name,
        baseline: baseline?.model.name ?? '',
        schema_version: String(EVAL_REPORT_SCHEMA_VERSION),
      },
    });
    files.push(EVAL_RUN_FILES.sliceMetrics);
    let charts: ChartIndex = {};
    if (options.charts !== false) {
      charts = await writeCharts(tmp, report, metrics, baseline);
      for (const p of Object.values(charts)) {
        const base = (p as string).replace(/\.svg$/, '');
        files.push(`${base}.vl.json`, `${base}.svg`, `${base}.png`);
      }
    }
    if (verdict !== null) {
      await put(EVAL_RUN_FILES.verdict, JSON.stringify(verdict, null, 2) + '\n');
      if (verdict.status === 'fail')
        await put(EVAL_RUN_FILES.blocking, blockingDocument(report, baseline, verdict));
    }
    await put(EVAL_RUN_FILES.summary, summaryDocument(report, baseline, verdict, charts));
    await put(EVAL_RUN_FILES.report, JSON.stringify(report, null, 2) + '\n');
    await swapInto(tmp, out, options.overwrite === true, options.out);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  const st = await stat(out);
  if (!st.isDirectory()) throw new DrivegateError('INTERNAL', 'output is not a folder', { file: out });
  return files.sort();
}

/** A fresh temp folder path beside `out` (its parent is created). */
export async function tempSibling(out: string): Promise<string> {
  const parent = dirname(out);
  await mkdir(parent, { recursive: true });
  return join(parent, `.${basename(out)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Renames the finished folder `tmp` onto `out`; an existing `out` is replaced (moved aside, then
 * removed) only with `overwrite`, else CONFLICT. A reader sees the old folder or the new one.
 */
export async function swapInto(
  tmp: string,
  out: string,
  overwrite: boolean,
  shown: string = out,
): Promise<void> {
  if (await exists(out)) {
    if (!overwrite) {
      throw new DrivegateError('CONFLICT', 'the output folder exists (use --overwrite to replace it)', {
        file: shown,
      });
    }
    const old = `${tmp}.old`;
    await rename(out, old);
    await rename(tmp, out);
    await rm(old, { recursive: true, force: true });
  } else {
    await rename(tmp, out);
  }
}

/** What gateReportFolder needs. */
export interface GateFolderOptions {
  gates: string;
  waivers?: string | undefined;
  slices: string;
  baseline?: string | undefined;
  now?: Date | undefined;
  verifyWaiver?: WaiverVerifier | undefined;
}

/**
 * Applies a gate to a finished report folder (one written without --gates): evaluates the policy
 * on its eval_report.json, adds the `gate` summary to it, writes gate_verdict.json and (when the
 * gate fails) blocking_report.md, and rewrites evaluation_summary.md with the verdict. Used by the
 * workflow's last step, which is never cached (the verdict depends on the clock and the waivers).
 */
export async function gateReportFolder(
  dir: string,
  o: GateFolderOptions,
): Promise<{ report: EvalReport; verdict: GateVerdict; exitCode: 0 | 1 | 2 }> {
  const reportFile = join(dir, EVAL_RUN_FILES.report);
  const gate = await loadGateInputs(o.gates, o.waivers);
  const { defs } = await loadSlices(o.slices);
  const baseline = o.baseline !== undefined ? await loadBaseline(o.baseline) : null;
  let report = await readEvalReport(reportFile);
  const verdict = evaluateGates({
    policy: gate.policy,
    candidate: report,
    baseline,
    slices: defs,
    waivers: gate.waivers,
    now: o.now ?? new Date(),
    verifyWaiver: o.verifyWaiver,
    sources: { candidate: reportFile, baseline: o.baseline },
  });
  report = withGateSummary(report, verdict);
  const charts: ChartIndex = {};
  const svgs = await readdir(join(dir, EVAL_RUN_FILES.charts)).catch(() => [] as string[]);
  for (const f of svgs.sort()) {
    const m = /^(.*)\.svg$/.exec(f);
    if (m) (charts as Record<string, string>)[m[1]!] = `${EVAL_RUN_FILES.charts}/${f}`;
  }
  await atomicWriteFile(join(dir, EVAL_RUN_FILES.verdict), JSON.stringify(verdict, null, 2) + '\n');
  if (verdict.status === 'fail')
    await atomicWriteFile(join(dir, EVAL_RUN_FILES.blocking), blockingDocument(report, baseline, verdict));
  await atomicWriteFile(
    join(dir, EVAL_RUN_FILES.summary),
    summaryDocument(report, baseline, verdict, charts),
  );
  await atomicWriteFile(reportFile, JSON.stringify(report, null, 2) + '\n');
  const exitCode: 0 | 1 | 2 = verdict.status === 'pass' ? 0 : verdict.status === 'fail' ? 1 : 2;
  return { report, verdict, exitCode };
}
