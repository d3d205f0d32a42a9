/**
 * Parquet tables: a typed schema (string, int32, int64, double, boolean; each nullable or not),
 * written row group by row group to a temp file beside the target and renamed into place on close,
 * so a reader sees the old file or the whole new one. The encoding is done by `hyparquet-writer`
 * (pure JS, snappy built in); the output is standard Parquet that DuckDB, pandas/pyarrow and Spark
 * read (the tests read it back with DuckDB).
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import { DrivegateError, badInput } from '../core/errors.js';
import { tempPathFor } from '../core/fsutil.js';

/** The column types a drivegate table may have. */
export type ParquetColumnType = 'string' | 'int32' | 'int64' | 'double' | 'boolean';

/** One column of a table schema. */
export interface ParquetColumn {
  /** Column name (unique within the table, non-empty). */
  readonly name: string;
  /** The value type. */
  readonly type: ParquetColumnType;
  /** Whether the column may hold null (default false: a null or missing value is an error). */
  readonly nullable?: boolean;
}

/** A table schema: the columns in file order. */
export type ParquetSchema = readonly ParquetColumn[];

/**
 * A cell value. int64 columns take a bigint or a safe-integer number; every other type takes its
 * JS twin. null (or a missing key) is allowed only in nullable columns.
 */
export type ParquetValue = string | number | bigint | boolean | null;

/** Compression of the column chunks. */
export type ParquetCompression = 'snappy' | 'none';

/** Options of a Parquet writer. */
export interface ParquetWriteOptions {
  /** Column-chunk compression (default 'snappy'). */
  compression?: ParquetCompression;
  /** Rows per row group (default 100,000). Rows are buffered up to this count, then written. */
  rowGroupSize?: number;
  /** Key/value pairs stored in the file footer (e.g. the run id, the dataset digest). */
  metadata?: Readonly<Record<string, string>>;
}

/** What a finished write produced. */
export interface ParquetWriteResult {
  /** The final path of the file. */
  path: string;
  /** Rows written. */
  rows: number;
  /** Row groups written. */
  rowGroups: number;
  /** File size in bytes. */
  bytes: number;
}

/** The default number of rows per row group. */
export const DEFAULT_ROW_GROUP_SIZE = 100_000;

const CREATED_BY = 'drivegate (hyparquet-writer)';
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

type SchemaElements = ConstructorParameters<typeof ParquetWriter>[0]['schema'];
type ColumnData = Parameters<ParquetWriter['write']>[0]['columnData'];

/**
 * A hyparquet Writer that keeps one row group in memory and appends it to an open file when the
 * Parquet writer flushes (after each row group, and at the end).
 */
class FileSink extends ByteWriter {
  constructor(private readonly handle: FileHandle) {
    super(1 << 16);
  }

  /** Appends the buffered bytes to the file and empties the buffer. */
  async flush(): Promise<void> {
    let off = 0;
    while (off < this.index) {
      const { bytesWritten } = await this.handle.write(new Uint8Array(this.buffer, off, this.index - off));
      off += bytesWritten;
    }
    this.index = 0;
  }

  override finish(): Promise<void> {
    return this.flush();
  }
}

function schemaElements(schema: ParquetSchema): SchemaElements {
  const elements: SchemaElements = [{ name: 'schema', num_children: schema.length }];
  for (const col of schema) {
    const repetition_type = col.nullable === true ? 'OPTIONAL' : 'REQUIRED';
    switch (col.type) {
      case 'string':
        elements.push({
          name: col.name,
          type: 'BYTE_ARRAY',
          converted_type: 'UTF8',
          logical_type: { type: 'STRING' },
          repetition_type,
        });
        break;
      case 'int32':
        elements.push({ name: col.name, type: 'INT32', repetition_type });
        break;
      case 'int64':
        elements.push({ name: col.name, type: 'INT64', repetition_type });
        break;
      case 'double':
        elements.push({ name: col.name, type: 'DOUBLE', repetition_type });
        break;
      case 'boolean':
        elements.push({ name: col.name, type: 'BOOLEAN', repetition_type });
        break;
    }
  }
  return elements;
}

const TYPES: readonly ParquetColumnType[] = ['string', 'int32', 'int64', 'double', 'boolean'];

/** Checks a schema: at least one column, unique non-empty names, known types. */
export function validateParquetSchema(schema: ParquetSchema, file?: string): void {
  if (schema.length === 0) {
    throw badInput('a Parquet table needs at least one column', {
      ...(file !== undefined ? { file } : {}),
      expected: 'one or more columns',
      found: 'none',
    });
  }
  const seen = new Set<string>();
  for (const col of schema) {
    const where = { ...(file !== undefined ? { file } : {}), field: col.name };
    if (col.name === '') throw badInput('column name is empty', { ...where, expected: 'a name' });
    if (seen.has(col.name)) {
      throw badInput('column name appears twice', { ...where, expected: 'unique column names' });
    }
    seen.add(col.name);
    if (!TYPES.includes(col.type)) {
      throw badInput('unknown column type', {
        ...where,
        expected: TYPES.join(' | '),
        found: String(col.type),
      });
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing (undefined)';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'bigint') return `bigint ${v}n`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v;
}

const EXPECTED: Record<ParquetColumnType, string> = {
  string: 'a string',
  int32: 'an integer in [-2^31, 2^31)',
  int64: 'a bigint or safe integer in [-2^63, 2^63)',
  double: 'a number',
  boolean: 'a boolean',
};

/** Converts one cell to what the encoder takes, or undefined when it does not fit the column. */
function convert(type: ParquetColumnType, v: unknown): string | number | bigint | boolean | undefined {
  switch (type) {
    case 'string':
      return typeof v === 'string' ? v : undefined;
    case 'int32':
      return typeof v === 'number' && Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX ? v : undefined;
    case 'int64':
      if (typeof v === 'bigint') return v >= INT64_MIN && v <= INT64_MAX ? v : undefined;
      return typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : undefined;
    case 'double':
      return typeof v === 'number' ? v : undefined;
    case 'boolean':
      return typeof v === 'boolean' ? v : undefined;
  }
}

/**
 * A Parquet file being written: rows are buffered and written a row group at a time; `close()`
 * writes the footer and renames the temp file into place; `abort()` removes the temp file.
 * Until `close()` resolves, the target path is untouched.
 *
 * @example
 *   const w = await ParquetTableWriter.open('out/t.parquet', [{ name: 'id', type: 'int64' }]);
 *   await w.writeRows(rows);            // any number of calls; an iterable or async iterable
 *   const result = await w.close();
 */
export class ParquetTableWriter<R extends object = Record<string, ParquetValue>> {
  private buffers: unknown[][];
  private buffered = 0;
  private rowsWritten = 0;
  private state: 'open' | 'busy' | 'closed' = 'open';

  private constructor(
    /** The final path of the file. */
    readonly path: string,
    /** The table schema. */
    readonly schema: ParquetSchema,
    private readonly tmp: string,
    private readonly handle: FileHandle,
    private readonly writer: ParquetWriter,
    private readonly rowGroupSize: number,
  ) {
    this.buffers = schema.map(() => []);
  }

  /** Opens a writer for `path` (folders are created). Nothing appears at `path` before close(). */
  static async open<R extends object = Record<string, ParquetValue>>(
    path: string,
    schema: ParquetSchema,
    options: ParquetWriteOptions = {},
  ): Promise<ParquetTableWriter<R>> {
    validateParquetSchema(schema, path);
    const rowGroupSize = options.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE;
    if (!Number.isInteger(rowGroupSize) || rowGroupSize < 1) {
      throw badInput('bad row group size', {
        file: path,
        field: 'rowGroupSize',
        expected: 'a positive integer',
        found: String(rowGroupSize),
      });
    }
    const compression = options.compression ?? 'snappy';
    if (compression !== 'snappy' && compression !== 'none') {
      throw badInput('unsupported compression', {
        file: path,
        field: 'compression',
        expected: "'snappy' or 'none'",
        found: String(compression),
      });
    }
    await fs.mkdir(dirname(path), { recursive: true });
    const tmp = tempPathFor(path);
    const handle = await fs.open(tmp, 'wx');
    try {
      const kv = Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value }));
      const writer = new ParquetWriter({
        writer: new FileSink(handle),
        schema: schemaElements(schema),
        codec: compression === 'snappy' ? 'SNAPPY' : 'UNCOMPRESSED',
        // Whole min/max values: a truncated string bound is legal Parquet but buys nothing here.
        statisticsTruncateLength: Infinity,
        createdBy: CREATED_BY,
        ...(kv.length > 0 ? { kvMetadata: kv } : {}),
      });
      return new ParquetTableWriter<R>(path, schema, tmp, handle, writer, rowGroupSize);
    } catch (err) {
      await handle.close();
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  /** Rows accepted so far (written or buffered). */
  get rowCount(): number {
    return this.rowsWritten + this.buffered;
  }

  /**
   * Adds rows (an array, any iterable, or an async iterable). Each value is checked against its
   * column; a bad one throws BAD_INPUT naming the record (0-based row index) and field, and the
   * writer is aborted (the temp file removed). Full row groups are written as they fill.
   */
  async writeRows(rows: Iterable<R> | AsyncIterable<R>): Promise<void> {
    this.enter();
    try {
      if (Symbol.asyncIterator in rows) {
        for await (const row of rows) if (this.add(row)) await this.flushGroup();
      } else {
        for (const row of rows) if (this.add(row)) await this.flushGroup();
      }
    } catch (err) {
      this.state = 'open';
      await this.abort();
      throw err;
    }
    this.state = 'open';
  }

  /** Writes the buffered rows and the footer, then renames the file into place. */
  async close(): Promise<ParquetWriteResult> {
    this.enter();
    try {
      if (this.buffered > 0) await this.flushGroup();
      await this.writer.finish();
      await this.handle.sync();
      const { size } = await this.handle.stat();
      await this.handle.close();
      await fs.rename(this.tmp, this.path);
      await syncDir(dirname(this.path));
      this.state = 'closed';
      return {
        path: this.path,
        rows: this.rowsWritten,
        rowGroups: this.writer.row_groups.length,
        bytes: size,
      };
    } catch (err) {
      this.state = 'open';
      await this.abort();
      throw err;
    }
  }

  /** Gives up: closes and removes the temp file; the target path is left as it was. */
  async abort(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    await this.handle.close().catch(() => undefined);
    await fs.rm(this.tmp, { force: true });
  }

  private enter(): void {
    if (this.state === 'closed') {
      throw new DrivegateError('USAGE', `Parquet writer for ${basename(this.path)} is closed`);
    }
    if (this.state === 'busy') {
      throw new DrivegateError(
        'USAGE',
        `Parquet writer for ${basename(this.path)} is busy: await the previous call first`,
      );
    }
    this.state = 'busy';
  }

  /** Buffers one checked row; true when the row group is full and must be flushed. */
  private add(row: R): boolean {
    const rec = row as Record<string, unknown>;
    const index = this.rowsWritten + this.buffered;
    for (let c = 0; c < this.schema.length; c++) {
      const col = this.schema[c] as ParquetColumn;
      const v = rec[col.name];
      let out: unknown;
      if (v === null || v === undefined) {
        if (col.nullable !== true) {
          throw badInput('missing value in a non-nullable column', {
            file: this.path,
            record: index,
            field: col.name,
            expected: EXPECTED[col.type],
            found: describe(v),
          });
        }
        out = null;
      } else {
        out = convert(col.type, v);
        if (out === undefined) {
          throw badInput(`value does not fit column type ${col.type}`, {
            file: this.path,
            record: index,
            field: col.name,
            expected: EXPECTED[col.type],
            found: describe(v),
          });
        }
      }
      (this.buffers[c] as unknown[]).push(out);
    }
    this.buffered++;
    return this.buffered >= this.rowGroupSize;
  }

  private async flushGroup(): Promise<void> {
    const n = this.buffered;
    const columnData = this.schema.map((col, c) => ({
      name: col.name,
      data: this.buffers[c] as ColumnData[number]['data'],
    }));
    this.buffers = this.schema.map(() => []);
    this.buffered = 0;
    await this.writer.write({ columnData, rowGroupSize: n });
    this.rowsWritten += n;
  }
}

async function syncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * Writes a whole table to `path` atomically: opens a ParquetTableWriter, writes `rows` (an array,
 * iterable or async iterable, consumed row group by row group) and closes it.
 */
export async function writeParquet<R extends object>(
  path: string,
  schema: ParquetSchema,
  rows: Iterable<R> | AsyncIterable<R>,
  options: ParquetWriteOptions = {},
): Promise<ParquetWriteResult> {
  const w = await ParquetTableWriter.open<R>(path, schema, options);
  await w.writeRows(rows);
  return w.close();
}

// ---------------------------------------------------------------------------------------------
// slice_metrics.parquet

/** The file name of the per-slice metrics table of an evaluation. */
export const SLICE_METRICS_FILE = 'slice_metrics.parquet';

/**
 * One row of slice_metrics.parquet: the value of one metric for one class on one slice of the
 * evaluation set, with the baseline (production) model's value and the difference when known.
 */
export interface SliceMetricRow {
  /** Slice name, e.g. "all", "weather=rain", "time=night". */
  slice: string;
  /** Class name, or "all" for a class-averaged metric. */
  class: string;
  /** Metric name, e.g. "AP", "AP50", "recall", "ECE". */
  metric: string;
  /** The candidate model's value. */
  value: number;
  /** The baseline model's value; null when there is no baseline or it has no value here. */
  baseline_value: number | null;
  /** value - baseline_value; null when there is no baseline. Computed when omitted. */
  delta?: number | null;
  /** Images in the slice. */
  n_images: number;
  /** Ground-truth objects of the class in the slice. */
  n_objects: number;
}

/** The schema of slice_metrics.parquet. */
export const SLICE_METRICS_SCHEMA: ParquetSchema = [
  { name: 'slice', type: 'string' },
  { name: 'class', type: 'string' },
  { name: 'metric', type: 'string' },
  { name: 'value', type: 'double' },
  { name: 'baseline_value', type: 'double', nullable: true },
  { name: 'delta', type: 'double', nullable: true },
  { name: 'n_images', type: 'int64' },
  { name: 'n_objects', type: 'int64' },
];

/** Fills in `delta` (value - baseline_value) where it was omitted. */
export function completeSliceMetricRow(row: SliceMetricRow): Required<SliceMetricRow> {
  const delta =
    row.delta !== undefined
      ? row.delta
      : row.baseline_value === null || row.baseline_value === undefined
        ? null
        : row.value - row.baseline_value;
  // An explicit literal, not a spread: this runs once per row of tables with millions of rows.
  return {
    slice: row.slice,
    class: row.class,
    metric: row.metric,
    value: row.value,
    baseline_value: row.baseline_value,
    delta,
    n_images: row.n_images,
    n_objects: row.n_objects,
  };
}

function* completedSync(rows: Iterable<SliceMetricRow>): Iterable<Required<SliceMetricRow>> {
  for (const row of rows) yield completeSliceMetricRow(row);
}

async function* completedAsync(rows: AsyncIterable<SliceMetricRow>): AsyncIterable<Required<SliceMetricRow>> {
  for await (const row of rows) yield completeSliceMetricRow(row);
}

/**
 * Writes slice_metrics.parquet (or any path) from rows; `delta` is computed where omitted.
 * Pass a folder-less name to get it in the working directory; usually `join(outDir, SLICE_METRICS_FILE)`.
 */
export function writeSliceMetrics(
  path: string,
  rows: Iterable<SliceMetricRow> | AsyncIterable<SliceMetricRow>,
  options: ParquetWriteOptions = {},
): Promise<ParquetWriteResult> {
  const full = Symbol.asyncIterator in rows ? completedAsync(rows) : completedSync(rows);
  return writeParquet(path, SLICE_METRICS_SCHEMA, full, options);
}
