/**
 * Sweeps (#17): scenario variants x seeds x models on a pool of worker threads with a checkpoint
 * after every run (resumable after a crash), the sweep's outputs (sim_summary.parquet, per-scenario
 * CSV/JSON, aggregates, the violation heatmap, failure clips as animated GIFs, sim_summary.md) and
 * the Sim Gate (criteria in the eval gate's YAML over the simulation report, judged by the same
 * engine). See docs/sim-sweeps.md.
 */
export * from './seeds.js';
export * from './aggregate.js';
export * from './table.js';
export * from './checkpoint.js';
export * from './gate.js';
export * from './gif.js';
export * from './clip.js';
export * from './heatmap.js';
export * from './models.js';
export * from './outputs.js';
export * from './pool.js';
export * from './sweep.js';
