/**
 * Dataset manifests: JSON lines, one record per image, and their record schema (zod).
 * Reading is streamed line by line; every record keeps its file and line so that findings can
 * point at it.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { DrivegateError } from '../../core/errors.js';

/**
 * A timestamp: an ISO 8601 date-time with a zone (`Z` or `+hh:mm`), or epoch seconds (a number).
 * Local times without a zone are rejected: their instant depends on the reader's time zone.
 */
export const timestampSchema = z.union([
  z.iso.datetime({ offset: true, local: false }),
  z.number().finite().nonnegative(),
]);

/**
 * One manifest record (schema v1). Extra fields are allowed and kept (expectations may address
 * them); these are required. `image` is relative to the manifest's folder.
 */
export const manifestRecordSchema = z.looseObject({
  image: z.string().min(1),
  image_id: z.number().int().nonnegative(),
  scene_id: z.union([z.string().min(1), z.number().int()]),
  frame: z.number().int().nonnegative(),
  timestamp: timestampSchema,
  split: z.string().min(1),
  weather: z.string().min(1),
  time_of_day: z.string().min(1),
  road_type: z.string().min(1),
  region: z.string().min(1),
  geo_cell: z.union([z.string().min(1), z.number().int()]),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256 (64 characters)'),
});

/** A manifest record that passed the schema. */
export type ManifestRecord = z.infer<typeof manifestRecordSchema>;

/** One line of a manifest as read: where it is, the parsed JSON (or null), and its schema result. */
export interface ManifestRow {
  file: string;
  /** 1-based line number. */
  line: number;
  /** The parsed JSON object, or null when the line is not a JSON object. */
  raw: Record<string, unknown> | null;
  /** The record when it passed the schema. */
  record: ManifestRecord | null;
  /** Why the line failed the schema (empty when it passed). */
  problems: string[];
}

/** A manifest as read. */
export interface Manifest {
  file: string;
  rows: ManifestRow[];
}

/** Converts a manifest timestamp to epoch seconds. */
export function timestampSeconds(ts: string | number): number {
  return typeof ts === 'number' ? ts : Date.parse(ts) / 1000;
}

/** Validates one line of manifest text; blank lines give null (they are skipped). */
export function parseManifestLine(text: string, file: string, line: number): ManifestRow | null {
  if (text.trim() === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { file, line, raw: null, record: null, problems: [`not JSON: ${(err as Error).message}`] };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { file, line, raw: null, record: null, problems: ['not a JSON object'] };
  }
  const raw = parsed as Record<string, unknown>;
  const result = manifestRecordSchema.safeParse(raw);
  if (result.success) return { file, line, raw, record: result.data, problems: [] };
  const problems = result.error.issues.map((i) => {
    const field = i.path.map(String).join('.');
    const value = i.path.length > 0 ? raw[String(i.path[0])] : undefined;
    const found = value === undefined ? 'missing' : JSON.stringify(value);
    return `${field || '(record)'}: ${i.message} (found ${found.length > 60 ? found.slice(0, 57) + '...' : found})`;
  });
  return { file, line, raw, record: null, problems };
}

/** Parses manifest text already in memory (tests, small inputs). */
export function parseManifestText(text: string, file: string): Manifest {
  const rows: ManifestRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const row = parseManifestLine(lines[i] ?? '', file, i + 1);
    if (row !== null) rows.push(row);
  }
  return { file, rows };
}

/** Reads a manifest file, streamed line by line. A missing file is NOT_FOUND. */
export async function readManifest(file: string): Promise<Manifest> {
  const rows: ManifestRow[] = [];
  const stream = createReadStream(file, { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  try {
    await opened;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DrivegateError(
      code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_INPUT',
      `cannot read manifest (${String(code)})`,
      {
        file,
        cause: err,
      },
    );
  }
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    const row = parseManifestLine(text, file, line);
    if (row !== null) rows.push(row);
  }
  return { file, rows };
}
