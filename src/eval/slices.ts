/**
 * Slice selection for `drivegate eval run`: turns slice definitions (slices.yaml) into masks over
 * the evaluation set and decides how each slice is scored.
 *
 * A filter is `field -> condition` (exact value, list of accepted values, or a range
 * `{gte, gt, lte, lt}`); every condition must hold. Each field is either
 *
 * - an **image field**: a manifest field (weather, time_of_day, road_type, region, geo_cell, ...):
 *   it selects images; or
 * - an **object field**: `category` (a category name or id), or an attribute of the ground-truth
 *   annotations (occlusion, truncation, area, distance, iscrowd, or any other annotation field):
 *   it selects ground-truth objects.
 *
 * A field is classified as: `category`, `area`, `iscrowd`, `occlusion`, `truncation`, `distance`
 * are object fields; otherwise a field that some manifest record carries is an image field; otherwise
 * one that some annotation carries is an object field; a field that neither carries is BAD_INPUT
 * (a typo would otherwise select nothing, or everything).
 *
 * Scoring of a slice (see docs/evaluation.md, "Slice semantics"):
 * - `image`: only image fields. COCO evaluation on the selected images (exact).
 * - `category`: image fields plus `category`. COCO evaluation on the selected images restricted to
 *   the categories: ground truth and detections of other categories take no part (exactly COCO's
 *   per-category numbers).
 * - `area-range`: object conditions only on `area` (plus optional `category`). COCO's own area-range
 *   rule: ground truth outside the range is ignored, a detection matched to ignored ground truth is
 *   ignored, an unmatched detection is ignored when its box area is outside the range and a false
 *   positive when inside (exactly how COCO computes APs/APm/APl).
 * - `recall-oriented`: other object attributes (occlusion, distance, ...), which detections do not
 *   carry. Ground truth outside the slice is ignored, detections matched to it are ignored, and
 *   unmatched detections are ignored too (a detection cannot be attributed to an occlusion level it
 *   does not have). False positives therefore do not count: AP here measures how well the slice's
 *   objects are found and ranked (recall-oriented), not precision; compare it across models, not with
 *   the overall AP.
 *
 * Pure: data in, masks out.
 */
import { badInput } from '../core/errors.js';
import type { SliceDefinition } from './gates/slices.js';

/** The object fields known without looking at the data. */
export const KNOWN_OBJECT_FIELDS: readonly string[] = [
  'category',
  'area',
  'iscrowd',
  'occlusion',
  'truncation',
  'distance',
];

/** How a slice is scored (see the module comment). */
export type SliceScoring = 'image' | 'category' | 'area-range' | 'recall-oriented';

/** A filter condition as slices.yaml writes it. */
export type FilterCondition = SliceDefinition['filter'][string];

/** A slice compiled against the evaluation set. */
export interface CompiledSlice {
  definition: SliceDefinition;
  scoring: SliceScoring;
  imageConditions: Array<[string, FilterCondition]>;
  /** Non-category object conditions. */
  objectConditions: Array<[string, FilterCondition]>;
  /** Category ids the slice keeps (null: all). */
  categoryIds: number[] | null;
  /** A key shared by slices that select the same images. */
  imageKey: string;
  /** A key shared by slices with the same object conditions (category aside). */
  objectKey: string;
}

/** What the slice compiler needs to know about the data. */
export interface SliceData {
  /** Manifest records (JSON objects). */
  images: ReadonlyArray<Record<string, unknown>>;
  /** Ground-truth annotations (JSON objects). */
  annotations: ReadonlyArray<Record<string, unknown>>;
  /** Category id -> name of the ground truth. */
  categories: ReadonlyMap<number, string>;
  /** The slices file, for errors. */
  slicesFile: string;
}

/** True when `value` meets the condition (ranges need numbers; a missing value never matches). */
export function matchCondition(cond: FilterCondition, value: unknown): boolean {
  if (Array.isArray(cond)) return cond.some((c) => c === value);
  if (cond !== null && typeof cond === 'object') {
    if (typeof value !== 'number' || Number.isNaN(value)) return false;
    if (cond.gte !== undefined && !(value >= cond.gte)) return false;
    if (cond.gt !== undefined && !(value > cond.gt)) return false;
    if (cond.lte !== undefined && !(value <= cond.lte)) return false;
    if (cond.lt !== undefined && !(value < cond.lt)) return false;
    return true;
  }
  return cond === value;
}

/** Canonical text of a list of conditions (sorted by field), for cache keys. */
function keyOf(conds: ReadonlyArray<[string, FilterCondition]>): string {
  return JSON.stringify([...conds].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

function fieldSets(data: SliceData): { image: Set<string>; object: Set<string> } {
  const image = new Set<string>();
  const object = new Set<string>();
  for (const r of data.images) for (const k of Object.keys(r)) image.add(k);
  for (const a of data.annotations) for (const k of Object.keys(a)) object.add(k);
  return { image, object };
}

/**
 * Compiles slice definitions against the data: classifies each filter field, resolves category
 * names to ids, and picks the scoring. BAD_INPUT (naming the slices file, slice and field) for a
 * field neither the manifest nor the annotations carry, or a category the ground truth lacks.
 */
export function compileSlices(defs: readonly SliceDefinition[], data: SliceData): CompiledSlice[] {
  const fields = fieldSets(data);
  const byName = new Map<string, number>();
  for (const [id, name] of data.categories) byName.set(name, id);
  return defs.map((def, i) => {
    const imageConditions: Array<[string, FilterCondition]> = [];
    const objectConditions: Array<[string, FilterCondition]> = [];
    let categoryIds: number[] | null = null;
    for (const [field, cond] of Object.entries(def.filter)) {
      const where = { file: data.slicesFile, record: def.name, field: `slices[${i}].filter.${field}` };
      if (field === 'category') {
        if (!Array.isArray(cond) && typeof cond === 'object') {
          throw badInput('a category condition cannot be a range', {
            ...where,
            expected: 'a category name or id, or a list of them',
            found: JSON.stringify(cond),
          });
        }
        const values = Array.isArray(cond) ? cond : [cond];
        categoryIds = values.map((v) => {
          const id = typeof v === 'number' ? (data.categories.has(v) ? v : undefined) : byName.get(String(v));
          if (id === undefined) {
            throw badInput('the slice names a category the ground truth does not declare', {
              ...where,
              expected: `one of ${[...data.categories.values()].join(', ')}`,
              found: JSON.stringify(v),
            });
          }
          return id;
        });
        continue;
      }
      if (KNOWN_OBJECT_FIELDS.includes(field)) objectConditions.push([field, cond]);
      else if (fields.image.has(field)) imageConditions.push([field, cond]);
      else if (fields.object.has(field)) objectConditions.push([field, cond]);
      else {
        throw badInput('the slice filters on a field that neither the manifest nor the annotations carry', {
          ...where,
          expected: 'a manifest field (weather, time_of_day, ...) or an annotation field (occlusion, ...)',
          found: field,
        });
      }
    }
    const scoring: SliceScoring =
      objectConditions.length === 0
        ? categoryIds === null
          ? 'image'
          : 'category'
        : objectConditions.every(([f]) => f === 'area')
          ? 'area-range'
          : 'recall-oriented';
    return {
      definition: def,
      scoring,
      imageConditions,
      objectConditions,
      categoryIds: categoryIds === null ? null : [...new Set(categoryIds)].sort((a, b) => a - b),
      imageKey: keyOf(imageConditions),
      objectKey: keyOf(objectConditions),
    };
  });
}

/** 1 for each record that meets every image condition. */
export function imageMask(
  conds: ReadonlyArray<[string, FilterCondition]>,
  images: ReadonlyArray<Record<string, unknown>>,
): Uint8Array {
  const out = new Uint8Array(images.length);
  for (let i = 0; i < images.length; i++) {
    const r = images[i]!;
    let ok = 1;
    for (const [f, c] of conds) {
      if (!matchCondition(c, r[f])) {
        ok = 0;
        break;
      }
    }
    out[i] = ok;
  }
  return out;
}

/** 1 for each annotation that meets every (non-category) object condition. */
export function objectMask(
  conds: ReadonlyArray<[string, FilterCondition]>,
  annotations: ReadonlyArray<Record<string, unknown>>,
): Uint8Array {
  return imageMask(conds, annotations);
}

/** True when a box area meets the slice's `area` conditions (area-range scoring). */
export function areaMatches(conds: ReadonlyArray<[string, FilterCondition]>, area: number): boolean {
  for (const [f, c] of conds) if (f === 'area' && !matchCondition(c, area)) return false;
  return true;
}
