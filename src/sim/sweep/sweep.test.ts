import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { runCliIn } from '../../cli/cli-testing.js';
import { packageRoot } from '../../core/paths.js';
import { readReportFacts } from '../../registry/pack.js';
import { REQUIRED_SUMMARY_COLUMNS } from './testdata.js';

// Real sweeps through the CLI (ground-truth perception: the real engine, fast). dt 0.002 makes each
// run slow enough (~0.5 s) to kill the sweep in the middle.
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'dg-sweep-'));
  dirs.push(d);
  return d;
};
const home = tmp();
const ARGS = ['sim', 'run', '--perception', 'ground-truth', '--scenarios', 'examples/scenarios'];
const ARGS2 = [
  '--filter',
  'family=CCRs,ego_speed_kph=50,overlap_pct=100',
  '--seeds',
  '2',
  '--dt',
  '0.002',
  '--json',
];

async function rows(file: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  try {
    const r = await con.runAndReadAll(
      `SELECT * EXCLUDE (wall_s, real_time_factor) FROM read_parquet('${file.replace(/'/g, "''")}') ORDER BY run_id`,
    );
    return r.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

test('a sweep killed mid-way resumes without redoing or losing runs, and gives the same results as an uninterrupted one', async () => {
  const a = join(tmp(), 'a');
  const ra = runCliIn(import.meta.url, home, [...ARGS, ...ARGS2, '--workers', '2', '--out', a]);
  assert.equal(ra.code, 0, ra.stderr);
  const ja = JSON.parse(ra.stdout) as { runs: number; executed: number; resumed: number };
  assert.equal(ja.runs, 8);
  assert.equal(ja.executed, 8);
  for (const f of [
    'sim_summary.parquet',
    'sim_gate.json',
    'sim_report.json',
    'sim_summary.md',
    'violations_heatmap.svg',
    'violations_heatmap.png',
    'scenarios/CCRs.csv',
    'scenarios/CCRs.json',
  ]) {
    assert.ok(existsSync(join(a, f)), f);
  }

  // The same sweep with one worker, SIGKILLed once a few runs are in the checkpoint.
  const b = join(tmp(), 'b');
  const root = packageRoot();
  const main = import.meta.url.endsWith('.ts')
    ? ['--import', 'tsx', join(root, 'src/cli/main.ts')]
    : [join(root, 'dist/src/cli/main.js')];
  const child = spawn(process.execPath, [...main, ...ARGS, ...ARGS2, '--workers', '1', '--out', b], {
    cwd: root,
    env: { ...process.env, DRIVEGATE_HOME: home },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const cp = join(b, 'sim_checkpoint.jsonl');
  const lines = (): number => (existsSync(cp) ? readFileSync(cp, 'utf8').split('\n').length - 2 : 0);
  const deadline = Date.now() + 60_000;
  while (lines() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  assert.equal(await exited, null, 'the sweep was killed, not finished');
  const doneBefore = lines();
  assert.ok(doneBefore >= 2 && doneBefore < 8, `killed after ${doneBefore} runs`);
  assert.ok(!existsSync(join(b, 'sim_summary.parquet')), 'no outputs from an interrupted sweep');

  const rb = runCliIn(import.meta.url, home, [...ARGS, ...ARGS2, '--workers', '2', '--out', b, '--resume']);
  assert.equal(rb.code, 0, rb.stderr);
  const jb = JSON.parse(rb.stdout) as { runs: number; executed: number; resumed: number };
  assert.ok(jb.resumed >= doneBefore, `resumed ${jb.resumed} of ${doneBefore} checkpointed`);
  assert.equal(jb.resumed + jb.executed, jb.runs);
  const ids = readFileSync(cp, 'utf8')
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => (JSON.parse(l) as { run_id: string }).run_id);
  assert.equal(ids.length, 8, 'each run once in the checkpoint');
  assert.equal(new Set(ids).size, 8);

  // Same seeds, same results (whatever the worker count, with or without a crash), except wall times.
  const rowsA = await rows(join(a, 'sim_summary.parquet'));
  const rowsB = await rows(join(b, 'sim_summary.parquet'));
  assert.equal(rowsA.length, 8);
  assert.deepEqual(rowsB, rowsA);
  const first = rowsA[0]!;
  for (const col of [...REQUIRED_SUMMARY_COLUMNS, 'param_ego_speed_kph']) {
    assert.ok(col in first, `column ${col}`);
  }
  assert.equal(typeof first['collision'], 'boolean');
  const gate = JSON.parse(readFileSync(join(b, 'sim_gate.json'), 'utf8')) as { kind: string; status: string };
  assert.equal(gate.kind, 'sim');
  assert.equal(gate.status, 'none');
  const facts = readReportFacts(readFileSync(join(b, 'sim_gate.json')), 'sim_gate.json');
  assert.equal(facts.kind, 'sim', 'the registry takes sim_gate.json as a sim report');
  assert.equal(facts.verdict, 'none');
  assert.deepEqual(
    readdirSync(b).filter((f) => f.startsWith('.')),
    [],
    'no staging left behind',
  );
});
