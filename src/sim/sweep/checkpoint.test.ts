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

test("a line built from the worker's result JSON is byte for byte the line of the result object", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-cp-'));
  try {
    const runs = [0, 1, 2].map((k) => {
      const e = entry(k);
      const { frames: _f, ...result } = e.result;
      void _f;
      return { ...e, result };
    });
    const a = join(dir, 'a.jsonl');
    const b = join(dir, 'b.jsonl');
    const ca = Checkpoint.open(a, { seeds: 3 }, false);
    await Promise.all(runs.map((e) => ca.append(e)));
    ca.close();
    const cb = Checkpoint.open(b, { seeds: 3 }, false);
    await Promise.all(runs.map((e) => cb.append(e, JSON.stringify(e.result))));
    cb.close();
    const body = (p: string): string => readFileSync(p, 'utf8').split('\n').slice(1).join('\n');
    assert.ok(body(a).length > 0);
    assert.equal(body(b), body(a));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
