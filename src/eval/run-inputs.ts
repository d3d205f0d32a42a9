/**
 * The input edge of `drivegate eval run`: reads and checks every input file before anything is
 * computed or written (slices, gate policy, waivers, baseline report, manifest, ground truth), so
 * bad input fails fast with BAD_INPUT naming the file and the record, and the output folder is
 * never touched.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { sha256 } from '../core/digest.js';
import { DrivegateError, badInput } from '../core/errors.js';
import type { CocoGroundTruth as CocoColumns } from './metrics/coco/index.js';
import { loadGroundTruth } from './metrics/coco/index.js';
import type { CocoGroundTruth as CocoObjects } from './metrics/detections.js';
import { cocoGroundTruthSchema, parseWith } from './metrics/detections.js';
import { readManifest } from './integrity/manifest.js';
import type { EvalReport } from './report-schema.js';
import { readEvalReport } from './report-schema.js';
import { parseGatePolicy } from './gates/policy.js';
import type { GatePolicy } from './gates/policy.js';
import { parseSliceDefinitions } from './gates/slices.js';
import type { SliceDefinition } from './gates/slices.js';
import { parseWaivers } from './gates/waivers.js';
import type { Waiver } from './gates/waivers.js';
import { readYamlSource } from './yaml.js';

/** The manifest as the evaluation uses it. */
export interface EvalManifest {
  file: string;
  sha256: string;
  /** Records in file order (JSON objects that passed the manifest schema). */
  records: Array<Record<string, unknown>>;
  /** 1-based line of each record. */
  lines: number[];
  /** The split the records declare (the first record's), when any. */
  split: string | undefined;
}

/** Ground truth in both forms the metrics take. */
export interface EvalGroundTruth {
  file: string;
  sha256: string;
  /** Columnar (the COCO evaluator). */
  columns: CocoColumns;
  /** Plain objects (matching, calibration, thresholds, confusion; annotation attributes). */
  objects: CocoObjects;
  /** Category id -> name. */
  categories: Map<number, string>;
}

/** Reads a manifest; the first record that fails the schema is BAD_INPUT naming file and line. */
export async function loadEvalManifest(file: string): Promise<EvalManifest> {
  const bytes = await readFile(file).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DrivegateError(code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_INPUT', `cannot read the manifest`, {
      file,
      expected: 'a JSON-lines manifest',
      found: String(code),
    });
  });
  const m = await readManifest(file);
  const records: Array<Record<string, unknown>> = [];
  const lines: number[] = [];
  const seen = new Map<number, number>();
  for (const row of m.rows) {
    if (row.record === null || row.raw === null) {
      throw badInput('invalid manifest record', {
        file,
        line: row.line,
        expected: 'a manifest record (schema v1: image, image_id, scene_id, frame, timestamp, split, ...)',
        found: row.problems.join('; '),
      });
    }
    const id = row.record.image_id;
    const dup = seen.get(id);
    if (dup !== undefined) {
      throw badInput('image_id repeats in the manifest', {
        file,
        line: row.line,
        field: 'image_id',
        expected: `a unique image id (line ${dup} has it too)`,
        found: String(id),
      });
    }
    seen.set(id, row.line);
    records.push(row.raw);
    lines.push(row.line);
  }
  if (records.length === 0) {
    throw badInput('the manifest has no records', {
      file,
      expected: 'at least one image record',
      found: 'none',
    });
  }
  const first = records[0]!['split'];
  return {
    file,
    sha256: sha256(bytes),
    records,
    lines,
    split: typeof first === 'string' ? first : undefined,
  };
}

/** Reads COCO ground truth in both forms (one read of the file). */
export async function loadEvalGroundTruth(file: string): Promise<EvalGroundTruth> {
  const bytes = await readFile(file).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DrivegateError(code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_INPUT', 'cannot read the ground truth', {
      file,
      expected: 'a COCO instances JSON file',
      found: String(code),
    });
  });
  const columns = loadGroundTruth({ bytes, name: file }, { iouType: 'bbox' });
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw badInput('not valid JSON', { file, expected: 'COCO ground truth', found: (err as Error).message });
  }
  const objects = parseWith(cocoGroundTruthSchema, parsed, file, 'COCO ground truth');
  if (objects.annotations.length !== columns.count) {
    throw new DrivegateError('INTERNAL', 'the two ground-truth readers disagree on the annotation count', {
      file,
      expected: String(columns.count),
      found: String(objects.annotations.length),
    });
  }
  const categories = new Map<number, string>();
  objects.categories.forEach((c) => categories.set(c.id, c.name));
  return { file, sha256: sha256(bytes), columns, objects, categories };
}

/** The ground-truth file to use: --gt, else slices.yaml's `annotations[split]`, else the manifest's sibling .json. */
export function resolveGroundTruthFile(
  gt: string | undefined,
  manifest: EvalManifest,
  slicesFile: string,
  slicesDoc: unknown,
): string {
  if (gt !== undefined) return gt;
  const ann = (slicesDoc as { annotations?: unknown } | null)?.annotations;
  if (manifest.split !== undefined && ann !== null && typeof ann === 'object') {
    const named = (ann as Record<string, unknown>)[manifest.split];
    if (typeof named === 'string') return resolve(dirname(slicesFile), named);
  }
  const sibling = join(dirname(manifest.file), basename(manifest.file).replace(/\.[^.]*$/, '') + '.json');
  if (existsSync(sibling)) return sibling;
  throw new DrivegateError('USAGE', 'no ground truth: give --gt', {
    field: '--gt',
    expected: `--gt, an 'annotations' entry for split '${manifest.split ?? '?'}' in ${slicesFile}, or ${sibling}`,
    found: 'none of them',
  });
}

/** Policy files of the gate (optional). */
export interface GateInputs {
  policy: GatePolicy;
  waivers: Waiver[];
}

/** Reads the slice definitions and the raw document (for `annotations`). */
export async function loadSlices(file: string): Promise<{ defs: SliceDefinition[]; doc: unknown }> {
  const src = await readYamlSource(file);
  return { defs: parseSliceDefinitions(src), doc: src.value };
}

/** Reads the gate policy and waivers. */
export async function loadGateInputs(gates: string, waivers: string | undefined): Promise<GateInputs> {
  const policy = parseGatePolicy(await readYamlSource(gates));
  const w = waivers !== undefined ? parseWaivers(await readYamlSource(waivers)) : [];
  return { policy, waivers: w };
}

/** Reads a baseline report (another schema version is BAD_INPUT naming the file and the version). */
export function loadBaseline(file: string): Promise<EvalReport> {
  return readEvalReport(file);
}
