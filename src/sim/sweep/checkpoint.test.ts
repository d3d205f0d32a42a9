import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { throwsWith } from '../../core/testing.js';
import { CHECKPOINT_FILE, Checkpoint } from './checkpoint.js';
import { sweepRun } from './testdata.js';

function entry(k: number): Parameters<Checkpoint['append']>[0] {
  const r = sweepRun('candidate', 'CCRs', 'ncap', k);
  return { run_id: r.runId, role: r.role, k, result: { ...r.result, frames: [] } };
}

test('resume keeps every complete line, cuts a partial last line, and appends after it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-cp-'));
  try {
    const path = join(dir, CHECKPOINT_FILE);
    const a = Checkpoint.open(path, { seeds: 2 }, false);
    await Promise.all([a.append(entry(0)), a.append(entry(1))]);
    a.close();
    appendFileSync(path, '{"run_id":"candidate:CCRs/x#2","ro'); // a crash mid-write
    const b = Checkpoint.open(path, { seeds: 2 }, true);
    assert.deepEqual([...b.done.keys()], [entry(0).run_id, entry(1).run_id]);
    assert.equal(b.done.get(entry(1).run_id)?.result.frames, undefined, 'frames are never recorded');
    await b.append(entry(2));
    b.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 4);
    assert.equal((JSON.parse(lines[3]!) as { k: number }).k, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an existing checkpoint without --resume, or another sweep's, is a CONFLICT", () => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-cp-'));
  try {
    const path = join(dir, CHECKPOINT_FILE);
    Checkpoint.open(path, { seeds: 2 }, false).close();
    assert.match(
      throwsWith(() => Checkpoint.open(path, { seeds: 2 }, false), 'CONFLICT').message,
      /--resume/,
    );
    assert.match(
      throwsWith(() => Checkpoint.open(path, { seeds: 3 }, true), 'CONFLICT').message,
      /different sweep/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
