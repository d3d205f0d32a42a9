import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DrivegateError } from '../../core/errors.js';
import { parseManifestText, readManifest, timestampSeconds } from './manifest.js';
import { manifestText, record } from './testdata.js';

test('accepts ISO 8601 timestamps with a zone and epoch seconds', () => {
  const m = parseManifestText(
    manifestText([
      record(0),
      record(1, { timestamp: 1767225601.5 }),
      record(2, { timestamp: '2026-01-01T01:00:02+01:00' }),
    ]),
    'm.manifest',
  );
  assert.deepEqual(
    m.rows.map((r) => r.problems),
    [[], [], []],
  );
  assert.equal(timestampSeconds(m.rows[0]!.record!.timestamp), Date.UTC(2026, 0, 1) / 1000);
  assert.equal(timestampSeconds(m.rows[2]!.record!.timestamp), Date.UTC(2026, 0, 1, 0, 0, 2) / 1000);
});

test('rejects a local timestamp without a zone, naming the field', () => {
  const m = parseManifestText(manifestText([record(0, { timestamp: '2026-01-01T00:00:00' })]), 'm.manifest');
  assert.equal(m.rows[0]!.record, null);
  assert.match(m.rows[0]!.problems.join(), /timestamp/);
});

test('reports each failing record with its line, including non-JSON lines, and skips blank lines', () => {
  const text = [
    JSON.stringify(record(0)),
    '',
    '{not json',
    JSON.stringify(record(2, { sha256: 'XYZ', frame: -1 })),
    JSON.stringify({ image: 'a.png' }),
    '[1,2]',
  ].join('\n');
  const m = parseManifestText(text, 'm.manifest');
  assert.deepEqual(
    m.rows.map((r) => [r.line, r.record === null]),
    [
      [1, false],
      [3, true],
      [4, true],
      [5, true],
      [6, true],
    ],
  );
  assert.match(m.rows[1]!.problems[0]!, /not JSON/);
  const p4 = m.rows[2]!.problems.join(' | ');
  assert.match(p4, /sha256/);
  assert.match(p4, /frame/);
  assert.match(m.rows[3]!.problems.join(), /image_id: .*missing/);
  assert.equal(m.rows[4]!.problems[0], 'not a JSON object');
});

test('reads a manifest file streamed, keeping line numbers', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dg-manifest-'));
  try {
    const file = join(dir, 'golden_val.manifest');
    await writeFile(file, manifestText(Array.from({ length: 2000 }, (_, i) => record(i))));
    const m = await readManifest(file);
    assert.equal(m.rows.length, 2000);
    assert.equal(m.rows[1999]!.line, 2000);
    assert.ok(m.rows.every((r) => r.record !== null));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a missing manifest is NOT_FOUND naming the file', async () => {
  await assert.rejects(readManifest('/nonexistent/x.manifest'), (err: unknown) => {
    assert.ok(err instanceof DrivegateError);
    assert.equal(err.code, 'NOT_FOUND');
    assert.equal(err.location.file, '/nonexistent/x.manifest');
    return true;
  });
});
