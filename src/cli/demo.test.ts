/** `drivegate demo` end to end on its default world: what `npm run demo` runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliIn } from './cli-testing.js';

interface DemoJson {
  run: string;
  evaluations: Array<{ version: string; verdict: string; failed_rules: string[] }>;
  simulation: {
    candidate: string;
    baseline: string;
    variants: number;
    runs: number;
    verdict: string;
    failed_rules: string[];
    gate_file: string;
  } | null;
  packs: Array<{ version: string; digest: string }>;
  release: {
    production: string | null;
    refused: Array<{ version: string; stage: string; failed: string[] }>;
  };
}

interface VersionJson {
  reports: Array<{ kind: string; verdict: string }>;
}

test('the demo simulates the candidate against production and releases under the real policy: it promotes what passes both gates and refuses the one that regresses pedestrians', async () => {
  const home = await mkdtemp(join(tmpdir(), 'dg-demo-'));
  try {
    const r = runCliIn(import.meta.url, home, ['demo', '--json']);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    const out = JSON.parse(r.stdout) as DemoJson;
    const verdict = Object.fromEntries(out.evaluations.map((e) => [e.version, e]));
    assert.equal(verdict['1.1.0']?.verdict, 'pass');
    assert.equal(verdict['1.2.0']?.verdict, 'blocked');
    assert.ok(verdict['1.2.0']?.failed_rules.includes('critical-slices-no-regression'));

    // The sweep: v1.1.0 against production v1.0.0 on the demo subset (45 variants x 1 seed x 2 models).
    const sim = out.simulation;
    assert.ok(sim !== null);
    assert.deepEqual([sim.candidate, sim.baseline, sim.variants, sim.runs], ['1.1.0', '1.0.0', 45, 90]);
    assert.ok(['pass', 'fail'].includes(sim.verdict), `sim verdict ${sim.verdict}`);
    assert.equal(sim.failed_rules.length === 0, sim.verdict === 'pass');
    const gateDoc = JSON.parse(await readFile(sim.gate_file, 'utf8')) as { kind: string; status: string };
    assert.deepEqual([gateDoc.kind, gateDoc.status], ['sim', sim.verdict]);

    assert.deepEqual(
      out.packs.map((p) => p.version),
      ['1.0.0', '1.1.0', '1.2.0'],
    );
    assert.ok(out.packs.every((p) => /^sha256:[0-9a-f]{64}$/.test(p.digest)));

    // The registry holds the sweep's verdict as v1.1.0's sim report, and the release follows it.
    const show = runCliIn(import.meta.url, home, [
      'registry',
      'show',
      'detector@1.1.0',
      '--user',
      'tina',
      '--json',
    ]);
    assert.equal(show.code, 0, show.stderr);
    const reports = (JSON.parse(show.stdout) as VersionJson).reports;
    assert.deepEqual(
      reports.filter((x) => x.kind === 'sim').map((x) => x.verdict),
      [sim.verdict],
    );
    const refusedAt = out.release.refused.map((x) => [x.version, x.stage]);
    if (sim.verdict === 'pass') {
      assert.equal(out.release.production, '1.1.0');
      assert.deepEqual(refusedAt, [['1.2.0', 'candidate']]);
    } else {
      // A failing sim gate keeps v1.1.0 out of candidate, so nothing reaches production.
      assert.equal(out.release.production, null);
      assert.deepEqual(refusedAt, [
        ['1.1.0', 'candidate'],
        ['1.2.0', 'candidate'],
      ]);
      assert.ok(out.release.refused[0]?.failed.some((f) => f.startsWith('report-sim')));
    }
    // v1.2.0 is refused for its eval gate, and it ran no sweep: no sim report either.
    const refused12 = out.release.refused.find((x) => x.version === '1.2.0')?.failed ?? [];
    assert.ok(
      refused12.some((f) => f.startsWith('report-eval')),
      refused12.join('; '),
    );
    assert.ok(
      refused12.some((f) => f.startsWith('report-sim')),
      refused12.join('; '),
    );

    // A second run in the same workspace reuses every cached step (the sweep included) and changes nothing.
    const again = runCliIn(import.meta.url, home, ['demo', '--json']);
    assert.equal(again.code, 0, again.stderr.slice(-2000));
    const second = JSON.parse(again.stdout) as DemoJson;
    assert.equal(second.release.production, out.release.production);
    assert.equal(second.simulation?.verdict, sim.verdict);
    const runs = runCliIn(import.meta.url, home, ['runs', 'show', second.run, '--json']);
    assert.equal(runs.code, 0, runs.stderr);
    const steps = (JSON.parse(runs.stdout) as { steps: Array<{ name: string; status: string }> }).steps;
    assert.equal(steps.find((s) => s.name === 'sim-v1.1.0')?.status, 'skipped-cached');
    const audit = runCliIn(import.meta.url, home, ['registry', 'audit', 'verify', '--user', 'sec']);
    assert.equal(audit.code, 0, audit.stderr);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
