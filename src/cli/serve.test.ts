import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { packageRoot } from '../core/paths.js';
import { runtimeTestModel, writeTestRepository } from '../serve/testing.js';
import { runCliIn } from './cli-testing.js';

const TOY = `name: "toy"
max_batch_size: 4
dynamic_batching { max_queue_delay_microseconds: 100 }
`;

test('drivegate serve serves a repository until SIGTERM, and bench serve sweeps it', async () => {
  const repo = writeTestRepository([{ name: 'toy', onnx: runtimeTestModel('toy_centernet'), config: TOY }]);
  const home = mkdtempSync(join(tmpdir(), 'drivegate-serve-cli-'));
  const root = packageRoot();
  const fromTs = import.meta.url.endsWith('.ts');
  const argv = fromTs
    ? ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts')]
    : [join(root, 'dist', 'src', 'cli', 'main.js')];
  const child = spawn(
    process.execPath,
    [...argv, 'serve', '--model-repository', repo, '--port', '0', '--json'],
    {
      cwd: root,
      env: { ...process.env, DRIVEGATE_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', () => reject(new Error('serve exited before printing its address')));
    });
    const summary = JSON.parse(first) as { url: string; models: Array<{ name: string; ready: boolean }> };
    assert.match(summary.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(
      summary.models.map((m) => [m.name, m.ready]),
      [['toy', true]],
    );
    assert.equal((await fetch(`${summary.url}/v2/health/ready`)).status, 200);

    const bench = runCliIn(import.meta.url, home, [
      'bench',
      'serve',
      '--url',
      summary.url,
      '--model',
      'toy',
      '--concurrency',
      '1,2',
      '--duration',
      '0.5',
      '--json',
    ]);
    assert.equal(bench.code, 0, bench.stderr);
    const r = JSON.parse(bench.stdout) as {
      results: Array<{
        concurrency: number;
        requests: number;
        errors: number;
        latency_ms: { p50: number; p99: number };
      }>;
    };
    assert.deepEqual(
      r.results.map((x) => x.concurrency),
      [1, 2],
    );
    for (const x of r.results) {
      assert.ok(x.requests > 0 && x.errors === 0, JSON.stringify(x));
      assert.ok(x.latency_ms.p50 <= x.latency_ms.p99);
    }
    const remote = runCliIn(import.meta.url, home, [
      'bench',
      'serve',
      '--url',
      'http://10.0.0.1:8000',
      '--model',
      'toy',
    ]);
    assert.equal(remote.code, 2);
    assert.match(remote.stderr + remote.stdout, /only drives servers on this machine/);
  } finally {
    child.kill('SIGTERM');
    const code = await exited;
    rmSync(repo, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
    assert.equal(code, 0);
  }
});

test('drivegate serve fails with exit 2 on a missing repository', () => {
  const home = mkdtempSync(join(tmpdir(), 'drivegate-serve-cli-'));
  try {
    const r = runCliIn(import.meta.url, home, [
      'serve',
      '--model-repository',
      join(home, 'nope'),
      '--port',
      '0',
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /model repository does not exist/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('drivegate serve refuses a bad --intra-op-threads with exit 2 naming the option', () => {
  const home = mkdtempSync(join(tmpdir(), 'drivegate-serve-cli-'));
  try {
    const r = runCliIn(import.meta.url, home, [
      'serve',
      '--model-repository',
      home,
      '--port',
      '0',
      '--intra-op-threads',
      '0',
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--intra-op-threads.*expected an integer in 1\.\.256, found "0"/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
