/**
 * Gates: declarative rules (gates.yaml) over eval reports, one engine that evaluates them against a
 * candidate, a baseline and slice definitions, waivers, and the verdict with its rationale.
 */
export * from './path.js';
export * from './policy.js';
export * from './slices.js';
export * from './waivers.js';
export * from './engine.js';
export * from './format.js';
export * from './run.js';
