/** Test helpers: eval reports and policies for gate tests. */
import type { EvalReport } from '../report-schema.js';

/** Slice metrics by name: [map, weight, critical, filter]. */
export type SliceSpec = [string, number, number, boolean, Record<string, string>];

/** An eval report v1 with the given overall mAP, slices, latency and ECE. */
export function report(
  name: string,
  o: { map?: number; map50?: number; slices?: SliceSpec[]; p95?: number | null; ece?: number } = {},
): EvalReport {
  const slices = o.slices ?? [
    ['all', 0.5, 1, false, {}],
    ['time_of_day=night', 0.4, 2, true, { time_of_day: 'night' }],
    ['night+pedestrian', 0.3, 3, true, { time_of_day: 'night', category: 'pedestrian' }],
    ['weather=fog', 0.35, 1, false, { weather: 'fog' }],
  ];
  return {
    schema_version: 1,
    model: { name, version: '1.0.0' },
    dataset: { name: 'reference-world', split: 'test', images: 300 },
    overall: {
      map: o.map ?? 0.5,
      map50: o.map50 ?? 0.7,
      per_class: { car: { ap: 0.6 }, pedestrian: { ap: 0.4 } },
    },
    slices: slices.map(([n, map, weight, critical, filter]) => ({
      name: n,
      filter,
      weight,
      critical,
      metrics: { map, map50: map + 0.2 },
    })),
    calibration: { ece: o.ece ?? 0.05, mce: 0.1, brier: 0.12 },
    latency: { p50_ms: 20, p95_ms: o.p95 === undefined ? 30 : o.p95 },
  };
}
