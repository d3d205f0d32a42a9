import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DrivegateError } from '../core/errors.js';
import { report } from './gates/testdata.js';
import { computeDeltas, parseEvalReport, readEvalReport } from './report-schema.js';

test('a v1 report parses and keeps fields it does not know', () => {
  const r = parseEvalReport({ ...report('m'), robustness: { fog: 0.3 } }, 'r.json');
  assert.equal(r.schema_version, 1);
  assert.deepEqual((r as Record<string, unknown>)['robustness'], { fog: 0.3 });
});

test('a report of another schema version is BAD_INPUT naming the file and the version found', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dg-report-'));
  try {
    const file = join(dir, 'baseline.json');
    await writeFile(file, JSON.stringify({ ...report('b'), schema_version: 2 }));
    await assert.rejects(readEvalReport(file), (err: unknown) => {
      assert.ok(err instanceof DrivegateError);
      assert.equal(err.code, 'BAD_INPUT');
      assert.equal(err.location.file, file);
      assert.equal(err.location.field, 'schema_version');
      assert.equal(err.found, '2');
      assert.match(
        err.message,
        /baseline\.json, field 'schema_version': unsupported eval_report schema version; expected 1, found 2/,
      );
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a report without schema_version, with a bad field or repeated slice names is BAD_INPUT', () => {
  const { schema_version: _v, ...noVersion } = report('m');
  assert.throws(
    () => parseEvalReport(noVersion, 'r.json'),
    (e: unknown) => e instanceof DrivegateError && e.found === 'no schema_version',
  );
  const bad = { ...report('m'), overall: { map: 'high', map50: 0.5 } };
  assert.throws(
    () => parseEvalReport(bad, 'r.json'),
    (e: unknown) => e instanceof DrivegateError && e.location.field === 'overall.map',
  );
  const r = report('m');
  const dup = { ...r, slices: [r.slices[0], r.slices[0]] };
  assert.throws(
    () => parseEvalReport(dup, 'r.json'),
    (e: unknown) => e instanceof DrivegateError && e.location.field === 'slices[1].name',
  );
});

test('deltas are candidate minus baseline per metric and slice', () => {
  const d = computeDeltas(report('c', { map: 0.55, p95: 25 }), report('b', { map: 0.5 }));
  assert.ok(Math.abs(d.overall['map']! - 0.05) < 1e-12);
  assert.equal(d.overall['map50'], 0);
  assert.equal(d.slices['all']!['map'], 0);
  assert.equal(d.latency!['p95_ms'], -5);
  assert.equal(d.baseline.name, 'b');
});
