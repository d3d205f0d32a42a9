/**
 * Per-run randomization from the run's seed: fine conditions within the scenario's declared
 * environment (fog density, precipitation, ambient light, sensor noise), the region (road look,
 * object paint), each entity's colour, and optional background traffic. Every draw comes from its
 * own labelled stream of the seed, so adding one never shifts another.
 */
import { drawColor, drawSubtype, SUBTYPE_SIZES } from '../../world/appearance.js';
import { deriveSeed, normalizeSeed, Rng } from '../../world/random.js';
import { makeConditions } from '../../world/scene.js';
import { REGIONS, type Conditions, type Region, type Rgb } from '../../world/types.js';
import type { EntitySpec, ParamValue, Scenario } from '../types.js';

/** Koschmieder's constant: meteorological visual range V = 3.912 / extinction coefficient. */
export const KOSCHMIEDER = 3.912;

/** What a run draws from its seed. */
export interface RunRandomization {
  region: Region;
  conditions: Conditions;
  /** Body colour per entity index. */
  colors: Rgb[];
  /** Background vehicles added to the scenario. */
  background: EntitySpec[];
  /** Their initial pose and speed. */
  backgroundInit: Array<{ laneId: number; s: number; speed: number }>;
  /** Flat record for RunResult.randomization. */
  record: Record<string, ParamValue>;
}

function hex(c: Rgb): string {
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Draws the randomization of a run. Conditions follow src/world's per-scene variation for the
 * declared weather and time of day (the training distribution of the reference detectors), with
 * the fog density centred on the declared fog visual range when the scenario gives one.
 */
export function drawRandomization(scenario: Scenario, seed: number): RunRandomization {
  const root = normalizeSeed(seed);
  const env = scenario.environment;
  const region = new Rng(deriveSeed(root, 'region')).pick(REGIONS);
  const base = makeConditions(new Rng(deriveSeed(root, 'conditions')), {
    weather: env.weather,
    timeOfDay: env.timeOfDay,
    roadType: scenario.road.roadType,
    region,
  });
  const fine = new Rng(deriveSeed(root, 'fine'));
  let fogDensity = base.fogDensity;
  if (env.fogVisualRange !== null && env.fogVisualRange > 0 && env.fogVisualRange < 10000) {
    fogDensity = (KOSCHMIEDER / env.fogVisualRange) * fine.range(0.85, 1.15);
  }
  let precipitation = base.precipitation;
  if (env.precipitationIntensity !== null && (env.weather === 'rain' || env.weather === 'snow')) {
    // mm/h (1.1+) or 0..1 intensity (1.0): map heavy rain (>= 10 mm/h) to 1
    const raw = env.precipitationIntensity > 1 ? env.precipitationIntensity / 10 : env.precipitationIntensity;
    precipitation = Math.max(0, Math.min(1, raw * fine.range(0.85, 1.15)));
  }
  const conditions: Conditions = {
    ...base,
    fogDensity: Math.round(fogDensity * 1e5) / 1e5,
    precipitation: Math.round(precipitation * 1e4) / 1e4,
  };
  const paint = new Rng(deriveSeed(root, 'colors'));
  const colors = scenario.entities.map((e) => drawColor(paint, region, e.cls, e.subtype));

  // background traffic: `background_traffic` vehicles per km per lane (default 0), in lanes and at
  // places no scenario entity starts at, keeping a speed near the limit
  const density = Number(scenario.parameters['background_traffic'] ?? 0);
  const background: EntitySpec[] = [];
  const backgroundInit: RunRandomization['backgroundInit'] = [];
  if (Number.isFinite(density) && density > 0) {
    const rng = new Rng(deriveSeed(root, 'background'));
    const lanes = scenario.road.laneCount;
    const span = Math.min(scenario.road.length, 600);
    const count = Math.min(40, Math.round((density * lanes * span) / 1000));
    for (let k = 0; k < count; k++) {
      const subtype = drawSubtype(rng, region, 'car');
      const size = SUBTYPE_SIZES[subtype] ?? { length: 4.6, width: 1.8, height: 1.45 };
      background.push({
        name: `background-${k + 1}`,
        isEgo: false,
        cls: 'car',
        subtype,
        size: { ...size },
        maxSpeed: 60,
        maxAcceleration: 3,
        maxDeceleration: 8,
      });
      backgroundInit.push({
        laneId: -rng.int(1, lanes),
        s: rng.range(0, span),
        speed: scenario.road.speedLimit * rng.range(0.75, 1.0),
      });
      colors.push(drawColor(rng, region, 'car', subtype));
    }
  }
  const record: Record<string, ParamValue> = {
    region,
    weather: env.weather,
    time_of_day: env.timeOfDay,
    fog_density: conditions.fogDensity,
    precipitation: conditions.precipitation,
    ambient: conditions.ambient,
    noise_sigma: conditions.noiseSigma,
    background_vehicles: background.length,
  };
  scenario.entities.forEach((e, i) => {
    if (!e.isEgo) record[`color_${e.name}`] = hex(colors[i]!);
  });
  return { region, conditions, colors, background, backgroundInit, record };
}
