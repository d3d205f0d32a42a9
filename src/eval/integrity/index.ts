/**
 * Dataset integrity: manifest schema, declarative expectations (Great Expectations style), image
 * file checks and split-leakage guards, plus `validateDatasets`, which runs them all.
 */
export * from './manifest.js';
export * from './findings.js';
export * from './expectations.js';
export * from './files.js';
export * from './leakage.js';
export * from './validate.js';
