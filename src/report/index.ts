/**
 * The report service: writers of the human- and machine-readable artifacts that the workflows
 * (evaluate, then simulate and promote) produce.
 *
 * - parquet.ts: typed tables written as standard Parquet, row group by row group, atomically
 *   (slice_metrics.parquet has its own typed helper).
 * - charts.ts: Vega-Lite specs (PR curves, reliability diagram, confusion matrix, per-slice
 *   baseline vs candidate, lines over time) rendered to SVG and PNG; `writeChart` writes
 *   <base>.vl.json, .svg and .png.
 * - markdown.ts: tables, headings, lists, number and delta formatting, and the
 *   evaluation_summary.md-style document builder.
 *
 * Depends on core only. See docs/reports.md.
 */
export * from './parquet.js';
export * from './charts.js';
export * from './markdown.js';
