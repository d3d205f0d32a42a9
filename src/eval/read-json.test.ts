import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DrivegateError } from '../core/errors.js';
import { readJsonFile } from './read-json.js';
import { readYamlSource } from './yaml.js';

const dir = await mkdtemp(join(tmpdir(), 'dg-read-inputs-'));
after(() => rm(dir, { recursive: true, force: true }));

/** Asserts that `p` rejects with a DrivegateError of `code` naming `file`, and returns it. */
async function rejection(p: Promise<unknown>, code: string, file: string): Promise<DrivegateError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DrivegateError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.location.file, file);
    return err;
  }
  assert.fail(`expected ${code}`);
}

test('readJsonFile reads plain and gzipped JSON', async () => {
  const plain = join(dir, 'a.json');
  const gz = join(dir, 'a.json.gz');
  await writeFile(plain, '{"a": [1, 2]}');
  await writeFile(gz, gzipSync('{"a": [3]}'));
  assert.deepEqual(await readJsonFile(plain), { a: [1, 2] });
  assert.deepEqual(await readJsonFile(gz), { a: [3] });
});

test('a missing input file is NOT_FOUND and an unreadable one BAD_INPUT, both naming the file', async () => {
  const missing = join(dir, 'missing.json');
  for (const read of [readJsonFile, readYamlSource]) {
    const err = await rejection(read(missing), 'NOT_FOUND', missing);
    assert.match(err.message, /cannot read file \(ENOENT\)/);
    const folder = await rejection(read(dir), 'BAD_INPUT', dir);
    assert.match(folder.message, /cannot read file \(EISDIR\)/);
  }
});

test('readJsonFile reports text that is not JSON as BAD_INPUT naming the file', async () => {
  const bad = join(dir, 'bad.json');
  await writeFile(bad, '{"a": ');
  const err = await rejection(readJsonFile(bad), 'BAD_INPUT', bad);
  assert.equal(err.expected, 'a JSON document');
});
