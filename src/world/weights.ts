/**
 * Slice attributes of a scene (weather, time of day, road type, region) and the weights with which
 * the generator draws them. Weights are configurable so that a training set can be dominated by
 * clear daytime scenes while a test set stresses rare conditions.
 *
 * Text form (the `--weights` option): groups separated by `;` (or given as repeated options), each
 * `attribute=value:weight,value:weight`, e.g. `weather=clear:0.7,rain:0.1,fog:0.1,snow:0.1;time_of_day=day:0.8,dusk:0.1,night:0.1`.
 * A group replaces that attribute's default weights as a whole: values it does not list get weight 0.
 */
import { DrivegateError } from '../core/errors.js';
import { REGIONS, ROAD_TYPES, TIMES_OF_DAY, WEATHERS } from './types.js';
import type { Region, RoadType, TimeOfDay, Weather } from './types.js';

/** The slice attributes of a scene; constant over its frames. */
export interface SceneAttributes {
  weather: Weather;
  timeOfDay: TimeOfDay;
  roadType: RoadType;
  region: Region;
}

/** The attribute names as they appear in manifests, slices and the `--weights` option. */
export const ATTRIBUTE_NAMES = ['weather', 'time_of_day', 'road_type', 'region'] as const;
/** One attribute name. */
export type AttributeName = (typeof ATTRIBUTE_NAMES)[number];

/** The values each attribute can take. */
export const ATTRIBUTE_VALUES: Record<AttributeName, readonly string[]> = {
  weather: WEATHERS,
  time_of_day: TIMES_OF_DAY,
  road_type: ROAD_TYPES,
  region: REGIONS,
};

/** Draw weights per attribute value (need not sum to 1; at least one positive per attribute). */
export interface ConditionWeights {
  weather: Record<Weather, number>;
  time_of_day: Record<TimeOfDay, number>;
  road_type: Record<RoadType, number>;
  region: Record<Region, number>;
}

/** The default weights: mostly clear and daytime, every condition present. */
export const DEFAULT_WEIGHTS: ConditionWeights = {
  weather: { clear: 0.55, rain: 0.2, fog: 0.12, snow: 0.13 },
  time_of_day: { day: 0.6, dusk: 0.2, night: 0.2 },
  road_type: { highway: 0.3, urban: 0.45, rural: 0.25 },
  region: { eu: 1, us: 1, asia: 1 },
};

/** A deep copy of the default weights. */
export function defaultWeights(): ConditionWeights {
  return {
    weather: { ...DEFAULT_WEIGHTS.weather },
    time_of_day: { ...DEFAULT_WEIGHTS.time_of_day },
    road_type: { ...DEFAULT_WEIGHTS.road_type },
    region: { ...DEFAULT_WEIGHTS.region },
  };
}

function usage(message: string, option: string, expected: string, found: string): DrivegateError {
  return new DrivegateError('USAGE', message, { field: option, expected, found });
}

/**
 * Parses `--weights` text (one or more strings, each with `;`-separated groups) on top of `base`
 * (default: the default weights). Throws a USAGE error naming the option on any bad group, unknown
 * attribute or value, negative or non-numeric weight, or an attribute left with no positive weight.
 */
export function parseWeights(
  specs: readonly string[],
  base: ConditionWeights = defaultWeights(),
  option = '--weights',
): ConditionWeights {
  const out: ConditionWeights = {
    weather: { ...base.weather },
    time_of_day: { ...base.time_of_day },
    road_type: { ...base.road_type },
    region: { ...base.region },
  };
  for (const spec of specs) {
    for (const rawGroup of spec.split(';')) {
      const group = rawGroup.trim();
      if (group === '') continue;
      const eq = group.indexOf('=');
      if (eq <= 0) {
        throw usage('bad weight group', option, 'attribute=value:weight,...', JSON.stringify(group));
      }
      const attr = group.slice(0, eq).trim().replace(/-/g, '_');
      if (!(ATTRIBUTE_NAMES as readonly string[]).includes(attr)) {
        throw usage(
          'unknown attribute',
          option,
          `one of ${ATTRIBUTE_NAMES.join(', ')}`,
          JSON.stringify(attr),
        );
      }
      const name = attr as AttributeName;
      const allowed = ATTRIBUTE_VALUES[name];
      const table: Record<string, number> = {};
      for (const v of allowed) table[v] = 0;
      for (const rawItem of group.slice(eq + 1).split(',')) {
        const item = rawItem.trim();
        if (item === '') continue;
        const colon = item.lastIndexOf(':');
        const value = colon < 0 ? item : item.slice(0, colon).trim();
        const weightText = colon < 0 ? '1' : item.slice(colon + 1).trim();
        if (!allowed.includes(value)) {
          throw usage(`unknown ${name} value`, option, `one of ${allowed.join(', ')}`, JSON.stringify(value));
        }
        const weight = Number(weightText);
        if (weightText === '' || !Number.isFinite(weight) || weight < 0) {
          throw usage(
            `bad weight for ${name}=${value}`,
            option,
            'a finite number >= 0',
            JSON.stringify(weightText),
          );
        }
        table[value] = weight;
      }
      if (!Object.values(table).some((w) => w > 0)) {
        throw usage(
          `no positive weight for ${name}`,
          option,
          'at least one weight > 0',
          JSON.stringify(group),
        );
      }
      (out as unknown as Record<AttributeName, Record<string, number>>)[name] = table;
    }
  }
  return out;
}

/** The weights of one attribute as an ordered list of choices (in the attribute's value order). */
export function choicesOf<K extends AttributeName>(
  weights: ConditionWeights,
  name: K,
): Array<{ value: string; weight: number }> {
  const table = weights[name] as Record<string, number>;
  return ATTRIBUTE_VALUES[name].map((value) => ({ value, weight: table[value] ?? 0 }));
}

/** Renders weights back to the `--weights` text form (for summaries and dataset.json). */
export function formatWeights(weights: ConditionWeights): string {
  return ATTRIBUTE_NAMES.map((name) => {
    const table = weights[name] as Record<string, number>;
    return `${name}=${ATTRIBUTE_VALUES[name].map((v) => `${v}:${roundWeight(table[v] ?? 0)}`).join(',')}`;
  }).join(';');
}

function roundWeight(w: number): number {
  return Math.round(w * 1e6) / 1e6;
}
