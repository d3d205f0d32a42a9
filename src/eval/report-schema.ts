/**
 * The evaluation report, `eval_report.json`, schema v1 (zod): what `drivegate eval run` writes and
 * what the gate engine reads. Versioned by `schema_version`; a reader refuses other versions with
 * BAD_INPUT naming the file and the version found. Objects are loose: v1 readers keep fields they
 * do not know (additions are compatible; renames and removals need v2).
 *
 * Metric values are numbers, or null where a metric cannot be computed (COCO's -1, e.g. AP of a
 * class without ground truth in a slice). AP-like metrics are on a 0..1 scale.
 */
import { z } from 'zod';
import { DrivegateError, badInput } from '../core/errors.js';
import { readJsonFile } from './read-json.js';

/** The report schema version this code reads and writes. */
export const EVAL_REPORT_SCHEMA_VERSION = 1;

const metric = z.number().finite().nullable();

/** Per-class metrics: AP@[.5:.95], AP50, and optional counts and operating points. */
export const classMetricsSchema = z.looseObject({
  ap: metric,
  ap50: metric.optional(),
  num_gt: z.number().int().nonnegative().optional(),
  precision: metric.optional(),
  recall: metric.optional(),
});

/**
 * A set of detection metrics (overall or of one slice). `map` is COCO AP@[.5:.95] (area all,
 * maxDets 100), `map50` AP@.5, then optional further COCO stats and per-class metrics.
 */
export const metricSetSchema = z.looseObject({
  map: metric,
  map50: metric,
  map75: metric.optional(),
  map_small: metric.optional(),
  map_medium: metric.optional(),
  map_large: metric.optional(),
  mar1: metric.optional(),
  mar10: metric.optional(),
  mar100: metric.optional(),
  per_class: z.record(z.string(), classMetricsSchema).optional(),
});

/** A numeric range condition of a slice filter. */
export const rangeConditionSchema = z.strictObject({
  gte: z.number().optional(),
  gt: z.number().optional(),
  lte: z.number().optional(),
  lt: z.number().optional(),
});

/**
 * A slice filter: column -> exact value, list of accepted values, or a range {gte, gt, lte, lt}
 * (all columns must match), as the reference world's slices.yaml writes them.
 */
export const sliceFilterSchema = z.record(
  z.string(),
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.array(z.union([z.string(), z.number(), z.boolean()])),
    rangeConditionSchema,
  ]),
);

/**
 * A zod refinement for an object with a `slices` list (a report, a slices file): each slice name
 * appears once; a repeat is an issue at `slices[i].name` of the second occurrence.
 */
export function uniqueSliceNames(
  value: { slices: ReadonlyArray<{ name: string }> },
  ctx: z.RefinementCtx,
): void {
  const seen = new Set<string>();
  value.slices.forEach((s, i) => {
    if (seen.has(s.name))
      ctx.addIssue({
        code: 'custom',
        path: ['slices', i, 'name'],
        message: `a unique slice name (${s.name} repeats)`,
      });
    seen.add(s.name);
  });
}

/**
 * One slice of the evaluation set and its metrics. `eval run` also writes `scoring` (how the slice
 * was scored, see src/eval/slices.ts), `num_gt` (ground-truth objects the slice scores) and `empty`
 * (true when it has none: its metrics are all null and a gate on it is an error, never a pass).
 */
export const sliceReportSchema = z.looseObject({
  name: z.string().min(1),
  description: z.string().optional(),
  filter: sliceFilterSchema,
  weight: z.number().finite().nonnegative(),
  critical: z.boolean(),
  images: z.number().int().nonnegative().optional(),
  scoring: z.enum(['image', 'category', 'area-range', 'recall-oriented']).optional(),
  num_gt: z.number().int().nonnegative().optional(),
  empty: z.boolean().optional(),
  metrics: metricSetSchema,
});

/** Calibration summary (see metrics/calibration.ts). */
export const calibrationSummarySchema = z.looseObject({
  ece: metric,
  mce: metric.optional(),
  brier: metric.optional(),
  strategy: z.enum(['uniform', 'quantile']).optional(),
  n_bins: z.number().int().positive().optional(),
  iou_threshold: z.number().optional(),
});

/** Latency summary, milliseconds per image (or per batch: say so in `unit`). */
export const latencySummarySchema = z.looseObject({
  p50_ms: metric.optional(),
  p95_ms: metric,
  p99_ms: metric.optional(),
  mean_ms: metric.optional(),
  device: z.string().optional(),
  batch_size: z.number().int().positive().optional(),
});

/** Differences candidate - baseline, computed by computeDeltas. */
export const deltasSchema = z.looseObject({
  baseline: z.looseObject({
    name: z.string(),
    version: z.string().optional(),
    digest: z.string().optional(),
  }),
  overall: z.record(z.string(), metric),
  slices: z.record(z.string(), z.record(z.string(), metric)),
  calibration: z.record(z.string(), metric).optional(),
  latency: z.record(z.string(), metric).optional(),
});

/** eval_report.json v1. */
export const evalReportSchema = z
  .looseObject({
    schema_version: z.literal(EVAL_REPORT_SCHEMA_VERSION),
    model: z.looseObject({
      name: z.string().min(1),
      version: z.string().optional(),
      digest: z.string().optional(),
    }),
    dataset: z.looseObject({
      name: z.string().min(1),
      split: z.string().optional(),
      manifest: z.string().optional(),
      manifest_sha256: z.string().optional(),
      images: z.number().int().nonnegative().optional(),
    }),
    created_at: z.string().optional(),
    overall: metricSetSchema,
    slices: z.array(sliceReportSchema),
    calibration: calibrationSummarySchema.optional(),
    latency: latencySummarySchema.optional(),
    deltas: deltasSchema.optional(),
    /** Weighted mean of the slices' mAP over non-empty slices (written by eval run). */
    weighted_map: z
      .looseObject({
        value: metric,
        weight_total: z.number().finite().nonnegative(),
        slices_used: z.number().int().nonnegative(),
        empty_excluded: z.array(z.string()),
      })
      .optional(),
    /** The gate's verdict in short, when eval run applied one (full verdict: gate_verdict.json). */
    gate: z
      .looseObject({ status: z.enum(['pass', 'fail', 'error']), policy: z.string(), summary: z.string() })
      .optional(),
  })
  .superRefine(uniqueSliceNames);

/** An evaluation report (v1). */
export type EvalReport = z.infer<typeof evalReportSchema>;
/** A metric set. */
export type MetricSet = z.infer<typeof metricSetSchema>;
/** One slice of a report. */
export type SliceReport = z.infer<typeof sliceReportSchema>;

/**
 * Validates a parsed report. `file` names it in errors. A report of another schema version is
 * BAD_INPUT naming the file and the version found.
 */
export function parseEvalReport(value: unknown, file: string): EvalReport {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badInput('not an eval report', {
      file,
      expected: 'a JSON object',
      found: Array.isArray(value) ? 'a list' : String(value),
    });
  }
  const version = (value as Record<string, unknown>)['schema_version'];
  if (version !== EVAL_REPORT_SCHEMA_VERSION) {
    throw badInput('unsupported eval_report schema version', {
      file,
      field: 'schema_version',
      expected: String(EVAL_REPORT_SCHEMA_VERSION),
      found: version === undefined ? 'no schema_version' : JSON.stringify(version),
    });
  }
  const r = evalReportSchema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw badInput('invalid eval report', {
    file,
    field:
      issue?.path
        .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
        .join('.')
        .replace(/\.\[/g, '[') || '(document)',
    expected: issue?.message ?? 'eval_report v1',
  });
}

/** Reads and validates an eval_report.json. */
export async function readEvalReport(file: string): Promise<EvalReport> {
  const value = await readJsonFile(file).catch((err: unknown) => {
    if (err instanceof DrivegateError) throw err;
    throw badInput('cannot read eval report', { file, cause: err });
  });
  return parseEvalReport(value, file);
}

function numericDiffs(
  a: Record<string, unknown> | undefined,
  b: Record<string, unknown> | undefined,
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  if (a === undefined || b === undefined) return out;
  for (const [k, v] of Object.entries(a)) {
    const w = b[k];
    if (typeof v === 'number' && typeof w === 'number') out[k] = v - w;
    else if ((v === null || typeof v === 'number') && (w === null || typeof w === 'number')) out[k] = null;
  }
  return out;
}

/**
 * The deltas section: candidate - baseline for every numeric metric both have (overall, each
 * slice by name, calibration, latency); null where either side is null.
 */
export function computeDeltas(
  candidate: EvalReport,
  baseline: EvalReport,
): NonNullable<EvalReport['deltas']> {
  const slices: Record<string, Record<string, number | null>> = {};
  const base = new Map(baseline.slices.map((s) => [s.name, s] as const));
  for (const s of candidate.slices) {
    const b = base.get(s.name);
    if (b !== undefined) slices[s.name] = numericDiffs(s.metrics, b.metrics);
  }
  return {
    baseline: {
      name: baseline.model.name,
      ...(baseline.model.version !== undefined ? { version: baseline.model.version } : {}),
      ...(baseline.model.digest !== undefined ? { digest: baseline.model.digest } : {}),
    },
    overall: numericDiffs(candidate.overall, baseline.overall),
    slices,
    ...(candidate.calibration && baseline.calibration
      ? { calibration: numericDiffs(candidate.calibration, baseline.calibration) }
      : {}),
    ...(candidate.latency && baseline.latency
      ? { latency: numericDiffs(candidate.latency, baseline.latency) }
      : {}),
  };
}
