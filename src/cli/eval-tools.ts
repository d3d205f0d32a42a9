/**
 * Evaluation tools on the `drivegate eval` group: `validate` (dataset integrity and leakage),
 * `gate` (the gate engine over eval reports), `calibration`, `thresholds` and `confusion`
 * (detection metrics from COCO files). Thin: parse options, call src/eval, print.
 * Exit codes: 0 ok; 1 a check or gate said no (findings, leakage, failing rules); 2 bad input.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { DrivegateError, badInput } from '../core/errors.js';
import { atomicWriteFile } from '../core/fsutil.js';
import { packageRoot } from '../core/paths.js';
import { formatVerdict, runGate } from '../eval/gates/index.js';
import { validateDatasets } from '../eval/integrity/index.js';
import type { ValidationReport } from '../eval/integrity/index.js';
import { detectionCalibration } from '../eval/metrics/calibration.js';
import type { BinStrategy, CalibrationResult } from '../eval/metrics/calibration.js';
import { confusionMatrix, formatConfusion } from '../eval/metrics/confusion.js';
import { matchDetections, readCocoPair } from '../eval/metrics/detections.js';
import { applyScoreThresholds, tuneThresholds } from '../eval/metrics/thresholds.js';
import type { ThresholdResult } from '../eval/metrics/thresholds.js';
import { parseInferenceConfig } from '../runtime/config.js';
import { parseNowOption } from './option-values.js';

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
};
const json = (v: unknown): void => out(JSON.stringify(v, null, 2));

function number(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new DrivegateError('USAGE', 'bad option value', {
        field: name,
        expected: `a number in [${min}, ${max}]`,
        found: JSON.stringify(v),
      });
    }
    return n;
  };
}

function integer(name: string, min: number, max: number): (v: string) => number {
  const parse = number(name, min, max);
  return (v) => {
    const n = parse(v);
    if (!Number.isInteger(n))
      throw new DrivegateError('USAGE', 'bad option value', {
        field: name,
        expected: 'an integer',
        found: JSON.stringify(v),
      });
    return n;
  };
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Marks the command as failed (exit 1) with a line on stderr, leaving stdout to the result. */
function failed(message: string): void {
  process.stderr.write(`drivegate: ${message}\n`);
  process.exitCode = 1;
}

/** Adds the evaluation tools to the `eval` command group. */
export function registerEvalTools(evalCmd: Command): void {
  evalCmd
    .command('validate')
    .description('Validate dataset manifests: record schema, expectations, image files, split leakage')
    .requiredOption('--manifest <file>', 'a manifest (JSON lines); repeat for several splits', collect, [])
    .option('--expectations <file>', 'an expectation suite (YAML)')
    .option('--leakage-policy <file>', 'a leakage policy (YAML); scene separation is always checked')
    .option('--check-files', 'check that every image exists and its sha256 matches (streamed)')
    .option(
      '--max-findings <n>',
      'failing records listed per check',
      integer('--max-findings', 1, 100000),
      50,
    )
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Exit code 0 when every check passes, 1 when any finds a problem (the report lists them), 2 when
an input cannot be read (missing file, broken YAML, unknown expectation type).

Example:
  drivegate eval validate --manifest data/golden_train.manifest --manifest data/golden_val.manifest \\
    --manifest data/golden_test.manifest --expectations examples/expectations.yaml \\
    --leakage-policy examples/leakage.yaml --check-files`,
    )
    .action(
      async (o: {
        manifest: string[];
        expectations?: string;
        leakagePolicy?: string;
        checkFiles?: boolean;
        maxFindings: number;
        json?: boolean;
      }) => {
        if (o.manifest.length === 0)
          throw new DrivegateError('USAGE', 'at least one --manifest is needed', { field: '--manifest' });
        const report = await validateDatasets({
          manifests: o.manifest,
          expectations: o.expectations,
          leakagePolicy: o.leakagePolicy,
          checkFiles: o.checkFiles === true,
          cap: o.maxFindings,
        });
        if (o.json === true) json(report);
        else out(formatValidation(report));
        if (!report.passed) failed(`validation failed: ${report.failures.length} check(s) found problems`);
      },
    );

  evalCmd
    .command('gate')
    .description('Evaluate gate rules on an eval report against a baseline report')
    .requiredOption('--report <file>', 'the candidate eval_report.json')
    .option('--baseline <file>', 'the baseline (production) eval_report.json')
    .option('--gates <file>', 'the gate policy (YAML)', join(packageRoot(), 'examples', 'gates.yaml'))
    .option('--slices <file>', 'slice definitions (slices.yaml): weights and critical flags')
    .option('--waivers <file>', 'waiver records (YAML or JSON)')
    .addOption(new Option('--now <iso>', 'the time waiver expiry is checked against (default: now)'))
    .option('--json', 'print the verdict as JSON')
    .addHelpText(
      'after',
      `
Exit code 0 when the gate passes, 1 when it fails (the verdict names the failing rules, slices and
next actions), 2 when it cannot be evaluated (a field missing from a report, a baseline of another
schema version, a broken policy).

Example:
  drivegate eval gate --report runs/candidate/eval_report.json --baseline runs/prod/eval_report.json \\
    --gates examples/gates.yaml --slices data/slices.yaml --waivers examples/waivers.yaml`,
    )
    .action(
      async (o: {
        report: string;
        baseline?: string;
        gates: string;
        slices?: string;
        waivers?: string;
        now?: string;
        json?: boolean;
      }) => {
        const now = o.now === undefined ? new Date() : parseNowOption(o.now);
        const verdict = await runGate(
          { report: o.report, baseline: o.baseline, gates: o.gates, slices: o.slices, waivers: o.waivers },
          { now },
        );
        if (o.json === true) json(verdict);
        else out(formatVerdict(verdict));
        if (verdict.status === 'error') {
          process.stderr.write(
            `drivegate: gate could not be evaluated:\n${verdict.errors.map((e) => '  ' + e).join('\n')}\n`,
          );
          process.exitCode = 2;
        } else if (verdict.status === 'fail') {
          failed(verdict.summary);
        }
      },
    );

  const coco = (cmd: Command): Command =>
    cmd
      .requiredOption('--gt <file>', 'COCO ground truth (.json or .json.gz)')
      .requiredOption('--dt <file>', 'COCO results: a list of detections (.json or .json.gz)')
      .option('--iou <t>', 'IoU threshold of a match', number('--iou', 0, 1), 0.5);

  coco(evalCmd.command('calibration'))
    .description(
      'Calibration of detection scores against "matched at IoU t": ECE, MCE, Brier, reliability bins',
    )
    .option('--bins <n>', 'number of bins', integer('--bins', 1, 1000), 15)
    .addOption(new Option('--strategy <s>', 'bin layout').choices(['uniform', 'quantile']).default('uniform'))
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
uniform = equal-width bins on [0, 1]; quantile = equal-mass bins (as scikit-learn's calibration_curve).

Example:
  drivegate eval calibration --gt data/golden_val.json --dt runs/candidate/detections.json --strategy quantile`,
    )
    .action(
      async (o: {
        gt: string;
        dt: string;
        iou: number;
        bins: number;
        strategy: BinStrategy;
        json?: boolean;
      }) => {
        const { gt, dt } = await readCocoPair(o.gt, o.dt);
        const result = detectionCalibration(matchDetections(gt, dt, o.iou), {
          bins: o.bins,
          strategy: o.strategy,
        });
        if (o.json === true) return json(result);
        const lines = [
          `detections ${result.overall.count} (ignored on crowd regions: ${result.ignored}), IoU ${result.iou_threshold}, ${result.overall.n_bins} ${result.overall.strategy} bins`,
          summaryLine('overall', result.overall),
          ...Object.entries(result.per_class).map(([k, v]) => summaryLine(k, v)),
          '',
          'bin  lower   upper   count  confidence  accuracy',
          ...result.overall.bins.map(
            (b) =>
              `${String(b.index).padStart(3)}  ${b.lower.toFixed(4)}  ${b.upper.toFixed(4)}  ${String(b.count).padStart(5)}  ` +
              `${b.mean_confidence === null ? '         -' : b.mean_confidence.toFixed(4).padStart(10)}  ${b.accuracy === null ? '       -' : b.accuracy.toFixed(4).padStart(8)}`,
          ),
        ];
        out(lines.join('\n'));
      },
    );

  coco(evalCmd.command('thresholds'))
    .description('Per-class score thresholds: best F1, or the lowest threshold meeting a precision target')
    .addOption(new Option('--mode <m>', 'what to optimise').choices(['f1', 'precision']).default('f1'))
    .option('--target <p>', 'precision target for --mode precision', number('--target', 0, 1))
    .option(
      '--out <file>',
      'write {"score_thresholds": {...}} into this inference_config.json (other keys kept)',
    )
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
A threshold t keeps detections with score >= t. Classes with no qualifying threshold are left out
of score_thresholds (postprocess.score_threshold applies to them) and listed as unmet. --out
rewrites an existing inference config atomically, after checking the result still loads.

Example:
  drivegate eval thresholds --gt data/golden_val.json --dt runs/candidate/detections.json \\
    --mode precision --target 0.9 --out pack/inference_config.json`,
    )
    .action(
      async (o: {
        gt: string;
        dt: string;
        iou: number;
        mode: 'f1' | 'precision';
        target?: number;
        out?: string;
        json?: boolean;
      }) => {
        if (o.mode === 'precision' && o.target === undefined) {
          throw new DrivegateError('USAGE', '--mode precision needs --target', {
            field: '--target',
            expected: 'a precision in (0, 1]',
          });
        }
        const { gt, dt } = await readCocoPair(o.gt, o.dt);
        const result = tuneThresholds(matchDetections(gt, dt, o.iou), {
          mode: o.mode,
          ...(o.target !== undefined ? { target: o.target } : {}),
        });
        if (o.out !== undefined) await writeThresholds(o.out, result);
        if (o.json === true) return json(result);
        const lines = result.classes.map((c) =>
          c.threshold === null
            ? `${c.class.padEnd(14)} -        (${c.reason ?? 'none'})`
            : `${c.class.padEnd(14)} ${c.threshold.toFixed(4)}   P ${c.precision!.toFixed(3)}  R ${c.recall!.toFixed(3)}  F1 ${c.f1!.toFixed(3)}  (TP ${c.tp}, FP ${c.fp}, GT ${c.num_gt})`,
        );
        out(
          [
            `mode ${result.mode}${result.target !== undefined ? ` (precision >= ${result.target})` : ''}, IoU ${result.iou_threshold}`,
            ...lines,
          ].join('\n'),
        );
        if (o.out !== undefined) out(`wrote score_thresholds to ${o.out}`);
        if (result.unmet.length > 0)
          process.stderr.write(`drivegate: no threshold for: ${result.unmet.join(', ')}\n`);
      },
    );

  coco(evalCmd.command('confusion'))
    .description(
      'Detection confusion matrix across classes (rows: ground truth + background, columns: predictions + background)',
    )
    .option('--score <s>', 'minimum detection score', number('--score', 0, 1), 0.5)
    .option('--json', 'print the matrix as JSON')
    .addHelpText(
      'after',
      `
Each ground truth is matched to the best-IoU free detection of any class with IoU >= --iou
(greedy by IoU); unmatched ground truth counts as missed (column background), unmatched
detections as false positives (row background). See docs/evaluation.md for the exact rule.

Example:
  drivegate eval confusion --gt data/golden_val.json --dt runs/candidate/detections.json --score 0.3`,
    )
    .action(async (o: { gt: string; dt: string; iou: number; score: number; json?: boolean }) => {
      const { gt, dt } = await readCocoPair(o.gt, o.dt);
      const cm = confusionMatrix(gt, dt, { iouThreshold: o.iou, scoreThreshold: o.score });
      if (o.json === true) return json(cm);
      out(
        `IoU >= ${cm.iou_threshold}, score >= ${cm.score_threshold}; ignored on crowd regions: ${cm.ignored_detections}\n${formatConfusion(cm)}`,
      );
    });
}

function summaryLine(name: string, r: CalibrationResult): string {
  return `${name.padEnd(14)} n ${String(r.count).padStart(6)}  ECE ${r.ece.toFixed(4)}  MCE ${r.mce.toFixed(4)}  Brier ${r.brier.toFixed(4)}  conf ${r.mean_confidence.toFixed(3)}  acc ${r.accuracy.toFixed(3)}`;
}

/** Sets postprocess.score_thresholds in an existing inference config, checked by the runtime's schema. */
async function writeThresholds(file: string, result: ThresholdResult): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DrivegateError(
      code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_INPUT',
      `cannot read inference config (${String(code)})`,
      {
        file,
        expected: 'an existing inference_config.json (use --json for the thresholds alone)',
        cause: err,
      },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw badInput('inference config is not JSON', {
      file,
      expected: 'a JSON object',
      found: (err as Error).message,
    });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw badInput('inference config is not a JSON object', { file, expected: 'a JSON object' });
  }
  const updated = applyScoreThresholds(parsed as Record<string, unknown>, result);
  // The runtime must still load it (e.g. every threshold names one of its classes).
  parseInferenceConfig(updated, file);
  await atomicWriteFile(file, JSON.stringify(updated, null, 2) + '\n');
}

/** The validation report as text for people. */
export function formatValidation(r: ValidationReport): string {
  const lines: string[] = [];
  for (const m of r.manifests) {
    const exp = m.expectations;
    const parts = [
      `${m.records} records`,
      m.schema.passed ? 'schema ok' : `schema: ${m.schema.failures.total} bad record(s)`,
      ...(exp
        ? [`expectations ${exp.results.filter((x) => x.success).length}/${exp.results.length} passed`]
        : []),
      ...(m.files
        ? [m.files.passed ? `files ok (${m.files.checked})` : `files: ${m.files.findings.total} problem(s)`]
        : []),
    ];
    lines.push(`${m.passed ? 'ok  ' : 'FAIL'} ${m.file}: ${parts.join(', ')}`);
    for (const f of m.schema.failures.items.slice(0, 10))
      lines.push(`       ${f.file}:${f.line}: ${f.problems.join('; ')}`);
    if (m.schema.failures.total > 10)
      lines.push(`       ... ${m.schema.failures.total - 10} more (see --json)`);
    for (const e of exp?.results.filter((x) => !x.success) ?? []) {
      const what = `${e.type}${e.column !== undefined ? `(${e.column})` : ''}`;
      const detail =
        e.error ??
        (e.unexpected_count !== undefined && e.type.startsWith('expect_column_values')
          ? `${e.unexpected_count} unexpected`
          : `observed ${JSON.stringify(e.observed)}`);
      lines.push(`       expectation ${what} failed: ${detail}`);
      for (const u of e.unexpected?.items.slice(0, 5) ?? [])
        lines.push(`         ${u.file}:${u.line}: ${JSON.stringify(u.value)}`);
    }
    for (const f of m.files?.findings.items.slice(0, 10) ?? [])
      lines.push(`       ${f.file}:${f.line}: ${f.image}: ${f.problem}`);
  }
  const lk = r.leakage;
  lines.push(
    `${lk.passed ? 'ok  ' : 'FAIL'} leakage across splits ${JSON.stringify(lk.splits)}${lk.policy ? ` (policy ${lk.policy})` : ''}`,
  );
  for (const c of lk.checks) lines.push(`       ${c.passed ? 'ok  ' : 'FAIL'} ${c.name}: ${c.rationale}`);
  if (lk.note !== undefined) lines.push(`       note: ${lk.note}`);
  lines.push(r.passed ? 'PASS' : `FAIL: ${r.failures.length} check(s) found problems`);
  return lines.join('\n');
}
