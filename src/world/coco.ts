/**
 * COCO object-detection annotation files as the reference world writes them: the types, the
 * grouping of dense far-away pedestrians into crowd regions (iscrowd = 1), and a strict structural
 * check of a COCO file (unique ids, every annotation's image and category exist, boxes inside their
 * image, positive areas).
 *
 * Format: https://cocodataset.org/#format-data (object detection). Extra per-annotation fields
 * (occlusion, truncation, track_id, distance, box3d, ...) are allowed by COCO tools, which ignore them.
 */
import { badInput } from '../core/errors.js';

/** The COCO `info` block. */
export interface CocoInfo {
  description: string;
  version: string;
  year: number;
  contributor: string;
  url: string;
  date_created: string;
}

/** A COCO license entry. */
export interface CocoLicense {
  id: number;
  name: string;
  url: string;
}

/** A COCO image entry (extra fields allowed). */
export interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
  license?: number;
  date_captured?: string;
  [extra: string]: unknown;
}

/** A COCO annotation (extra fields allowed). */
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  /** [x, y, width, height] in pixels, top-left origin. */
  bbox: [number, number, number, number];
  area: number;
  iscrowd: 0 | 1;
  /** Polygons ([[x1, y1, x2, y2, ...]]); here the box outline. */
  segmentation: number[][];
  [extra: string]: unknown;
}

/** A COCO category. */
export interface CocoCategory {
  id: number;
  name: string;
  supercategory: string;
}

/** A COCO detection dataset file. */
export interface CocoDataset {
  info: CocoInfo;
  licenses: CocoLicense[];
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
}

/** A box [x, y, w, h]. */
export type Box = [number, number, number, number];

/** The polygon outline of a box, as COCO segmentation. */
export function boxPolygon(b: Box): number[][] {
  const [x, y, w, h] = b;
  return [[x, y, x + w, y, x + w, y + h, x, y + h]];
}

/** Intersection area of two boxes. */
export function intersectionArea(a: Box, b: Box): number {
  const w = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  return w > 0 && h > 0 ? w * h : 0;
}

/** The smallest box holding both boxes. */
export function unionBox(a: Box, b: Box): Box {
  const x0 = Math.min(a[0], b[0]);
  const y0 = Math.min(a[1], b[1]);
  const x1 = Math.max(a[0] + a[2], b[0] + b[2]);
  const y1 = Math.max(a[1] + a[3], b[1] + b[3]);
  return [x0, y0, x1 - x0, y1 - y0];
}

/** Rules for turning dense groups into crowd regions. */
export interface CrowdRules {
  /** Smallest group that becomes a crowd (default 3). */
  minMembers: number;
  /** Members must be at least this far from the camera, metres (default 20). */
  minDistance: number;
  /** Two boxes are linked when their intersection covers this share of the smaller one (default 0.3). */
  minOverlap: number;
}

/** The default crowd rules. */
export const DEFAULT_CROWD_RULES: CrowdRules = { minMembers: 3, minDistance: 20, minOverlap: 0.3 };

/** A crowd candidate: an object's id, box and distance. */
export interface CrowdCandidate {
  id: number;
  bbox: Box;
  distance: number;
}

/**
 * Groups candidates into crowds: far-away candidates whose boxes overlap (intersection over the
 * smaller box >= minOverlap) are linked, and every connected group of at least minMembers becomes
 * one crowd region (its union box). Returns the groups (member ids ascending, groups by smallest id).
 */
export function findCrowds(
  candidates: readonly CrowdCandidate[],
  rules: CrowdRules = DEFAULT_CROWD_RULES,
): Array<{ members: number[]; bbox: Box }> {
  const far = candidates.filter((c) => c.distance >= rules.minDistance && c.bbox[2] > 0 && c.bbox[3] > 0);
  const parent = far.map((_, i) => i);
  const find = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r] as number;
    while (parent[i] !== r) {
      const next = parent[i] as number;
      parent[i] = r;
      i = next;
    }
    return r;
  };
  for (let i = 0; i < far.length; i++) {
    for (let j = i + 1; j < far.length; j++) {
      const a = (far[i] as CrowdCandidate).bbox;
      const b = (far[j] as CrowdCandidate).bbox;
      const smaller = Math.min(a[2] * a[3], b[2] * b[3]);
      if (smaller > 0 && intersectionArea(a, b) / smaller >= rules.minOverlap) {
        const ri = find(i);
        const rj = find(j);
        if (ri !== rj) parent[Math.max(ri, rj)] = Math.min(ri, rj);
      }
    }
  }
  const groups = new Map<number, CrowdCandidate[]>();
  far.forEach((c, i) => {
    const r = find(i);
    const list = groups.get(r) ?? [];
    list.push(c);
    groups.set(r, list);
  });
  const out: Array<{ members: number[]; bbox: Box }> = [];
  for (const members of groups.values()) {
    if (members.length < rules.minMembers) continue;
    let box = (members[0] as CrowdCandidate).bbox;
    for (const m of members) box = unionBox(box, m.bbox);
    out.push({ members: members.map((m) => m.id).sort((a, b) => a - b), bbox: box });
  }
  return out.sort((a, b) => (a.members[0] ?? 0) - (b.members[0] ?? 0));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function needInt(v: unknown, file: string, record: string, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw badInput('not an integer', {
      file,
      record,
      field,
      expected: 'an integer',
      found: JSON.stringify(v),
    });
  }
  return v;
}

function needNumber(v: unknown, file: string, record: string, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw badInput('not a number', {
      file,
      record,
      field,
      expected: 'a finite number',
      found: JSON.stringify(v),
    });
  }
  return v;
}

/**
 * Checks a parsed COCO detection file strictly and returns it typed. Throws BAD_INPUT naming the file,
 * record and field on: a missing top-level section, duplicate image/annotation/category ids, an
 * annotation whose image_id or category_id does not exist, a bbox that is not 4 numbers with w, h > 0
 * inside its image (tolerance `tolerance` px), area <= 0, iscrowd not 0/1, or a missing segmentation.
 */
export function validateCoco(data: unknown, file = '<coco>', tolerance = 0.01): CocoDataset {
  if (!isObject(data)) throw badInput('not a COCO object', { file, expected: 'a JSON object' });
  for (const key of ['info', 'licenses', 'images', 'annotations', 'categories']) {
    if (!(key in data))
      throw badInput('missing section', { file, field: key, expected: `a '${key}' section` });
  }
  if (!isObject(data['info'])) throw badInput('info is not an object', { file, field: 'info' });
  for (const key of ['images', 'annotations', 'categories', 'licenses']) {
    if (!Array.isArray(data[key])) throw badInput('not an array', { file, field: key, expected: 'an array' });
  }
  const images = new Map<number, { width: number; height: number }>();
  (data['images'] as unknown[]).forEach((img, i) => {
    const rec = `images[${i}]`;
    if (!isObject(img)) throw badInput('not an object', { file, record: rec });
    const id = needInt(img['id'], file, rec, 'id');
    if (images.has(id))
      throw badInput('duplicate image id', { file, record: rec, field: 'id', found: String(id) });
    if (typeof img['file_name'] !== 'string' || img['file_name'] === '') {
      throw badInput('missing file_name', { file, record: rec, field: 'file_name', expected: 'a path' });
    }
    const width = needInt(img['width'], file, rec, 'width');
    const height = needInt(img['height'], file, rec, 'height');
    if (width <= 0 || height <= 0) {
      throw badInput('image size not positive', {
        file,
        record: rec,
        field: 'width',
        found: `${width}x${height}`,
      });
    }
    images.set(id, { width, height });
  });
  const categories = new Set<number>();
  (data['categories'] as unknown[]).forEach((cat, i) => {
    const rec = `categories[${i}]`;
    if (!isObject(cat)) throw badInput('not an object', { file, record: rec });
    const id = needInt(cat['id'], file, rec, 'id');
    if (categories.has(id))
      throw badInput('duplicate category id', { file, record: rec, field: 'id', found: String(id) });
    if (typeof cat['name'] !== 'string') throw badInput('missing name', { file, record: rec, field: 'name' });
    categories.add(id);
  });
  const annIds = new Set<number>();
  (data['annotations'] as unknown[]).forEach((ann, i) => {
    const rec = `annotations[${i}]`;
    if (!isObject(ann)) throw badInput('not an object', { file, record: rec });
    const id = needInt(ann['id'], file, rec, 'id');
    if (annIds.has(id))
      throw badInput('duplicate annotation id', { file, record: rec, field: 'id', found: String(id) });
    annIds.add(id);
    const imageId = needInt(ann['image_id'], file, rec, 'image_id');
    const image = images.get(imageId);
    if (image === undefined) {
      throw badInput('annotation refers to a missing image', {
        file,
        record: rec,
        field: 'image_id',
        found: String(imageId),
      });
    }
    const cat = needInt(ann['category_id'], file, rec, 'category_id');
    if (!categories.has(cat)) {
      throw badInput('annotation refers to a missing category', {
        file,
        record: rec,
        field: 'category_id',
        found: String(cat),
      });
    }
    const bbox = ann['bbox'];
    if (!Array.isArray(bbox) || bbox.length !== 4) {
      throw badInput('bad bbox', {
        file,
        record: rec,
        field: 'bbox',
        expected: '[x, y, w, h]',
        found: JSON.stringify(bbox),
      });
    }
    const [x, y, w, h] = bbox.map((v, k) => needNumber(v, file, rec, `bbox[${k}]`)) as Box;
    if (!(w > 0 && h > 0)) {
      throw badInput('bbox has no extent', {
        file,
        record: rec,
        field: 'bbox',
        expected: 'w > 0 and h > 0',
        found: JSON.stringify(bbox),
      });
    }
    if (
      x < -tolerance ||
      y < -tolerance ||
      x + w > image.width + tolerance ||
      y + h > image.height + tolerance
    ) {
      throw badInput('bbox outside its image', {
        file,
        record: rec,
        field: 'bbox',
        expected: `inside ${image.width}x${image.height}`,
        found: JSON.stringify(bbox),
      });
    }
    const area = needNumber(ann['area'], file, rec, 'area');
    if (!(area > 0))
      throw badInput('area not positive', { file, record: rec, field: 'area', found: String(area) });
    if (ann['iscrowd'] !== 0 && ann['iscrowd'] !== 1) {
      throw badInput('bad iscrowd', {
        file,
        record: rec,
        field: 'iscrowd',
        expected: '0 or 1',
        found: JSON.stringify(ann['iscrowd']),
      });
    }
    if (!('segmentation' in ann))
      throw badInput('missing segmentation', { file, record: rec, field: 'segmentation' });
  });
  return data as unknown as CocoDataset;
}
