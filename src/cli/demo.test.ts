/** `drivegate demo` end to end on its default world: what `npm run demo` runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliIn } from './cli-testing.js';

interface DemoJson {
  run: string;
  evaluations: Array<{ version: string; verdict: string; failed_rules: string[] }>;
  packs: Array<{ version: string; digest: string }>;
  release: {
    production: string | null;
    refused: Array<{ version: string; stage: string; failed: string[] }>;
  };
}

test('the demo promotes the candidate that passes its gate and refuses the one that regresses pedestrians', async () => {
  const home = await mkdtemp(join(tmpdir(), 'dg-demo-'));
  try {
    const r = runCliIn(import.meta.url, home, ['demo', '--json']);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    const out = JSON.parse(r.stdout) as DemoJson;
    const verdict = Object.fromEntries(out.evaluations.map((e) => [e.version, e]));
    assert.equal(verdict['1.1.0']?.verdict, 'pass');
    assert.equal(verdict['1.2.0']?.verdict, 'blocked');
    assert.ok(verdict['1.2.0']?.failed_rules.includes('critical-slices-no-regression'));
    assert.deepEqual(
      out.packs.map((p) => p.version),
      ['1.0.0', '1.1.0', '1.2.0'],
    );
    assert.ok(out.packs.every((p) => /^sha256:[0-9a-f]{64}$/.test(p.digest)));
    assert.equal(out.release.production, '1.1.0');
    assert.deepEqual(
      out.release.refused.map((x) => [x.version, x.stage]),
      [['1.2.0', 'candidate']],
    );
    // A second run in the same workspace reuses every cached step and changes nothing.
    const again = runCliIn(import.meta.url, home, ['demo', '--json']);
    assert.equal(again.code, 0, again.stderr.slice(-2000));
    assert.equal((JSON.parse(again.stdout) as DemoJson).release.production, '1.1.0');
    const audit = runCliIn(import.meta.url, home, ['registry', 'audit', 'verify', '--user', 'sec']);
    assert.equal(audit.code, 0, audit.stderr);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
