/** The file edge of the gate: reads the reports, policy, slices and waivers named on the command line. */
import { readEvalReport } from '../report-schema.js';
import { readYamlSource } from '../yaml.js';
import { evaluateGates } from './engine.js';
import type { GateVerdict } from './engine.js';
import { parseGatePolicy } from './policy.js';
import { parseSliceDefinitions } from './slices.js';
import { parseWaivers } from './waivers.js';
import type { WaiverVerifier } from './waivers.js';

/** Files of a gate evaluation. */
export interface GateFiles {
  report: string;
  baseline?: string | undefined;
  gates: string;
  slices?: string | undefined;
  waivers?: string | undefined;
}

/** Reads the files and evaluates the gate (policy and slices first: they are small and fail fast). */
export async function runGate(
  files: GateFiles,
  options: { now?: Date; verifyWaiver?: WaiverVerifier } = {},
): Promise<GateVerdict> {
  const policy = parseGatePolicy(await readYamlSource(files.gates));
  const slices =
    files.slices !== undefined ? parseSliceDefinitions(await readYamlSource(files.slices)) : null;
  const waivers = files.waivers !== undefined ? parseWaivers(await readYamlSource(files.waivers)) : [];
  const candidate = await readEvalReport(files.report);
  const baseline = files.baseline !== undefined ? await readEvalReport(files.baseline) : null;
  return evaluateGates({
    policy,
    candidate,
    baseline,
    slices,
    waivers,
    now: options.now ?? new Date(),
    verifyWaiver: options.verifyWaiver,
    sources: { candidate: files.report, baseline: files.baseline },
  });
}
