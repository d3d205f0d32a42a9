/**
 * Closed-loop simulation (#17): OpenSCENARIO scenarios (openscenario/), the simulator with the
 * model in the loop (engine/), and sweeps with outputs and the Sim Gate (sweep/). types.ts is the
 * data contract between them.
 */
export type * from './types.js';
export * from './openscenario/index.js';
export * from './engine/index.js';
export * from './sweep/index.js';
