/**
 * Workflow #16, evaluation: dataset integrity and leakage guards (integrity/), metrics (metrics/),
 * the eval_report.json schema (report-schema.ts) and the gate engine (gates/).
 */
export * as integrity from './integrity/index.js';
export * as metrics from './metrics/index.js';
export * as gates from './gates/index.js';
export * from './report-schema.js';
