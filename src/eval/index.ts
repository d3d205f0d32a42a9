/**
 * Workflow #16, evaluation: dataset integrity and leakage guards (integrity/), metrics (metrics/),
 * the eval_report.json schema (report-schema.ts), the gate engine (gates/), and the evaluation
 * workflow `eval run` (run.ts: `evaluateModel`; slices.ts: slice selection and scoring;
 * run-workflow.ts: the same as a step-runner workflow).
 */
export * as integrity from './integrity/index.js';
export * as metrics from './metrics/index.js';
export * as gates from './gates/index.js';
export * from './report-schema.js';
export * from './run.js';
export * from './slices.js';
export { evalRunWorkflow, type EvalRunArgs, type EvalRunStepResult } from './run-workflow.js';
