/**
 * OpenSCENARIO 1.0 / 1.1 / 1.3 scenarios for closed-loop simulation: loads .xosc files (validated against
 * the official XSD of the revision they declare, checked against drivegate's documented subset, with
 * their OpenDRIVE straight road) into `Scenario`s, expands ParameterValueDistribution sweeps into
 * `ScenarioVariant`s, and filters variants (`--filter family=CCRs,weather=fog`). See docs/sim-scenarios.md.
 */
import type { Scenario } from '../types.js';

export {
  loadScenario,
  loadVariants,
  validateScenarioFile,
  validateScenarios,
  type ValidatedFile,
} from './load.js';
export {
  parseFilter,
  matchesFilter,
  applyFilter,
  filterValue,
  BUILTIN_FILTER_KEYS,
  type VariantFilter,
} from './filter.js';
export { loadRoad, parseOpenDrive } from './road.js';
export { schemaPath, XSD_FILES, type OscVersion } from './xsd.js';
export { SUBSET, findUnsupported, type Unsupported } from './subset.js';

/** The speed (m/s) an entity's Init SpeedAction sets, or null when its Init has none. */
export function initialSpeed(scenario: Scenario, entity: string): number | null {
  const acts = scenario.init.find((i) => i.entity === entity)?.actions ?? [];
  for (let i = acts.length - 1; i >= 0; i--) {
    const a = acts[i];
    if (a?.kind === 'speed') return a.target;
  }
  return null;
}
