import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { DrivegateError } from '../core/errors.js';
import {
  ParquetTableWriter,
  SLICE_METRICS_FILE,
  writeParquet,
  writeSliceMetrics,
  type ParquetSchema,
  type SliceMetricRow,
} from './parquet.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dg-parquet-'));
  dirs.push(dir);
  return dir;
}

/** Runs SQL in a fresh in-memory DuckDB; returns column names, DuckDB type names and JS rows. */
async function duck(
  sql: string,
): Promise<{ names: string[]; types: string[]; rows: Record<string, unknown>[] }> {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  try {
    const reader = await con.runAndReadAll(sql);
    return {
      names: reader.columnNames(),
      types: reader.columnTypes().map((t) => t.toString()),
      rows: reader.getRowObjectsJS() as Record<string, unknown>[],
    };
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

const q = (path: string): string => `'${path.replace(/'/g, "''")}'`;

test('DuckDB reads slice_metrics.parquet back with the same values and types', async () => {
  const dir = tempDir();
  const path = join(dir, SLICE_METRICS_FILE);
  const rows: SliceMetricRow[] = [
    {
      slice: 'all',
      class: 'car',
      metric: 'AP',
      value: 0.625,
      baseline_value: 0.5,
      n_images: 100,
      n_objects: 812,
    },
    {
      slice: 'weather=rain',
      class: 'pedestrian',
      metric: 'AP50',
      value: 0.3,
      baseline_value: 0.45,
      delta: -0.15,
      n_images: 12,
      n_objects: 40,
    },
    {
      slice: 'time=night',
      class: 'all',
      metric: 'ECE',
      value: 0.071,
      baseline_value: null,
      n_images: 7,
      n_objects: 0,
    },
  ];
  const result = await writeSliceMetrics(path, rows);
  assert.deepEqual(result, {
    path,
    rows: 3,
    rowGroups: 1,
    bytes: readFileSync(path).length,
  });

  const got = await duck(`SELECT * FROM read_parquet(${q(path)})`);
  assert.deepEqual(got.names, [
    'slice',
    'class',
    'metric',
    'value',
    'baseline_value',
    'delta',
    'n_images',
    'n_objects',
  ]);
  assert.deepEqual(got.types, [
    'VARCHAR',
    'VARCHAR',
    'VARCHAR',
    'DOUBLE',
    'DOUBLE',
    'DOUBLE',
    'BIGINT',
    'BIGINT',
  ]);
  assert.deepEqual(got.rows, [
    {
      slice: 'all',
      class: 'car',
      metric: 'AP',
      value: 0.625,
      baseline_value: 0.5,
      delta: 0.125,
      n_images: 100n,
      n_objects: 812n,
    },
    {
      slice: 'weather=rain',
      class: 'pedestrian',
      metric: 'AP50',
      value: 0.3,
      baseline_value: 0.45,
      delta: -0.15,
      n_images: 12n,
      n_objects: 40n,
    },
    {
      slice: 'time=night',
      class: 'all',
      metric: 'ECE',
      value: 0.071,
      baseline_value: null,
      delta: null,
      n_images: 7n,
      n_objects: 0n,
    },
  ]);

  const schema = await duck(
    `SELECT name, type, repetition_type FROM parquet_schema(${q(path)}) WHERE name <> 'schema'`,
  );
  const nullable = Object.fromEntries(schema.rows.map((r) => [r['name'], r['repetition_type']]));
  assert.equal(nullable['value'], 'REQUIRED');
  assert.equal(nullable['baseline_value'], 'OPTIONAL');
  assert.equal(nullable['delta'], 'OPTIONAL');
});

const ALL_TYPES: ParquetSchema = [
  { name: 's', type: 'string' },
  { name: 's_null', type: 'string', nullable: true },
  { name: 'i32', type: 'int32' },
  { name: 'i32_null', type: 'int32', nullable: true },
  { name: 'i64', type: 'int64' },
  { name: 'i64_null', type: 'int64', nullable: true },
  { name: 'f64', type: 'double' },
  { name: 'f64_null', type: 'double', nullable: true },
  { name: 'b', type: 'boolean' },
  { name: 'b_null', type: 'boolean', nullable: true },
];

function typedRow(i: number): Record<string, string | number | bigint | boolean | null> {
  return {
    s: `row ${i} — ünïcode | pipe`,
    s_null: i % 3 === 0 ? null : `s${i}`,
    i32: i % 2 === 0 ? 2147483647 - i : -2147483648 + i,
    i32_null: i % 4 === 0 ? null : i,
    i64: 9007199254740993n + BigInt(i) * (i % 2 === 0 ? 1n : -1n),
    i64_null: i % 5 === 0 ? null : -i,
    f64: i / 7,
    f64_null: i % 2 === 0 ? null : i * 1.5,
    b: i % 2 === 0,
    b_null: i % 3 === 0 ? null : i % 3 === 1,
  };
}

for (const compression of ['snappy', 'none'] as const) {
  test(`every column type round-trips through DuckDB over several row groups (${compression})`, async () => {
    const dir = tempDir();
    const path = join(dir, 'types.parquet');
    const rows = Array.from({ length: 1050 }, (_, i) => typedRow(i));
    const result = await writeParquet(path, ALL_TYPES, rows, { compression, rowGroupSize: 400 });
    assert.equal(result.rows, 1050);
    assert.equal(result.rowGroups, 3);

    const got = await duck(`SELECT * FROM read_parquet(${q(path)})`);
    assert.deepEqual(got.types, [
      'VARCHAR',
      'VARCHAR',
      'INTEGER',
      'INTEGER',
      'BIGINT',
      'BIGINT',
      'DOUBLE',
      'DOUBLE',
      'BOOLEAN',
      'BOOLEAN',
    ]);
    assert.equal(got.rows.length, rows.length);
    for (let i = 0; i < rows.length; i++) {
      const want = Object.fromEntries(
        Object.entries(rows[i] ?? {}).map(([k, v]) => [
          k,
          typeof v === 'number' && k.startsWith('i64') ? BigInt(v) : v,
        ]),
      );
      assert.deepEqual(got.rows[i], want, `row ${i}`);
    }

    const meta = await duck(
      `SELECT DISTINCT row_group_id, row_group_num_rows, compression FROM parquet_metadata(${q(path)}) ORDER BY row_group_id`,
    );
    assert.deepEqual(
      meta.rows.map((r) => [r['row_group_num_rows'], r['compression']]),
      [
        [400n, compression === 'snappy' ? 'SNAPPY' : 'UNCOMPRESSED'],
        [400n, compression === 'snappy' ? 'SNAPPY' : 'UNCOMPRESSED'],
        [250n, compression === 'snappy' ? 'SNAPPY' : 'UNCOMPRESSED'],
      ],
    );
  });
}

test('writes whole min/max statistics, and filters on long strings find every row', async () => {
  const dir = tempDir();
  const path = join(dir, 'long.parquet');
  const prefix = 'weather=heavy-rain/time=night/road=highway/region=';
  const rows = Array.from({ length: 3000 }, (_, i) => ({ slice: `${prefix}${i % 30}`, n: i }));
  await writeParquet(
    path,
    [
      { name: 'slice', type: 'string' },
      { name: 'n', type: 'int32' },
    ],
    rows,
    {
      rowGroupSize: 500,
    },
  );
  const got = await duck(
    `SELECT count(*) AS c FROM read_parquet(${q(path)}) WHERE slice = '${prefix}29' OR slice = '${prefix}0'`,
  );
  assert.deepEqual(got.rows, [{ c: 200n }]);
  const stats = await duck(
    `SELECT stats_min_value AS lo, stats_max_value AS hi FROM parquet_metadata(${q(path)}) WHERE path_in_schema = 'slice' AND row_group_id = 0`,
  );
  assert.deepEqual(stats.rows, [{ lo: `${prefix}0`, hi: `${prefix}9` }], 'whole, untruncated bounds');
});

test('writes rows from an async iterable, and an empty table that DuckDB reads', async () => {
  const dir = tempDir();
  async function* gen(): AsyncIterable<{ k: string; v: number }> {
    for (let i = 0; i < 5; i++) yield { k: `k${i}`, v: i * 0.5 };
  }
  const schema: ParquetSchema = [
    { name: 'k', type: 'string' },
    { name: 'v', type: 'double' },
  ];
  await writeParquet(join(dir, 'a.parquet'), schema, gen());
  const got = await duck(`SELECT sum(v) AS s, count(*) AS c FROM read_parquet(${q(join(dir, 'a.parquet'))})`);
  assert.deepEqual(got.rows, [{ s: 5, c: 5n }]);

  const empty = await writeParquet(join(dir, 'empty.parquet'), schema, []);
  assert.equal(empty.rows, 0);
  const e = await duck(`SELECT * FROM read_parquet(${q(join(dir, 'empty.parquet'))})`);
  assert.deepEqual(e.types, ['VARCHAR', 'DOUBLE']);
  assert.equal(e.rows.length, 0);
});

test('stores footer key/value metadata', async () => {
  const dir = tempDir();
  const path = join(dir, 'kv.parquet');
  await writeParquet(path, [{ name: 'x', type: 'int32' }], [{ x: 1 }], {
    metadata: { run_id: 'r-42', dataset: 'sha256:abc' },
  });
  const got = await duck(
    `SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${q(path)}) ORDER BY k`,
  );
  assert.deepEqual(got.rows, [
    { k: 'dataset', v: 'sha256:abc' },
    { k: 'run_id', v: 'r-42' },
  ]);
});

test('rejects a value of the wrong type, naming the record and field, and leaves no file behind', async () => {
  const dir = tempDir();
  const path = join(dir, SLICE_METRICS_FILE);
  const rows = [
    { slice: 'all', class: 'car', metric: 'AP', value: 0.5, baseline_value: null, n_images: 1, n_objects: 2 },
    {
      slice: 'all',
      class: 'car',
      metric: 'AP50',
      value: 0.5,
      baseline_value: null,
      n_images: 1.5,
      n_objects: 2,
    },
  ];
  await assert.rejects(writeSliceMetrics(path, rows), (err: unknown) => {
    assert.ok(err instanceof DrivegateError);
    assert.equal(err.code, 'BAD_INPUT');
    assert.equal(err.location.record, 1);
    assert.equal(err.location.field, 'n_images');
    assert.match(err.message, /found number 1\.5/);
    return true;
  });
  assert.deepEqual(readdirSync(dir), []);
});

test('rejects a null in a non-nullable column and an int32 out of range', async () => {
  const dir = tempDir();
  const schema: ParquetSchema = [{ name: 'n', type: 'int32' }];
  await assert.rejects(writeParquet(join(dir, 'a.parquet'), schema, [{ n: null }]), (err: unknown) => {
    assert.ok(err instanceof DrivegateError);
    assert.equal(err.location.field, 'n');
    assert.match(err.message, /non-nullable/);
    return true;
  });
  await assert.rejects(writeParquet(join(dir, 'b.parquet'), schema, [{ n: 2 ** 31 }]), /int32/);
  await assert.rejects(
    writeParquet(join(dir, 'c.parquet'), [{ name: 'n', type: 'int64' }], [{ n: 2 ** 60 }]),
    /int64/,
  );
  assert.deepEqual(readdirSync(dir), []);
});

test('rejects a schema with a repeated column name', async () => {
  const dir = tempDir();
  await assert.rejects(
    writeParquet(
      join(dir, 'a.parquet'),
      [
        { name: 'x', type: 'int32' },
        { name: 'x', type: 'double' },
      ],
      [],
    ),
    /appears twice/,
  );
  assert.equal(existsSync(join(dir, 'a.parquet')), false);
});

test('leaves the old file in place until close, and after an abort', async () => {
  const dir = tempDir();
  const path = join(dir, 't.parquet');
  writeFileSync(path, 'old');
  const schema: ParquetSchema = [{ name: 'x', type: 'int32' }];

  const w = await ParquetTableWriter.open(path, schema, { rowGroupSize: 2 });
  await w.writeRows([{ x: 1 }, { x: 2 }, { x: 3 }]);
  assert.equal(readFileSync(path, 'utf8'), 'old');
  await w.abort();
  assert.equal(readFileSync(path, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['t.parquet']);

  const w2 = await ParquetTableWriter.open(path, schema, { rowGroupSize: 2 });
  await w2.writeRows([{ x: 1 }, { x: 2 }, { x: 3 }]);
  await w2.writeRows([{ x: 4 }]);
  assert.equal(w2.rowCount, 4);
  const r = await w2.close();
  assert.equal(r.rowGroups, 2);
  const got = await duck(`SELECT list(x ORDER BY x) AS xs FROM read_parquet(${q(path)})`);
  assert.deepEqual(got.rows, [{ xs: [1, 2, 3, 4] }]);
  await assert.rejects(w2.writeRows([{ x: 5 }]), /closed/);
});
