import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sha256 } from '../../core/digest.js';
import { DrivegateError } from '../../core/errors.js';
import { packageRoot } from '../../core/paths.js';
import { validateDatasets } from './validate.js';
import { manifestText, record } from './testdata.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dg-validate-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes images and a manifest of n records of a split; returns the manifest path. */
async function dataset(
  name: string,
  split: string,
  first: number,
  n: number,
  over: (i: number) => Record<string, unknown> = () => ({}),
) {
  const recs = [];
  for (let i = first; i < first + n; i++) {
    const bytes = `image ${i}`;
    const r = record(i, { split, sha256: sha256(bytes), ...over(i) });
    await mkdir(join(dir, name, r.image, '..'), { recursive: true });
    await writeFile(join(dir, name, r.image), bytes);
    recs.push(r);
  }
  const file = join(dir, name, `golden_${split}.manifest`);
  await writeFile(file, manifestText(recs));
  return file;
}

test('clean split manifests pass schema, the example expectations, files and the example leakage policy', async () => {
  const train = await dataset('ok', 'train', 0, 30, (i) => ({
    timestamp: 1_700_000_000 + i,
    width: 640,
    unix_time: 1_700_000_000 + i,
  }));
  const val = await dataset('ok', 'val', 100, 20, (i) => ({
    timestamp: 1_800_000_000 + i,
    width: 640,
    unix_time: 1_800_000_000 + i,
  }));
  const report = await validateDatasets({
    manifests: [train, val],
    expectations: join(packageRoot(), 'examples', 'expectations.yaml'),
    leakagePolicy: join(packageRoot(), 'examples', 'leakage.yaml'),
    checkFiles: true,
  });
  assert.deepEqual(report.failures, []);
  assert.equal(report.passed, true);
  assert.equal(report.manifests[0]!.files!.checked, 30);
});

test('a tampered, a missing and an escaping image fail the file check with their lines', async () => {
  const m = await dataset('files', 'train', 0, 5);
  await writeFile(join(dir, 'files', record(1).image), 'tampered');
  await rm(join(dir, 'files', record(3).image));
  const text = manifestText([
    ...[0, 1, 2, 3, 4].map((i) => record(i, { sha256: sha256(`image ${i}`) })),
    record(5, { image: '../../etc/passwd', sha256: sha256('x') }),
  ]);
  await writeFile(m, text);
  const report = await validateDatasets({ manifests: [m], checkFiles: true });
  assert.equal(report.passed, false);
  const f = report.manifests[0]!.files!;
  assert.deepEqual(
    f.findings.items.map((x) => [x.line, x.problem]),
    [
      [2, 'digest_mismatch'],
      [4, 'missing'],
      [6, 'outside_manifest_folder'],
    ],
  );
  assert.equal(f.findings.items[0]!.found, sha256('tampered'));
});

test('schema failures are listed with file and line, capped at the limit with the total', async () => {
  const file = join(dir, 'bad.manifest');
  await writeFile(file, manifestText(Array.from({ length: 70 }, (_, i) => record(i, { frame: -1 }))));
  const report = await validateDatasets({ manifests: [file] });
  const s = report.manifests[0]!.schema;
  assert.equal(s.passed, false);
  assert.equal(s.failures.items.length, 50);
  assert.equal(s.failures.total, 70);
  assert.equal(s.failures.items[49]!.line, 50);
  assert.equal(s.failures.items[0]!.file, file);
  assert.match(report.failures[0]!, /70 record\(s\) fail the manifest schema/);
});

test('leakage across manifests fails the validation', async () => {
  const a = join(dir, 'leak_train.manifest');
  const b = join(dir, 'leak_val.manifest');
  await writeFile(a, manifestText([record(0, { split: 'train' })]));
  await writeFile(b, manifestText([record(1, { split: 'val' })]));
  const report = await validateDatasets({ manifests: [a, b] });
  assert.equal(report.passed, false);
  assert.match(report.failures.join('\n'), /leakage \(scene\)/);
});

test('a broken expectation file fails before any manifest is read', async () => {
  const suite = join(dir, 'broken.yaml');
  await writeFile(suite, 'expectations:\n  - type: expect_column_values_to_not_be_null\n    column: [a\n');
  await assert.rejects(
    validateDatasets({ manifests: ['/nonexistent.manifest'], expectations: suite }),
    (err: unknown) => {
      assert.ok(err instanceof DrivegateError);
      assert.equal(err.code, 'BAD_INPUT');
      assert.equal(err.location.file, suite);
      assert.ok(err.location.line !== undefined);
      return true;
    },
  );
});
