/**
 * `drivegate eval run`: evaluates a model (ONNX, pack) or its predictions on a manifest, overall and
 * per slice, against a baseline and a gate, and writes the report folder (src/eval/run.ts).
 * Exit codes: 0 evaluated (gate passed or none), 1 the gate failed (blocking_report.md written),
 * 2 bad input or a gate that cannot be evaluated, 3 internal error.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { DrivegateError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { fmtDelta, fmtFixed } from '../report/index.js';
import { evaluateModel } from '../eval/run.js';
import type { EvalResult } from '../eval/run.js';
import { evalRunWorkflow } from '../eval/run-workflow.js';
import type { EvalRunArgs, EvalRunStepResult } from '../eval/run-workflow.js';
import { evalCommand } from './eval.js';
import { parseIntOption, parseNowOption } from './option-values.js';
import { runWorkflowFromCli } from './workspace-options.js';

interface RunFlags {
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
  workers: string;
  batch: string;
  name?: string;
  modelVersion?: string;
  now?: string;
  thresholdMode: 'f1' | 'precision';
  precisionTarget?: string;
  bins: string;
  charts: boolean;
  json?: boolean;
  record?: boolean;
  workspaceConfig?: string;
  resume?: string;
  cache: boolean;
}

/** The text printed for people: headline numbers, slices, the verdict and where the files are. */
export function formatEvalResult(r: EvalResult): string {
  const rep = r.report;
  const lines: string[] = [];
  const d = rep.deltas;
  lines.push(
    `${rep.model.name}: mAP ${fmtFixed(rep.overall.map)}${d ? ` (${fmtDelta(d.overall['map'] ?? null)})` : ''}, ` +
      `AP50 ${fmtFixed(rep.overall.map50)}${d ? ` (${fmtDelta(d.overall['map50'] ?? null)})` : ''} on ${rep.dataset.images ?? 0} images`,
  );
  if (rep.calibration) lines.push(`calibration: ECE ${fmtFixed(rep.calibration.ece)}`);
  if (rep.latency) lines.push(`latency: p95 ${fmtFixed(rep.latency.p95_ms, 2)} ms per image`);
  const width = Math.max(5, ...rep.slices.map((s) => s.name.length));
  lines.push('', `${'slice'.padEnd(width)}  ${'mAP'.padStart(6)}  ${'delta'.padStart(9)}  notes`);
  for (const s of rep.slices) {
    const so = s as Record<string, unknown>;
    const delta = d?.slices[s.name]?.['map'];
    const notes = [
      s.critical ? 'critical' : '',
      so['empty'] === true ? 'EMPTY (no ground truth)' : '',
      String(so['scoring'] ?? ''),
    ]
      .filter((x) => x !== '' && x !== 'image')
      .join(', ');
    lines.push(
      `${s.name.padEnd(width)}  ${(so['empty'] === true ? '-' : fmtFixed(s.metrics.map)).padStart(6)}  ${(delta === undefined ? '' : fmtDelta(delta, { style: 'sign' })).padStart(9)}  ${notes}`,
    );
  }
  if (r.verdict !== null) {
    lines.push('', `gate: ${r.verdict.status.toUpperCase()}  ${r.verdict.summary}`);
    for (const e of r.verdict.errors) lines.push(`  error: ${e}`);
    for (const a of r.verdict.blocking?.next_actions ?? []) lines.push(`  next: ${a}`);
  }
  lines.push('', `wrote ${r.out}: ${r.files.filter((f) => !f.startsWith('charts/')).join(', ')}, charts/`);
  return lines.join('\n');
}

/** Registers `drivegate eval run` on the eval group. */
export function registerEvalRun(program: Command): void {
  evalCommand(program)
    .command('run')
    .description(
      'Evaluate a model (ONNX or pack, run through the runtime worker pool) or its predictions on a manifest: ' +
        'COCO metrics, calibration, confusion, thresholds, overall and per slice; deltas vs a baseline; gates; reports',
    )
    .option('--model <file>', 'an ONNX model (its inference config beside it, or --config)')
    .option('--config <file>', 'the inference config of --model')
    .option('--pack <dir>', 'a model pack folder (model.onnx + inference_config.json)')
    .option(
      '--predictions <file>',
      'COCO results (JSON list of {image_id, category_id, bbox, score}) instead of a model',
    )
    .requiredOption('--manifest <file>', 'the evaluation images (JSON lines, e.g. golden_test.manifest)')
    .option(
      '--gt <file>',
      "COCO ground truth (default: slices.yaml's annotations for the split, else <manifest>.json)",
    )
    .requiredOption('--slices <file>', 'slice definitions (slices.yaml)')
    .option('--baseline <file>', 'the baseline (production) eval_report.json to compare with')
    .option(
      '--gates <file>',
      'a gate policy (gates.yaml); a failing gate exits 1 and writes blocking_report.md',
    )
    .option('--waivers <file>', 'waiver records for the gate')
    .requiredOption('--out <dir>', 'the report folder (written whole at the end)')
    .option('--overwrite', 'replace --out when it exists')
    .option('--workers <n>', 'runtime worker threads (0 = in-process)', '1')
    .option('--batch <n>', 'images per inference call', '1')
    .option('--name <name>', 'model name in the report (default: inference config or file name)')
    .option('--model-version <v>', 'model version in the report')
    .addOption(
      new Option('--threshold-mode <mode>', 'how thresholds.json is tuned')
        .choices(['f1', 'precision'])
        .default('f1'),
    )
    .option('--precision-target <p>', 'precision target of --threshold-mode precision (default 0.9)')
    .option('--bins <n>', 'calibration bins', '15')
    .option('--no-charts', 'skip the charts')
    .option('--now <iso>', 'the report time and waiver clock (default: now)')
    .option('--json', 'print the result (report path, verdict, exit code, headline metrics) as JSON')
    .option(
      '--record',
      'run as a recorded workflow in the workspace (run record, step cache: unchanged detections are re-used)',
    )
    .option('--workspace-config <file>', 'with --record: the workspace config (drivegate.yaml)')
    .option('--resume <run-id>', 'with --record: resume an interrupted run')
    .option('--no-cache', 'with --record: execute every step')
    .addHelpText(
      'after',
      `
Output folder: eval_report.json (schema v1), slice_metrics.parquet, detections.json, thresholds.json,
charts/*.vl.json|svg|png, evaluation_summary.md, and with --gates gate_verdict.json (+ blocking_report.md
when the gate fails). Nothing is written on bad input (exit 2).

Examples:
  drivegate eval run --model models/candidate.onnx --manifest data/golden_test.manifest \\
    --slices data/slices.yaml --baseline runs/prod/eval_report.json --gates examples/gates.yaml --out runs/cand
  drivegate eval run --predictions dt.json --manifest data/golden_test.manifest --slices data/slices.yaml \\
    --out runs/dt --json`,
    )
    .action(async (o: RunFlags) => {
      const now = o.now === undefined ? undefined : parseNowOption(o.now);
      let target: number | undefined;
      if (o.precisionTarget !== undefined) {
        target = Number(o.precisionTarget);
        if (!(target > 0 && target <= 1))
          throw new DrivegateError('USAGE', 'bad option value', {
            field: '--precision-target',
            expected: 'a number in (0, 1]',
            found: JSON.stringify(o.precisionTarget),
          });
      }
      if (o.record === true || o.resume !== undefined) {
        await runRecorded(o, now, target);
        return;
      }
      const log = createLogger({ json: o.json === true ? true : undefined });
      const result = await evaluateModel({
        model: o.model,
        config: o.config,
        pack: o.pack,
        predictions: o.predictions,
        manifest: o.manifest,
        gt: o.gt,
        slices: o.slices,
        baseline: o.baseline,
        gates: o.gates,
        waivers: o.waivers,
        out: o.out,
        overwrite: o.overwrite === true,
        workers: parseIntOption('--workers', o.workers, 0, 64),
        batch: parseIntOption('--batch', o.batch, 1, 1024),
        name: o.name,
        version: o.modelVersion,
        charts: o.charts,
        now,
        metrics: {
          bins: parseIntOption('--bins', o.bins, 1, 1000),
          thresholdMode: o.thresholdMode,
          ...(target !== undefined ? { precisionTarget: target } : {}),
        },
        log,
      });
      if (o.json === true) {
        process.stdout.write(
          JSON.stringify(
            {
              out: result.out,
              exit_code: result.exitCode,
              files: result.files,
              model: result.report.model,
              overall: { map: result.report.overall.map, map50: result.report.overall.map50 },
              weighted_map: (result.report as Record<string, unknown>)['weighted_map'],
              deltas: result.report.deltas ? { overall: result.report.deltas.overall } : null,
              gate:
                result.verdict === null
                  ? null
                  : {
                      status: result.verdict.status,
                      summary: result.verdict.summary,
                      errors: result.verdict.errors,
                      failing_slices: result.verdict.blocking?.failing_slices.map((s) => s.name) ?? [],
                      next_actions: result.verdict.blocking?.next_actions ?? [],
                    },
              timings_ms: result.timings_ms,
            },
            null,
            2,
          ) + '\n',
        );
      } else {
        process.stdout.write(formatEvalResult(result) + '\n');
      }
      if (result.exitCode === 1)
        process.stderr.write(`drivegate: ${result.verdict?.summary ?? 'gate failed'}\n`);
      if (result.exitCode === 2)
        process.stderr.write(
          `drivegate: the gate could not be evaluated:\n${(result.verdict?.errors ?? []).map((e) => '  ' + e).join('\n')}\n`,
        );
      if (result.exitCode !== 0) process.exitCode = result.exitCode;
    });
}

async function runRecorded(o: RunFlags, now: Date | undefined, target: number | undefined): Promise<void> {
  const args: EvalRunArgs = {
    manifest: o.manifest,
    slices: o.slices,
    out: o.out,
    ...(o.model !== undefined ? { model: o.model } : {}),
    ...(o.config !== undefined ? { config: o.config } : {}),
    ...(o.pack !== undefined ? { pack: o.pack } : {}),
    ...(o.predictions !== undefined ? { predictions: o.predictions } : {}),
    ...(o.gt !== undefined ? { gt: o.gt } : {}),
    ...(o.baseline !== undefined ? { baseline: o.baseline } : {}),
    ...(o.gates !== undefined ? { gates: o.gates } : {}),
    ...(o.waivers !== undefined ? { waivers: o.waivers } : {}),
    ...(o.overwrite === true ? { overwrite: true } : {}),
    workers: parseIntOption('--workers', o.workers, 0, 64),
    batch: parseIntOption('--batch', o.batch, 1, 1024),
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.modelVersion !== undefined ? { version: o.modelVersion } : {}),
    charts: o.charts,
    ...(now !== undefined ? { now: now.toISOString() } : {}),
    bins: parseIntOption('--bins', o.bins, 1, 1000),
    thresholdMode: o.thresholdMode,
    ...(target !== undefined ? { precisionTarget: target } : {}),
  };
  const sources = [o.model, o.pack, o.predictions].filter((x) => x !== undefined).length;
  if (o.resume === undefined && sources !== 1) {
    throw new DrivegateError('USAGE', 'give exactly one of --model, --pack, --predictions', {
      field: '--model',
      found: `${sources} given`,
    });
  }
  const record = await runWorkflowFromCli(evalRunWorkflow, args, {
    ...(o.workspaceConfig !== undefined ? { config: o.workspaceConfig } : {}),
    ...(o.resume !== undefined ? { resume: o.resume } : {}),
    cache: o.cache,
    ...(o.json === true ? { json: true } : {}),
  });
  const res = record.steps[record.steps.length - 1]?.result as EvalRunStepResult | undefined;
  const summary = {
    run: record.id,
    status: record.status,
    steps: record.steps.map((s) => ({ name: s.name, status: s.status })),
    ...(res ?? {}),
  };
  if (o.json === true) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  else
    process.stdout.write(
      `run ${record.id}: ${record.steps.map((s) => `${s.name} ${s.status}`).join(', ')}\n` +
        `wrote ${res?.out ?? o.out}: mAP ${fmtFixed(res?.map ?? null)}${res?.gate ? `, gate ${res.gate}` : ''}\n`,
    );
  if (res !== undefined && res.exit_code !== 0) process.exitCode = res.exit_code;
}
