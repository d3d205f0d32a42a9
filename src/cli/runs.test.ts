import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runner } from '../core/runner.js';
import type { RunRecord, RunSummary } from '../core/runrecord.js';
import { FsStore } from '../store/fs.js';
import { runCliIn } from './cli-testing.js';
import type { CliResult } from './cli-testing.js';

function drivegateIn(home: string, args: string[]): CliResult {
  return runCliIn(import.meta.url, home, args);
}

test('runs list and runs show print the workspace runs, as text and JSON', async () => {
  const home = mkdtempSync(join(tmpdir(), 'dg-cli-runs-'));
  try {
    const runner = new Runner({
      runsDir: join(home, 'runs'),
      cacheDir: join(home, 'cache'),
      store: new FsStore(join(home, 'store')),
    });
    const rec = await runner.run(
      {
        name: 'hello',
        steps: [{ name: 'write', outputs: ['out.txt'], run: (ctx) => writeFile(ctx.out('out.txt'), 'hi') }],
      },
      { who: 'world' },
    );
    const list = drivegateIn(home, ['runs', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const runs = JSON.parse(list.stdout) as RunSummary[];
    assert.deepEqual(
      runs.map((r) => [r.id, r.workflow, r.status]),
      [[rec.id, 'hello', 'succeeded']],
    );
    const text = drivegateIn(home, ['runs', 'list']);
    assert.match(text.stdout, new RegExp(`^${rec.id}  hello +succeeded +1/1 steps`));
    const show = drivegateIn(home, ['runs', 'show', rec.id, '--json']);
    const shown = JSON.parse(show.stdout) as RunRecord;
    assert.deepEqual(shown.args, { who: 'world' });
    assert.equal(shown.steps[0]?.outputs?.['out.txt']?.size, 2);
    const showText = drivegateIn(home, ['runs', 'show', rec.id]);
    assert.match(showText.stdout, /succeeded +write \(v1\)/);
    assert.match(showText.stdout, /output {2}out\.txt {2}sha256:[0-9a-f]{64} {2}2 bytes/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
