import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliIn } from '../../cli/cli-testing.js';
import { packageRoot } from '../../core/paths.js';
import { readReportFacts } from '../../registry/pack.js';
import { readSimGate } from './gate.js';
import { modelFile } from './models.js';
import { runSweep } from './sweep.js';

// The done-when of issue #6 in small: one CCRs variant at night (clear weather, 50 km/h, full
// overlap), two seeds, the real detectors in the loop and the example Sim Gate.
const root = packageRoot();
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'dg-simgate-'));
  dirs.push(d);
  return d;
};
const FILTER = 'family=CCRs,time_of_day=night,weather=clear,ego_speed_kph=50,overlap_pct=100';
const models = join(root, 'models');

test('on real runs the Sim Gate passes detector-v1.1.0 against v1.0.0 on the same seeds', async () => {
  const r = await runSweep({
    scenarios: join(root, 'examples', 'scenarios'),
    filters: [FILTER],
    seeds: 2,
    workers: 2,
    candidate: await modelFile(join(models, 'detector-v1.1.0.onnx')),
    baseline: await modelFile(join(models, 'detector-v1.0.0.onnx')),
    gate: await readSimGate(join(root, 'examples', 'sim-gate.yaml')),
    out: join(tmp(), 'out'),
    resume: false,
    maxClips: 0,
  });
  assert.ok(
    r.candidate.overall.collisions < r.baseline!.overall.collisions,
    `v1.1.0 ${r.candidate.overall.collisions} vs v1.0.0 ${r.baseline!.overall.collisions} collisions`,
  );
  assert.equal(r.verdict?.status, 'pass', r.verdict?.rules.map((x) => `${x.id}: ${x.rationale}`).join('\n'));
});

test('on real runs the Sim Gate fails detector-v1.0.0 against ground truth: exit 1 and the failing rule in sim_gate.json', () => {
  const out = join(tmp(), 'out');
  const home = tmp();
  const res = runCliIn(import.meta.url, home, [
    'sim',
    'run',
    '--model',
    join(models, 'detector-v1.0.0.onnx'),
    '--baseline',
    'ground-truth',
    '--scenarios',
    join(root, 'examples', 'scenarios'),
    '--filter',
    FILTER,
    '--seeds',
    '2',
    '--workers',
    '2',
    '--clips',
    '1',
    '--gate',
    join(root, 'examples', 'sim-gate.yaml'),
    '--out',
    out,
  ]);
  assert.equal(res.code, 1, res.stderr);
  assert.match(res.stdout, /FAIL/);
  const doc = JSON.parse(readFileSync(join(out, 'sim_gate.json'), 'utf8')) as {
    status: string;
    gate: { rules: { id: string; status: string; value: number; baseline: number }[] };
  };
  assert.equal(doc.status, 'fail');
  assert.equal(readReportFacts(readFileSync(join(out, 'sim_gate.json')), 'sim_gate.json').verdict, 'fail');
  const ncap = doc.gate.rules.find((x) => x.id === 'ncap-no-more-collisions')!;
  assert.equal(ncap.status, 'fail');
  assert.ok(ncap.value > ncap.baseline, `v1.0.0 ${ncap.value} vs ground truth ${ncap.baseline} collisions`);
  assert.ok(readFileSync(join(out, 'sim_summary.md'), 'utf8').includes('clips/'), 'a failure clip is listed');
});
