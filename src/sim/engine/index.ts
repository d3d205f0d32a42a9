/**
 * The simulator engine (#17): runs one scenario variant with one seed and one perception mode
 * (ground truth, or a model in the loop) and returns its metrics. Fixed-step and deterministic:
 * kinematic bicycle vehicles, walking pedestrians, OpenSCENARIO storyboard execution, oriented-box
 * collisions, the ego camera rendered and detected at the perception rate, a tracker, and an
 * ACC/FCW/AEB proxy controller. See docs/sim-engine.md.
 */
export {
  simulateRun,
  type EngineOptions,
  type PerceptionInfo,
  type PhaseTiming,
  COMFORT_DECEL,
  THREAT_TTC,
} from './run.js';
export { closeLoopDetectors, loopDetector, LoopDetector } from './model.js';
export { DEFAULT_CONTROLLER, Controller, type ControllerParams, type ControlMode } from './controller.js';
export { DEFAULT_TRACKER, Tracker, type TrackerParams, type PerceivedObject } from './perception.js';
export { drawRandomization, type RunRandomization } from './randomization.js';
export { obbOverlap, obbDistance, type Obb } from './geometry.js';
