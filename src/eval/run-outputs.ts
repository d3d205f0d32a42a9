/**
 * The report files of `drivegate eval run`, built from the evaluation report (and the gate verdict):
 * slice_metrics.parquet rows, charts, evaluation_summary.md and blocking_report.md. Builders are
 * pure; `writeCharts` renders through src/report.
 */
import { join } from 'node:path';
import type { BulletItem, SliceMetricRow, SummarySection } from '../report/index.js';
import {
  SUMMARY_SECTIONS,
  code,
  confusionMatrixSpec,
  escapeMarkdown,
  fmtDelta,
  fmtFixed,
  fmtInt,
  prCurveSpec,
  reliabilitySpec,
  sliceComparisonSpec,
  summaryMarkdown,
  writeChart,
} from '../report/index.js';
import type { GateVerdict } from './gates/engine.js';
import { filterWords } from './gates/slices.js';
import type { EvalReport } from './report-schema.js';
import type { EvalMetrics } from './run-metrics.js';

/** Changes smaller than this (metric units) count as unchanged in the summary. */
export const SUMMARY_TOLERANCE = 0.005;

/** Parquet metric names of the report's metric keys (COCO's names). */
const COCO_KEYS: ReadonlyArray<[string, string]> = [
  ['map', 'AP'],
  ['map50', 'AP50'],
  ['map75', 'AP75'],
  ['map_small', 'APs'],
  ['map_medium', 'APm'],
  ['map_large', 'APl'],
  ['mar1', 'AR1'],
  ['mar10', 'AR10'],
  ['mar100', 'AR100'],
  ['mar_small', 'ARs'],
  ['mar_medium', 'ARm'],
  ['mar_large', 'ARl'],
];
const CLASS_KEYS: ReadonlyArray<[string, string]> = [
  ['ap', 'AP'],
  ['ap50', 'AP50'],
  ['ap75', 'AP75'],
  ['max_recall50', 'max_recall50'],
  ['threshold', 'threshold'],
  ['precision', 'precision'],
  ['recall', 'recall'],
  ['f1', 'F1'],
  ['ece', 'ECE'],
];
const CAL_KEYS: ReadonlyArray<[string, string]> = [
  ['ece', 'ECE'],
  ['ece_equal_mass', 'ECE_equal_mass'],
  ['mce', 'MCE'],
  ['brier', 'Brier'],
];

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The slice named `name` of a report (`overall` is the whole set). */
function sliceOf(report: EvalReport | null, name: string): Obj | undefined {
  if (report === null) return undefined;
  if (name === 'overall') return { metrics: report.overall, calibration: report.calibration };
  return report.slices.find((s) => s.name === name) as Obj | undefined;
}

/**
 * The rows of slice_metrics.parquet: one per slice x class x metric ("overall" is the whole
 * evaluation set; class "all" the class-averaged COCO numbers and calibration). A metric the
 * candidate cannot compute on a slice (an empty slice) is NaN, so aggregates over it are NaN rather
 * than silently lower; metrics a slice's scoring does not define (calibration of recall-oriented
 * slices) have no row.
 */
export function sliceMetricRows(report: EvalReport, baseline: EvalReport | null): SliceMetricRow[] {
  const rows: SliceMetricRow[] = [];
  const entries: Array<{ name: string; s: Obj; images: number; numGt: number }> = [
    {
      name: 'overall',
      s: { metrics: report.overall, calibration: report.calibration },
      images: report.dataset.images ?? 0,
      numGt: Object.values(report.overall.per_class ?? {}).reduce((a, c) => a + (c.num_gt ?? 0), 0),
    },
    ...report.slices.map((s) => ({
      name: s.name,
      s: s as Obj,
      images: s.images ?? 0,
      numGt: typeof (s as Obj)['num_gt'] === 'number' ? ((s as Obj)['num_gt'] as number) : 0,
    })),
  ];
  for (const e of entries) {
    const b = sliceOf(baseline, e.name);
    const metrics = obj(e.s['metrics']) ?? {};
    const bMetrics = obj(b?.['metrics']);
    const push = (cls: string, metric: string, v: unknown, bv: unknown, nObj: number): void => {
      rows.push({
        slice: e.name,
        class: cls,
        metric,
        value: num(v) ?? NaN,
        baseline_value: num(bv),
        ...(num(v) === null ? { delta: null } : {}),
        n_images: e.images,
        n_objects: nObj,
      });
    };
    for (const [key, name] of COCO_KEYS) {
      if (key in metrics) push('all', name, metrics[key], bMetrics?.[key], e.numGt);
    }
    const cal = obj(e.s['calibration']);
    const bCal = obj(b?.['calibration']);
    if (cal !== undefined)
      for (const [key, name] of CAL_KEYS) push('all', name, cal[key], bCal?.[key], e.numGt);
    const perClass = obj(metrics['per_class']) ?? {};
    const bPerClass = obj(bMetrics?.['per_class']);
    for (const [cls, cm] of Object.entries(perClass)) {
      const c = obj(cm) ?? {};
      const bc = obj(bPerClass?.[cls]);
      const n = typeof c['num_gt'] === 'number' ? c['num_gt'] : 0;
      for (const [key, name] of CLASS_KEYS) if (key in c) push(cls, name, c[key], bc?.[key], n);
    }
  }
  return rows;
}

/** Chart files written under charts/ (relative paths of the .svg, for Markdown links). */
export interface ChartIndex {
  pr_curves?: string;
  reliability?: string;
  reliability_equal_mass?: string;
  confusion_matrix?: string;
  slices_map?: string;
  pr_curves_critical_slices?: string;
}

/** Renders the charts into `<dir>/charts/`. */
export async function writeCharts(
  dir: string,
  report: EvalReport,
  metrics: EvalMetrics,
  baseline: EvalReport | null,
): Promise<ChartIndex> {
  const out: ChartIndex = {};
  const at = (name: keyof ChartIndex): string => join(dir, 'charts', name);
  if (metrics.pr_curves.length > 0) {
    await writeChart(
      prCurveSpec(
        metrics.pr_curves.map((c) => ({
          class: c.class,
          points: c.recall.map((r, i) => ({ recall: r, precision: c.precision_iou50[i]! })),
          ap: c.ap50,
        })),
        { title: 'Precision-recall at IoU 0.5 (all images; AP50 in the legend)', width: 640, height: 400 },
      ),
      at('pr_curves'),
    );
    out.pr_curves = 'charts/pr_curves.svg';
  }
  const critical = metrics.slices.filter((s) => s.critical && s.pr_curve50 !== null);
  if (critical.length > 0) {
    await writeChart(
      prCurveSpec(
        critical.map((s) => ({
          class: s.name,
          points: s.pr_curve50!.map((p, i) => ({ recall: i / 100, precision: p })),
          ...(s.metrics.map50 !== null ? { ap: s.metrics.map50 } : {}),
        })),
        {
          title: 'Precision-recall at IoU 0.5 on the critical slices (AP50 in the legend)',
          width: 680,
          height: 420,
        },
      ),
      at('pr_curves_critical_slices'),
    );
    out.pr_curves_critical_slices = 'charts/pr_curves_critical_slices.svg';
  }
  const cu = metrics.calibration.uniform;
  const cq = metrics.calibration.quantile;
  if (cu !== null && cq !== null) {
    await writeChart(
      reliabilitySpec(cu.overall.bins, {
        ece: cu.overall.ece,
        title: `Reliability, ${cu.overall.n_bins} equal-width bins`,
        width: 480,
        height: 420,
      }),
      at('reliability'),
    );
    out.reliability = 'charts/reliability.svg';
    await writeChart(
      reliabilitySpec(cq.overall.bins, {
        ece: cq.overall.ece,
        title: `Reliability, ${cq.overall.n_bins} equal-mass bins`,
        width: 480,
        height: 420,
      }),
      at('reliability_equal_mass'),
    );
    out.reliability_equal_mass = 'charts/reliability_equal_mass.svg';
  }
  await writeChart(
    confusionMatrixSpec(metrics.confusion, {
      title: `Confusion (IoU 0.5, score >= ${metrics.confusion.score_threshold})`,
      width: 520,
      height: 460,
    }),
    at('confusion_matrix'),
  );
  out.confusion_matrix = 'charts/confusion_matrix.svg';
  const comparable = report.slices.filter((s) => typeof s.metrics.map === 'number');
  if (comparable.length > 0) {
    const base = new Map((baseline?.slices ?? []).map((s) => [s.name, s.metrics.map] as const));
    await writeChart(
      sliceComparisonSpec(
        comparable.map((s) => ({
          slice: s.name,
          candidate: s.metrics.map!,
          baseline: base.get(s.name) ?? null,
        })),
        {
          metric: 'mAP',
          title: baseline === null ? 'mAP by slice' : `mAP by slice vs ${baseline.model.name}`,
          width: 760,
          height: Math.max(300, 28 * comparable.length + 80),
        },
      ),
      at('slices_map'),
    );
    out.slices_map = 'charts/slices_map.svg';
  }
  return out;
}

interface Change {
  what: string;
  slice: string | null;
  delta: number;
  value: number | null;
  critical: boolean;
  filter: Record<string, unknown> | null;
  /** Ground-truth objects behind the number (small counts: read the change with care). */
  objects?: number;
}

/** Metric changes vs the baseline beyond the tolerance (mAP per slice, overall metrics, ECE, p95). */
export function changesVsBaseline(
  report: EvalReport,
  baseline: EvalReport,
): { improved: Change[]; regressed: Change[] } {
  const improved: Change[] = [];
  const regressed: Change[] = [];
  const add = (c: Change, higherIsBetter: boolean, tol: number): void => {
    if (Math.abs(c.delta) <= tol) return;
    (c.delta > 0 === higherIsBetter ? improved : regressed).push(c);
  };
  for (const [key, name] of [
    ['map', 'mAP'],
    ['map50', 'AP50'],
    ['map75', 'AP75'],
  ] as const) {
    const v = num(report.overall[key]);
    const b = num(baseline.overall[key]);
    if (v !== null && b !== null)
      add(
        { what: `overall ${name}`, slice: null, delta: v - b, value: v, critical: false, filter: null },
        true,
        SUMMARY_TOLERANCE,
      );
  }
  const base = new Map(baseline.slices.map((s) => [s.name, s] as const));
  for (const s of report.slices) {
    const v = num(s.metrics.map);
    const b = num(base.get(s.name)?.metrics.map);
    if (v === null || b === null) continue;
    add(
      {
        ...(typeof s.num_gt === 'number' ? { objects: s.num_gt } : {}),
        what: `mAP on slice '${s.name}'`,
        slice: s.name,
        delta: v - b,
        value: v,
        critical: s.critical,
        filter: s.filter,
      },
      true,
      SUMMARY_TOLERANCE,
    );
  }
  const ece = num(report.calibration?.ece);
  const bece = num(baseline.calibration?.ece);
  if (ece !== null && bece !== null)
    add(
      { what: 'ECE', slice: null, delta: ece - bece, value: ece, critical: false, filter: null },
      false,
      0.002,
    );
  const p95 = num(report.latency?.p95_ms);
  const bp95 = num(baseline.latency?.p95_ms);
  if (p95 !== null && bp95 !== null)
    add(
      { what: 'p95 latency (ms)', slice: null, delta: p95 - bp95, value: p95, critical: false, filter: null },
      false,
      Math.max(0.5, 0.05 * bp95),
    );
  improved.sort((a, b) => b.delta - a.delta);
  regressed.sort((a, b) => Number(b.critical) - Number(a.critical) || a.delta - b.delta);
  return { improved, regressed };
}

const changeText = (c: Change): string => {
  const notes = [c.critical ? 'critical' : '', c.objects !== undefined ? `${fmtInt(c.objects)} objects` : '']
    .filter((x) => x !== '')
    .join(', ');
  return `${escapeMarkdown(c.what)}${notes ? ` (${notes})` : ''}: ${fmtFixed(c.value)} (${fmtDelta(c.delta)})`;
};

/** "Mine more night + pedestrian frames" for a slice filter. */
function mineText(name: string, filter: Record<string, unknown>): string {
  const words = Object.keys(filter).length === 0 ? 'frames of every kind' : `${filterWords(filter)} frames`;
  return `Mine and label more ${words} (slice ${code(name)}, filter ${code(JSON.stringify(filter))})`;
}

/**
 * Concrete next actions: the gate's actions, then (for slices the gate did not already name) the
 * slices that regressed most, the weakest slices, slices without test data, calibration and
 * thresholds. Each slice is named once.
 */
export function nextActions(
  report: EvalReport,
  baseline: EvalReport | null,
  verdict: GateVerdict | null,
): string[] {
  const out: string[] = [];
  const named = new Set<string>(verdict?.blocking?.failing_slices.map((s) => s.name) ?? []);
  const push = (s: string): void => {
    if (!out.includes(s)) out.push(s);
  };
  for (const a of verdict?.blocking?.next_actions ?? []) push(a);
  if (baseline !== null) {
    const regressed = changesVsBaseline(report, baseline).regressed.filter(
      (c) => c.slice !== null && c.filter !== null && !named.has(c.slice),
    );
    for (const c of regressed.slice(0, 5)) {
      named.add(c.slice!);
      push(`${mineText(c.slice!, c.filter!)}: mAP ${fmtDelta(c.delta, { style: 'sign' })} vs baseline`);
    }
  }
  const overall = num(report.overall.map) ?? 0;
  const weakest = report.slices
    .filter(
      (s) =>
        typeof s.metrics.map === 'number' &&
        Object.keys(s.filter).length > 0 &&
        !named.has(s.name) &&
        s.metrics.map < overall - SUMMARY_TOLERANCE,
    )
    .sort((a, b) => Number(b.critical) - Number(a.critical) || a.metrics.map! - b.metrics.map!)
    .slice(0, 3);
  for (const s of weakest)
    push(
      `${mineText(s.name, s.filter)}: mAP ${fmtFixed(s.metrics.map)} is below the overall ${fmtFixed(overall)}`,
    );
  const empty = report.slices.filter((s) => (s as Obj)['empty'] === true);
  for (const s of empty.filter((x) => x.critical))
    push(
      `Add test data for critical slice ${code(s.name)} (${filterWords(s.filter) || 'all'}): it has no ground truth in this split, so it cannot be measured and a gate on it cannot pass`,
    );
  const others = empty.filter((x) => !x.critical);
  if (others.length > 0)
    push(
      `Add test data for slices without ground truth in this split: ${others.map((s) => code(s.name)).join(', ')}`,
    );
  const ece = num(report.calibration?.ece);
  if (ece !== null && ece > 0.05)
    push(`Recalibrate scores (temperature scaling on the validation split): ECE ${fmtFixed(ece)} > 0.050`);
  const classes = (obj((report as Obj)['thresholds'])?.['classes'] as Array<Obj> | undefined) ?? [];
  for (const c of classes) {
    if (c['threshold'] !== null || typeof c['class'] !== 'string') continue;
    push(
      `No score threshold tuned for ${code(c['class'])} (${String(c['reason'] ?? 'no qualifying threshold')}); the runtime's default threshold applies to it`,
    );
  }
  return out;
}

/** evaluation_summary.md. */
export function summaryDocument(
  report: EvalReport,
  baseline: EvalReport | null,
  verdict: GateVerdict | null,
  charts: ChartIndex,
): string {
  const r = report as EvalReport & Obj;
  const facts: Array<[string, string]> = [
    [
      'Model',
      `${code(report.model.name)}${report.model.version ? ' ' + report.model.version : ''}${report.model.digest ? ` (${code(report.model.digest.slice(0, 19))})` : ''}`,
    ],
    ['Baseline', baseline === null ? 'none' : code(baseline.model.name)],
    [
      'Dataset',
      `${escapeMarkdown(report.dataset.name)}, split ${report.dataset.split ?? '?'}, ${fmtInt(report.dataset.images ?? 0)} images`,
    ],
    [
      'Overall mAP / AP50',
      `${fmtFixed(report.overall.map)} / ${fmtFixed(report.overall.map50)}${
        report.deltas
          ? ` (${fmtDelta(report.deltas.overall['map'])} / ${fmtDelta(report.deltas.overall['map50'])})`
          : ''
      }`,
    ],
  ];
  const wm = obj(r['weighted_map']);
  if (wm !== undefined)
    facts.push([
      'Weighted slice mAP',
      `${fmtFixed(num(wm['value']))} over ${String(wm['slices_used'])} non-empty slices`,
    ]);
  if (report.calibration)
    facts.push([
      'ECE (equal-width / equal-mass)',
      `${fmtFixed(report.calibration.ece)} / ${fmtFixed(num((report.calibration as Obj)['ece_equal_mass']))}`,
    ]);
  if (report.latency)
    facts.push([
      'Latency p50 / p95 / p99',
      `${fmtFixed(report.latency.p50_ms ?? null, 2)} / ${fmtFixed(report.latency.p95_ms, 2)} / ${fmtFixed(report.latency.p99_ms ?? null, 2)} ms per image (batch ${report.latency.batch_size ?? 1})`,
    ]);
  const sections: SummarySection[] = [];
  const warnings = (r['warnings'] as string[] | undefined) ?? [];
  if (warnings.length > 0) sections.push({ title: 'Warnings', bullets: warnings.map(escapeMarkdown) });
  if (baseline === null) {
    sections.push({
      title: SUMMARY_SECTIONS.improved,
      text: '_No baseline given (--baseline): nothing to compare._',
    });
    sections.push({ title: SUMMARY_SECTIONS.regressed, text: '_No baseline given._' });
  } else {
    const ch = changesVsBaseline(report, baseline);
    sections.push({ title: SUMMARY_SECTIONS.improved, bullets: ch.improved.map(changeText) });
    sections.push({ title: SUMMARY_SECTIONS.regressed, bullets: ch.regressed.map(changeText) });
  }
  const actions: BulletItem[] = nextActions(report, baseline, verdict);
  sections.push({ title: SUMMARY_SECTIONS.next, bullets: actions });
  const baseBy = new Map((baseline?.slices ?? []).map((s) => [s.name, s] as const));
  sections.push({
    title: 'Slices',
    text:
      'Scoring: `image` and `category` slices are exact COCO numbers on their images (and classes); ' +
      '`area-range` slices use COCO area-range rules; `recall-oriented` slices (occlusion, distance, ...) ignore ' +
      "unmatched detections, so their AP reflects how well the slice's objects are found, not precision. " +
      'Empty slices (no ground truth) have no metrics and are excluded from the weighted mAP.',
    table: {
      headers: ['slice', 'scoring', 'critical', 'weight', 'images', 'objects', 'mAP', 'AP50', 'Δ mAP'],
      rows: report.slices.map((s) => {
        const so = s as Obj;
        const b = baseBy.get(s.name);
        const d =
          typeof s.metrics.map === 'number' && typeof b?.metrics.map === 'number'
            ? s.metrics.map - b.metrics.map
            : null;
        return [
          code(s.name),
          String(so['scoring'] ?? ''),
          s.critical ? 'yes' : '',
          s.weight,
          s.images ?? null,
          typeof so['num_gt'] === 'number' ? (so['num_gt'] as number) : null,
          so['empty'] === true ? 'empty' : fmtFixed(s.metrics.map),
          so['empty'] === true ? 'empty' : fmtFixed(s.metrics.map50),
          d === null ? null : fmtDelta(d),
        ];
      }),
    },
  });
  const images = Object.entries(charts).map(([k, p]) => ({ alt: k.replace(/_/g, ' '), path: p as string }));
  sections.push({ title: 'Charts', images });
  return summaryMarkdown({
    title: `Evaluation summary: ${report.model.name}${baseline ? ` vs ${baseline.model.name}` : ''}`,
    ...(verdict !== null && verdict.status !== 'error'
      ? { verdict: { passed: verdict.status === 'pass', text: escapeMarkdown(verdict.summary) } }
      : verdict !== null
        ? {
            verdict: {
              passed: false,
              text: `gate could not be evaluated: ${escapeMarkdown(verdict.errors.join('; '))}`,
            },
          }
        : {}),
    facts,
    sections,
    footer: `Generated by drivegate eval run at ${report.created_at ?? ''}`,
  });
}

/** blocking_report.md: the failing rules and slices and what to do (when the gate fails). */
export function blockingDocument(
  report: EvalReport,
  baseline: EvalReport | null,
  verdict: GateVerdict,
): string {
  const b = verdict.blocking;
  const slices = new Map(report.slices.map((s) => [s.name, s] as const));
  const baseSlices = new Map((baseline?.slices ?? []).map((s) => [s.name, s] as const));
  const sections: SummarySection[] = [
    {
      title: 'Failing rules',
      table: {
        headers: ['rule', 'value', 'baseline', 'threshold', 'rationale'],
        rows: verdict.rules
          .filter((r) => r.status === 'fail')
          .map((r) => [code(r.id), fmtFixed(r.value, 4), fmtFixed(r.baseline, 4), r.threshold, r.rationale]),
      },
    },
    {
      title: 'Failing slices',
      table: {
        headers: ['slice', 'filter', 'critical', 'weight', 'mAP', 'baseline mAP', 'rules'],
        rows: (b?.failing_slices ?? []).map((s) => [
          code(s.name),
          filterWords(s.filter) || 'all',
          s.critical ? 'yes' : '',
          s.weight,
          fmtFixed(slices.get(s.name)?.metrics.map ?? null),
          fmtFixed(baseSlices.get(s.name)?.metrics.map ?? null),
          s.rules.join(', '),
        ]),
      },
    },
    {
      title: 'Data to mine',
      bullets: (b?.failing_slices ?? []).map((s) => mineText(s.name, s.filter)),
    },
    { title: SUMMARY_SECTIONS.next, bullets: nextActions(report, baseline, verdict) },
  ];
  if (verdict.waivers.ignored.length > 0)
    sections.push({
      title: 'Waivers not applied',
      bullets: verdict.waivers.ignored.map(
        (w) => `${code(w.rule)} by ${escapeMarkdown(w.approver)}: ${escapeMarkdown(w.reason)}`,
      ),
    });
  return summaryMarkdown({
    title: `Blocking report: ${report.model.name}${baseline ? ` vs ${baseline.model.name}` : ''}`,
    verdict: { passed: false, text: escapeMarkdown(verdict.summary) },
    facts: [
      ['Policy', `${code(verdict.policy.name)} (${escapeMarkdown(verdict.policy.file)})`],
      ['Evaluated at', verdict.evaluated_at],
    ],
    sections,
    footer: 'A failing rule passes only by its rule or by a recorded, signed, unexpired waiver (--waivers).',
  });
}
