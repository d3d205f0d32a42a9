/**
 * The violation heatmap of a sweep as a Vega-Lite spec: rows are scenario family x swept parameter
 * value, columns the violation types, each cell the share of the candidate's runs with that
 * violation (and the count written in it). Rendered to SVG and PNG by src/report's writeChart.
 */
import { CHART_FONT_FAMILY, VEGA_LITE_SCHEMA } from '../../report/charts.js';
import type { VegaLiteSpec } from '../../report/charts.js';
import { VIOLATION_TYPES } from './aggregate.js';
import type { HeatCell } from './aggregate.js';

/** The heatmap spec of the cells (violationCells) of one model's runs. */
export function violationHeatmapSpec(cells: readonly HeatCell[], title: string): VegaLiteSpec {
  const rows: string[] = [];
  for (const c of cells) if (!rows.includes(c.row)) rows.push(c.row);
  const values = cells.map((c) => ({
    row: c.row,
    violation: c.violation,
    rate: c.rate,
    label: c.count === 0 ? '' : `${c.count}/${c.runs}`,
  }));
  return {
    $schema: VEGA_LITE_SCHEMA,
    title,
    width: 90 * VIOLATION_TYPES.length,
    height: Math.max(60, 18 * rows.length),
    padding: 8,
    config: {
      font: CHART_FONT_FAMILY,
      background: 'white',
      view: { stroke: null },
      axis: { labelFontSize: 11, titleFontSize: 12, grid: false, labelLimit: 320 },
      title: { fontSize: 14, anchor: 'start' },
    },
    data: { values },
    encoding: {
      x: {
        field: 'violation',
        type: 'nominal',
        sort: [...VIOLATION_TYPES],
        title: 'violation',
        axis: { labelAngle: 0 },
      },
      y: { field: 'row', type: 'nominal', sort: rows, title: null },
    },
    layer: [
      {
        mark: { type: 'rect', stroke: '#dddddd' },
        encoding: {
          color: {
            field: 'rate',
            type: 'quantitative',
            title: 'share of runs',
            scale: { domain: [0, 1], range: ['#ffffff', '#b71c1c'] },
          },
        },
      },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          text: { field: 'label', type: 'nominal' },
          color: { condition: { test: 'datum.rate > 0.5', value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}
