import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { runCliIn } from './cli-testing.js';
import { TOP_LEVEL_COMMANDS, registerCommands } from './commands.js';

const names = (p: Command): string[] => p.commands.map((c) => c.name());

test('a command line naming a top-level command registers only the group that defines it', async () => {
  const sim = new Command('drivegate');
  await registerCommands(sim, ['node', 'drivegate', 'sim', 'run', '--help']);
  assert.deepEqual(names(sim), ['sim']);
  const ui = new Command('drivegate');
  await registerCommands(ui, ['node', 'drivegate', '--help', 'ui']);
  assert.deepEqual(names(ui), ['registry', 'ui']);
  const evalRun = new Command('drivegate');
  await registerCommands(evalRun, ['node', 'drivegate', 'eval', 'run']);
  assert.deepEqual(names(evalRun), ['eval']);
  assert.ok(
    evalRun.commands[0]?.commands.some((c) => c.name() === 'run'),
    'eval run comes with eval',
  );
});

test('no command, `help` or an unknown word registers every group, each top-level command once', async () => {
  for (const argv of [[], ['--version'], ['help', 'sim'], ['nosuch'], undefined]) {
    const p = new Command('drivegate');
    await registerCommands(p, argv === undefined ? undefined : ['node', 'drivegate', ...argv]);
    assert.deepEqual([...names(p)].sort(), [...TOP_LEVEL_COMMANDS].sort(), JSON.stringify(argv));
  }
});

test('root help lists every command and a group command still runs with its own group only', () => {
  const home = mkdtempSync(join(tmpdir(), 'dg-cli-commands-'));
  try {
    const help = runCliIn(import.meta.url, home, ['--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const c of TOP_LEVEL_COMMANDS) assert.match(help.stdout, new RegExp(`^  ${c}\\b`, 'm'), c);
    const unknown = runCliIn(import.meta.url, home, ['packge']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'packge'[\s\S]*package/);
    const runs = runCliIn(import.meta.url, home, ['runs', 'list', '--json']);
    assert.equal(runs.code, 0, runs.stderr);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
