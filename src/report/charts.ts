/**
 * Charts as Vega-Lite specs. Each builder takes plain data and returns a self-contained Vega-Lite
 * v6 spec (data inline), so the web console renders the very same JSON with vega-embed. In Node a
 * spec is compiled to Vega and rendered headless to SVG (vega's string renderer), and the SVG to PNG
 * with resvg using the DejaVu Sans font files (Debian's fonts-dejavu-core); `writeChart` writes
 * <base>.vl.json, <base>.svg and <base>.png, each atomically.
 */
import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import { View, parse } from 'vega';
import { compile } from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { DrivegateError, badInput } from '../core/errors.js';
import { atomicWriteFile } from '../core/fsutil.js';

/** A Vega-Lite spec as the builders return it (the top-level spec type of the vega-lite package). */
export type VegaLiteSpec = TopLevelSpec;

/** The Vega-Lite schema URL the specs declare. */
export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** The font family of all chart text (SVG and PNG). */
export const CHART_FONT_FAMILY = 'DejaVu Sans';

/** The font files resvg loads for PNG text (Debian package fonts-dejavu-core). */
export const CHART_FONT_FILES: readonly string[] = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
];

/** Colours shared by the charts: baseline vs candidate, improvement vs regression. */
export const CHART_COLORS = {
  baseline: '#9e9e9e',
  candidate: '#1f77b4',
  improved: '#2e7d32',
  regressed: '#c62828',
  neutral: '#616161',
  diagonal: '#757575',
} as const;

/** Size and title options every builder takes. Width/height are the whole chart, in pixels. */
export interface ChartOptions {
  /** Chart title. */
  title?: string;
  /** Total width in CSS pixels, axes and legend included. */
  width?: number;
  /** Total height in CSS pixels, axes and legend included. */
  height?: number;
}

const CONFIG = {
  font: CHART_FONT_FAMILY,
  background: 'white',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 320 },
  title: { fontSize: 14, anchor: 'start' as const },
};

function base(
  options: ChartOptions,
  defaults: { width: number; height: number; title: string },
): {
  $schema: string;
  title: string;
  width: number;
  height: number;
  autosize: { type: 'fit'; contains: 'padding' };
  padding: number;
  config: typeof CONFIG;
} {
  const width = options.width ?? defaults.width;
  const height = options.height ?? defaults.height;
  for (const [field, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(v) || v < 50 || v > 10000) {
      throw badInput('bad chart size', {
        field,
        expected: 'an integer number of pixels in [50, 10000]',
        found: String(v),
      });
    }
  }
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: options.title ?? defaults.title,
    width,
    height,
    autosize: { type: 'fit', contains: 'padding' },
    padding: 8,
    config: CONFIG,
  };
}

function finite(v: number, what: string, record: string | number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw badInput(`${what} is not a finite number`, {
      record,
      field: what,
      expected: 'a finite number',
      found: String(v),
    });
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Precision-recall curves

/** One class's precision-recall curve: points in the order the curve is drawn. */
export interface PrCurve {
  /** Class name (one line per class). */
  class: string;
  /** Points of the curve, e.g. at increasing recall. */
  points: readonly { recall: number; precision: number }[];
  /** Average precision, shown in the legend when given. */
  ap?: number;
}

/** Precision-recall curves, one coloured line per class, both axes on [0, 1]. */
export function prCurveSpec(curves: readonly PrCurve[], options: ChartOptions = {}): VegaLiteSpec {
  const values: { series: string; recall: number; precision: number; order: number }[] = [];
  const seriesOrder: string[] = [];
  for (const c of curves) {
    const series = c.ap === undefined ? c.class : `${c.class} (AP ${c.ap.toFixed(3)})`;
    seriesOrder.push(series);
    c.points.forEach((p, i) => {
      values.push({
        series,
        recall: finite(p.recall, 'recall', `${c.class}[${i}]`),
        precision: finite(p.precision, 'precision', `${c.class}[${i}]`),
        order: i,
      });
    });
  }
  return {
    ...base(options, { width: 480, height: 440, title: 'Precision-recall' }),
    data: { values },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
    encoding: {
      x: {
        field: 'recall',
        type: 'quantitative',
        title: 'Recall',
        scale: { domain: [0, 1] },
      },
      y: {
        field: 'precision',
        type: 'quantitative',
        title: 'Precision',
        scale: { domain: [0, 1] },
      },
      // Inside the plot, bottom left: PR curves leave that corner empty.
      color: {
        field: 'series',
        type: 'nominal',
        title: 'Class',
        sort: seriesOrder,
        legend: { orient: 'bottom-left', fillColor: 'rgba(255,255,255,0.85)', padding: 6 },
      },
      order: { field: 'order', type: 'quantitative' },
      tooltip: [
        { field: 'series', type: 'nominal', title: 'class' },
        { field: 'recall', type: 'quantitative', format: '.3f' },
        { field: 'precision', type: 'quantitative', format: '.3f' },
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reliability diagram

/**
 * One confidence bin of a reliability diagram. The field names match the calibration metrics'
 * bins (src/eval/metrics/calibration.ts), so their results can be passed as they are.
 */
export interface ReliabilityChartBin {
  /** Lower edge of the bin, in [0, 1]. */
  lower: number;
  /** Upper edge of the bin, in [0, 1]. */
  upper: number;
  /** Predictions in the bin. */
  count: number;
  /** Mean confidence of the predictions in the bin (null when the bin is empty). */
  mean_confidence: number | null;
  /** Fraction of the bin's predictions that were correct (null when the bin is empty). */
  accuracy: number | null;
}

/**
 * Reliability diagram: a bar per confidence bin at the bin's accuracy, a dot at (mean confidence,
 * accuracy), and the dashed diagonal of perfect calibration. Empty bins (count 0 or null values)
 * are not drawn. `ece` is shown in the title when given.
 */
export function reliabilitySpec(
  bins: readonly ReliabilityChartBin[],
  options: ChartOptions & { ece?: number } = {},
): VegaLiteSpec {
  const values: { lo: number; hi: number; confidence: number; accuracy: number; count: number }[] = [];
  bins.forEach((b, i) => {
    const count = finite(b.count, 'count', i);
    if (count <= 0 || b.mean_confidence === null || b.accuracy === null) return;
    values.push({
      lo: finite(b.lower, 'lower', i),
      hi: finite(b.upper, 'upper', i),
      confidence: finite(b.mean_confidence, 'mean_confidence', i),
      accuracy: finite(b.accuracy, 'accuracy', i),
      count,
    });
  });
  const title =
    options.title ??
    (options.ece === undefined ? 'Reliability' : `Reliability (ECE ${options.ece.toFixed(3)})`);
  const x = { type: 'quantitative' as const, scale: { domain: [0, 1] }, title: 'Confidence' };
  const y = { type: 'quantitative' as const, scale: { domain: [0, 1] }, title: 'Accuracy' };
  return {
    ...base({ ...options, title }, { width: 420, height: 400, title }),
    layer: [
      {
        data: { values },
        mark: { type: 'rect', color: CHART_COLORS.candidate, opacity: 0.75, stroke: 'white' },
        encoding: {
          x: { field: 'lo', ...x },
          x2: { field: 'hi' },
          y: { field: 'accuracy', ...y },
          y2: { datum: 0 },
          tooltip: [
            { field: 'lo', type: 'quantitative', format: '.2f' },
            { field: 'hi', type: 'quantitative', format: '.2f' },
            { field: 'accuracy', type: 'quantitative', format: '.3f' },
            { field: 'confidence', type: 'quantitative', format: '.3f' },
            { field: 'count', type: 'quantitative' },
          ],
        },
      },
      {
        data: { values },
        mark: { type: 'point', filled: true, color: CHART_COLORS.regressed, size: 40 },
        encoding: {
          x: { field: 'confidence', ...x },
          y: { field: 'accuracy', ...y },
        },
      },
      {
        data: {
          values: [
            { x: 0, y: 0 },
            { x: 1, y: 1 },
          ],
        },
        mark: { type: 'line', color: CHART_COLORS.diagonal, strokeDash: [4, 4] },
        encoding: { x: { field: 'x', ...x }, y: { field: 'y', ...y } },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Confusion matrix

/**
 * A confusion matrix: `matrix[i][j]` = objects of true class labels[i] predicted as labels[j]. The
 * shape matches the detection confusion matrix of src/eval/metrics/confusion.ts.
 */
export interface ConfusionMatrixData {
  /** Class labels, in row/column order (may include "background"). */
  labels: readonly string[];
  /** Square matrix of counts, rows = true class, columns = predicted class. */
  matrix: readonly (readonly number[])[];
}

/** Confusion-matrix heatmap with the count written in each cell (rows true, columns predicted). */
export function confusionMatrixSpec(data: ConfusionMatrixData, options: ChartOptions = {}): VegaLiteSpec {
  const { labels, matrix: counts } = data;
  if (counts.length !== labels.length) {
    throw badInput('confusion matrix rows do not match its labels', {
      field: 'matrix',
      expected: `${labels.length} rows`,
      found: `${counts.length}`,
    });
  }
  if (new Set(labels).size !== labels.length) {
    throw badInput('confusion matrix labels repeat', { field: 'labels', expected: 'unique labels' });
  }
  const values: { actual: string; predicted: string; count: number }[] = [];
  let max = 0;
  counts.forEach((row, i) => {
    if (row.length !== labels.length) {
      throw badInput('confusion matrix row has the wrong length', {
        record: i,
        field: 'matrix',
        expected: `${labels.length} columns`,
        found: `${row.length}`,
      });
    }
    row.forEach((v, j) => {
      const count = finite(v, 'count', `${i},${j}`);
      max = Math.max(max, count);
      values.push({ actual: labels[i] as string, predicted: labels[j] as string, count });
    });
  });
  const side = Math.max(260, 120 + labels.length * 56);
  const order = [...labels];
  return {
    ...base(options, { width: side + 80, height: side, title: 'Confusion matrix' }),
    data: { values },
    encoding: {
      x: {
        field: 'predicted',
        type: 'nominal',
        sort: order,
        title: 'Predicted',
        axis: { labelAngle: -30, grid: false },
      },
      y: { field: 'actual', type: 'nominal', sort: order, title: 'True', axis: { grid: false } },
    },
    layer: [
      {
        mark: { type: 'rect', stroke: 'white' },
        encoding: {
          color: {
            field: 'count',
            type: 'quantitative',
            title: 'Count',
            scale: { scheme: 'blues', domain: [0, Math.max(1, max)] },
          },
          tooltip: [
            { field: 'actual', type: 'nominal' },
            { field: 'predicted', type: 'nominal' },
            { field: 'count', type: 'quantitative' },
          ],
        },
      },
      {
        mark: { type: 'text', fontSize: 12 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: {
            condition: { test: `datum.count > ${max / 2}`, value: 'white' },
            value: 'black',
          },
        },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Per-slice comparison

/** One slice's metric value for the candidate and (when known) the baseline. */
export interface SliceComparison {
  /** Slice name. */
  slice: string;
  /** Candidate model's value. */
  candidate: number;
  /** Baseline model's value, or null when the baseline has none. */
  baseline: number | null;
}

/**
 * Per-slice grouped bars, baseline vs candidate, with the signed delta written beside each pair
 * (green when it improved, red when it regressed; `higherIsBetter` false flips that, e.g. for ECE).
 */
export function sliceComparisonSpec(
  slices: readonly SliceComparison[],
  options: ChartOptions & { metric: string; higherIsBetter?: boolean },
): VegaLiteSpec {
  const better = options.higherIsBetter ?? true;
  const bars: { slice: string; model: string; value: number }[] = [];
  const deltas: { slice: string; x: number; delta: number; label: string; better: boolean }[] = [];
  slices.forEach((s, i) => {
    const cand = finite(s.candidate, 'candidate', i);
    bars.push({ slice: s.slice, model: 'candidate', value: cand });
    if (s.baseline !== null) {
      const b = finite(s.baseline, 'baseline', i);
      bars.push({ slice: s.slice, model: 'baseline', value: b });
      const delta = cand - b;
      deltas.push({
        slice: s.slice,
        x: Math.max(cand, b),
        delta,
        label: formatDeltaLabel(delta),
        better: better ? delta >= 0 : delta <= 0,
      });
    }
  });
  const order = slices.map((s) => s.slice);
  const maxValue = Math.max(0, ...bars.map((b) => b.value));
  const y = {
    field: 'slice',
    type: 'nominal' as const,
    sort: order,
    title: null,
    axis: { labelLimit: 260 },
  };
  const xDomain = [0, maxValue > 0 ? maxValue * 1.18 : 1];
  return {
    ...base(options, {
      width: 640,
      height: Math.max(160, 90 + slices.length * 44),
      title: `${options.metric} by slice: candidate vs baseline`,
    }),
    layer: [
      {
        data: { values: bars },
        mark: { type: 'bar' },
        encoding: {
          y,
          yOffset: { field: 'model', type: 'nominal', sort: ['baseline', 'candidate'] },
          x: {
            field: 'value',
            type: 'quantitative',
            title: options.metric,
            scale: { domain: xDomain },
          },
          color: {
            field: 'model',
            type: 'nominal',
            title: 'Model',
            sort: ['baseline', 'candidate'],
            scale: {
              domain: ['baseline', 'candidate'],
              range: [CHART_COLORS.baseline, CHART_COLORS.candidate],
            },
          },
          tooltip: [
            { field: 'slice', type: 'nominal' },
            { field: 'model', type: 'nominal' },
            { field: 'value', type: 'quantitative', format: '.4f' },
          ],
        },
      },
      {
        data: { values: deltas },
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 11, fontWeight: 'bold' },
        encoding: {
          y,
          x: { field: 'x', type: 'quantitative', scale: { domain: xDomain } },
          text: { field: 'label', type: 'nominal' },
          color: {
            condition: { test: 'datum.better', value: CHART_COLORS.improved },
            value: CHART_COLORS.regressed,
          },
        },
      },
    ],
  };
}

function formatDeltaLabel(delta: number): string {
  const abs = Math.abs(delta).toFixed(3);
  if (Number(abs) === 0) return '±0.000';
  return delta > 0 ? `+${abs} ▲` : `−${abs} ▼`;
}

// ---------------------------------------------------------------------------------------------
// Line over time

/** One series of a time chart. */
export interface TimeSeries {
  /** Series name (legend). */
  name: string;
  /** Points: time as an ISO 8601 string, a Date or epoch milliseconds. */
  points: readonly { t: string | number | Date; value: number }[];
}

/** A vertical marker on a time chart (e.g. "rollout 25%", "rollback"). */
export interface TimeMarker {
  /** When. */
  t: string | number | Date;
  /** Label written at the top of the marker. */
  label: string;
}

function isoTime(t: string | number | Date, record: string): string {
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) {
    throw badInput('time is not a valid date', {
      record,
      field: 't',
      expected: 'an ISO 8601 time, a Date or epoch milliseconds',
      found: String(t),
    });
  }
  return d.toISOString();
}

/** A generic line chart over time (one line per series, with optional vertical markers). */
export function timeSeriesSpec(
  series: readonly TimeSeries[],
  options: ChartOptions & { yTitle?: string; markers?: readonly TimeMarker[] } = {},
): VegaLiteSpec {
  const values = series.flatMap((s) =>
    s.points.map((p, i) => ({
      series: s.name,
      t: isoTime(p.t, `${s.name}[${i}]`),
      value: finite(p.value, 'value', `${s.name}[${i}]`),
    })),
  );
  const markers = (options.markers ?? []).map((m, i) => ({
    t: isoTime(m.t, `marker ${i}`),
    label: m.label,
  }));
  // UTC, so that a chart reads the same wherever it was rendered.
  const x = { field: 't', type: 'temporal' as const, title: 'Time (UTC)', scale: { type: 'utc' as const } };
  return {
    ...base(options, { width: 640, height: 320, title: 'Over time' }),
    layer: [
      {
        data: { values },
        mark: { type: 'line', point: true },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', title: options.yTitle ?? 'Value' },
          color: {
            field: 'series',
            type: 'nominal',
            title: 'Series',
            sort: series.map((s) => s.name),
          },
          tooltip: [
            { field: 'series', type: 'nominal' },
            { field: 't', type: 'temporal', format: '%Y-%m-%d %H:%M:%S', formatType: 'utc' },
            { field: 'value', type: 'quantitative', format: '.4f' },
          ],
        },
      },
      {
        data: { values: markers },
        mark: { type: 'rule', color: CHART_COLORS.neutral, strokeDash: [3, 3] },
        encoding: { x },
      },
      {
        data: { values: markers },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, y: 2, fontSize: 10 },
        encoding: { x, text: { field: 'label', type: 'nominal' } },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Rendering

/**
 * Compiles a Vega-Lite spec and renders it headless to an SVG document (a string). The spec is not
 * modified. A spec that does not compile or run is BAD_INPUT.
 */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  let view: View | undefined;
  try {
    // Vega tags inline data objects (a symbol id on each); render a copy, never the caller's spec.
    const vega = compile(JSON.parse(JSON.stringify(spec)) as VegaLiteSpec).spec;
    view = new View(parse(vega), { renderer: 'none' });
    return await view.toSVG();
  } catch (err) {
    throw new DrivegateError('BAD_INPUT', `chart spec does not render: ${(err as Error).message}`, {
      expected: 'a valid Vega-Lite spec',
      cause: err,
    });
  } finally {
    view?.finalize();
  }
}

/** Options of PNG rendering. */
export interface PngOptions {
  /** Pixels per CSS pixel (default 2). Ignored when `width` is given. */
  scale?: number;
  /** Output width in pixels (the height follows the aspect ratio). */
  width?: number;
  /** Font files to load (default CHART_FONT_FILES). */
  fontFiles?: readonly string[];
}

/**
 * Rasterises an SVG to PNG with resvg, using only the given font files (no system font lookup), so
 * output is the same on every machine that has the fonts. UNAVAILABLE when a font file is missing.
 */
export function svgToPng(svg: string, options: PngOptions = {}): Buffer {
  const fontFiles = [...(options.fontFiles ?? CHART_FONT_FILES)];
  const missing = fontFiles.filter((f) => !existsSync(f));
  if (missing.length > 0) {
    throw new DrivegateError('UNAVAILABLE', 'chart font files are missing', {
      file: missing[0] as string,
      expected: 'the DejaVu fonts (Debian: apt-get install fonts-dejavu-core)',
      found: 'no such file',
    });
  }
  const fitTo =
    options.width !== undefined
      ? { mode: 'width' as const, value: options.width }
      : { mode: 'zoom' as const, value: options.scale ?? 2 };
  const resvg = new Resvg(svg, {
    fitTo,
    background: 'white',
    font: { loadSystemFonts: false, fontFiles, defaultFontFamily: CHART_FONT_FAMILY },
  });
  return resvg.render().asPng();
}

/** The paths writeChart wrote. */
export interface ChartFiles {
  /** The Vega-Lite spec (open it in the Vega editor, or render it with vega-embed). */
  spec: string;
  /** The SVG (any browser). */
  svg: string;
  /** The PNG. */
  png: string;
}

/**
 * Renders a spec and writes `<outBase>.vl.json`, `<outBase>.svg` and `<outBase>.png`. Everything is
 * rendered in memory first; each file is then written atomically (temp file + rename).
 */
export async function writeChart(
  spec: VegaLiteSpec,
  outBase: string,
  options: PngOptions = {},
): Promise<ChartFiles> {
  const svg = await renderSvg(spec);
  const png = svgToPng(svg, options);
  const files: ChartFiles = {
    spec: `${outBase}.vl.json`,
    svg: `${outBase}.svg`,
    png: `${outBase}.png`,
  };
  await atomicWriteFile(files.spec, JSON.stringify(spec, null, 2) + '\n');
  await atomicWriteFile(files.svg, svg);
  await atomicWriteFile(files.png, png);
  return files;
}
