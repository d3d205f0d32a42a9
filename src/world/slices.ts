/**
 * Slices of an exported dataset: named subsets that evaluation reports metrics on, written to
 * `slices.yaml` beside the COCO files. A slice has a filter, a weight and a critical flag.
 *
 * Filter semantics (also used by `matchesImage` / `matchesObject` here):
 * - keys that are manifest fields (weather, time_of_day, road_type, region, geo_cell, scene_id, split)
 *   select images;
 * - keys that are annotation fields select objects: `category` (a category name), `occlusion`,
 *   `truncation`, `area`, `distance` (numbers), `iscrowd`;
 * - a value is an exact match, a list (any of), or a range `{ gte, gt, lte, lt }`.
 * A slice with object keys is an object-level slice: its ground truth is the matching objects in
 * the matching images (evaluation treats the other objects of those images as ignore regions).
 */
import type { SplitName } from './splits.js';
import { ATTRIBUTE_NAMES, ATTRIBUTE_VALUES } from './weights.js';

/** A range condition on a number. */
export interface RangeCondition {
  gte?: number;
  gt?: number;
  lte?: number;
  lt?: number;
}

/** A filter value: exact, any of a list, or a numeric range. */
export type FilterValue = string | number | boolean | Array<string | number> | RangeCondition;

/** One slice. */
export interface SliceSpec {
  name: string;
  description: string;
  /** 'image' when only image fields filter, 'object' when annotation fields do. */
  level: 'image' | 'object';
  filter: Record<string, FilterValue>;
  /** Relative importance in aggregate scores. */
  weight: number;
  /** A regression on a critical slice fails the gate on its own. */
  critical: boolean;
}

/** The annotation fields a filter may use (everything else is an image/manifest field). */
export const OBJECT_FIELDS = ['category', 'occlusion', 'truncation', 'area', 'distance', 'iscrowd'] as const;

function levelOf(filter: Record<string, FilterValue>): 'image' | 'object' {
  return Object.keys(filter).some((k) => (OBJECT_FIELDS as readonly string[]).includes(k))
    ? 'object'
    : 'image';
}

function slice(
  name: string,
  description: string,
  filter: Record<string, FilterValue>,
  weight = 1,
  critical = false,
): SliceSpec {
  return { name, description, level: levelOf(filter), filter, weight, critical };
}

/**
 * The standard slices of a reference-world dataset. `smallArea` is the bbox area (px^2) below which
 * an object counts as small (scaled to the image width: COCO's 32^2 at 640 px).
 */
export function standardSlices(options: { width: number; includeUnknown: boolean }): SliceSpec[] {
  const smallSide = Math.round(((32 * options.width) / 640) * 10) / 10;
  const smallArea = Math.round(smallSide * smallSide);
  const out: SliceSpec[] = [slice('all', 'every image and object', {}, 1, false)];
  const criticalValues = new Set(['night', 'fog']);
  for (const name of ATTRIBUTE_NAMES) {
    for (const value of ATTRIBUTE_VALUES[name]) {
      const critical = criticalValues.has(value);
      out.push(
        slice(
          `${name}=${value}`,
          `images with ${name} ${value}`,
          { [name]: value },
          critical ? 2 : 1,
          critical,
        ),
      );
    }
  }
  const classes = ['car', 'truck', 'pedestrian', 'cyclist', ...(options.includeUnknown ? ['unknown'] : [])];
  for (const cls of classes) {
    const critical = cls === 'pedestrian' || cls === 'cyclist';
    out.push(slice(cls, `${cls} objects`, { category: cls }, critical ? 2 : 1, critical));
  }
  out.push(
    slice('occluded', 'objects at least 30% occluded', { occlusion: { gte: 0.3 } }),
    slice('heavily_occluded', 'objects at least 60% occluded', { occlusion: { gte: 0.6 } }),
    slice('truncated', 'objects at least 30% outside the image', { truncation: { gte: 0.3 } }),
    slice('small', `objects with bbox area below ${smallArea} px^2 (${smallSide} px squared)`, {
      area: { lt: smallArea },
    }),
    slice('near', 'objects closer than 15 m', { distance: { lt: 15 } }),
    slice('far', 'objects 40 m away or more', { distance: { gte: 40 } }),
    slice(
      'night+pedestrian',
      'pedestrians at night',
      { time_of_day: 'night', category: 'pedestrian' },
      3,
      true,
    ),
    slice(
      'night+rain+pedestrian',
      'pedestrians at night in the rain',
      { time_of_day: 'night', weather: 'rain', category: 'pedestrian' },
      3,
      true,
    ),
    slice('rain+pedestrian', 'pedestrians in the rain', { weather: 'rain', category: 'pedestrian' }, 2, true),
    slice('fog+car', 'cars in fog', { weather: 'fog', category: 'car' }, 2, false),
    slice('dusk+cyclist', 'cyclists at dusk', { time_of_day: 'dusk', category: 'cyclist' }, 2, true),
    slice(
      'urban+pedestrian',
      'pedestrians in urban scenes',
      { road_type: 'urban', category: 'pedestrian' },
      2,
      true,
    ),
    slice(
      'occluded+pedestrian',
      'pedestrians at least 30% occluded',
      {
        category: 'pedestrian',
        occlusion: { gte: 0.3 },
      },
      2,
      true,
    ),
  );
  return out;
}

function matchValue(cond: FilterValue, value: unknown): boolean {
  if (Array.isArray(cond)) return cond.some((c) => c === value);
  if (cond !== null && typeof cond === 'object') {
    if (typeof value !== 'number') return false;
    if (cond.gte !== undefined && !(value >= cond.gte)) return false;
    if (cond.gt !== undefined && !(value > cond.gt)) return false;
    if (cond.lte !== undefined && !(value <= cond.lte)) return false;
    if (cond.lt !== undefined && !(value < cond.lt)) return false;
    return true;
  }
  return cond === value;
}

/** True when a manifest record passes the slice's image conditions. */
export function matchesImage(spec: SliceSpec, record: Record<string, unknown>): boolean {
  for (const [key, cond] of Object.entries(spec.filter)) {
    if ((OBJECT_FIELDS as readonly string[]).includes(key)) continue;
    if (!matchValue(cond, record[key])) return false;
  }
  return true;
}

/** True when an annotation (with its category name as `category`) passes the slice's object conditions. */
export function matchesObject(spec: SliceSpec, object: Record<string, unknown>): boolean {
  for (const [key, cond] of Object.entries(spec.filter)) {
    if (!(OBJECT_FIELDS as readonly string[]).includes(key)) continue;
    if (!matchValue(cond, object[key])) return false;
  }
  return true;
}

/** Support of a slice in one split: matching images and (for object slices) matching objects. */
export type SliceSupport = Record<SplitName, { images: number; objects: number }>;
