import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '../core/digest.js';
import { runCliIn } from './cli-testing.js';
import type { CliResult } from './cli-testing.js';

function drivegateIn(home: string, args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  return runCliIn(import.meta.url, home, args, env);
}

test('store put --ref, refs, get and fsck work end to end, with --json', () => {
  const home = mkdtempSync(join(tmpdir(), 'dg-cli-store-'));
  try {
    const file = join(home, 'model.onnx');
    writeFileSync(file, 'not really onnx');
    const digest = `sha256:${sha256('not really onnx')}`;
    const put = drivegateIn(home, ['store', 'put', file, '--ref', 'models/det/1.0.0/model.onnx', '--json']);
    assert.equal(put.code, 0, put.stderr);
    assert.deepEqual(JSON.parse(put.stdout), { digest, size: 15, ref: 'models/det/1.0.0/model.onnx' });
    const refs = drivegateIn(home, ['store', 'refs', 'models/', '--json']);
    assert.deepEqual(JSON.parse(refs.stdout), [{ name: 'models/det/1.0.0/model.onnx', digest }]);
    const out = join(home, 'copy.onnx');
    const get = drivegateIn(home, ['store', 'get', 'models/det/1.0.0/model.onnx', '--out', out]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(readFileSync(out, 'utf8'), 'not really onnx');

    // Tamper with the blob: get refuses (exit 2, INTEGRITY), fsck reports it and exits 2.
    const blob = join(home, 'store', 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7));
    chmodSync(blob, 0o644);
    writeFileSync(blob, 'tampered bytes!');
    const bad = drivegateIn(home, ['store', 'get', digest, '--out', join(home, 'never.onnx'), '--json']);
    assert.equal(bad.code, 2);
    assert.equal((JSON.parse(bad.stdout) as { error: { code: string } }).error.code, 'INTEGRITY');
    const broken = drivegateIn(home, ['store', 'fsck']);
    assert.equal(broken.code, 2);
    assert.match(broken.stdout, /corrupt blob sha256:/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('store commands exit 2 on a traversing ref name and name the bad config key; s3:// is unavailable (3)', () => {
  const home = mkdtempSync(join(tmpdir(), 'dg-cli-store-'));
  try {
    const file = join(home, 'a.txt');
    writeFileSync(file, 'a');
    const evil = drivegateIn(home, ['store', 'put', file, '--ref', '../../etc/passwd']);
    assert.equal(evil.code, 2);
    assert.match(evil.stderr, /invalid ref name/);
    const fsck = drivegateIn(home, ['store', 'fsck', '--json']);
    assert.equal(fsck.code, 0);
    assert.deepEqual((JSON.parse(fsck.stdout) as { ok: boolean; blobs: number }).blobs, 1);
    writeFileSync(join(home, 'drivegate.yaml'), 'store:\n  uri: 7\n');
    const cfg = drivegateIn(home, ['store', 'refs']);
    assert.equal(cfg.code, 2);
    assert.match(cfg.stderr, /drivegate\.yaml:2, field 'store\.uri'/);
    rmSync(join(home, 'drivegate.yaml'));
    const s3 = drivegateIn(home, ['store', 'refs'], { DRIVEGATE_STORE: 's3://bucket/x' });
    assert.equal(s3.code, 3);
    assert.match(s3.stderr, /s3:\/\/ store .* is not available yet/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
