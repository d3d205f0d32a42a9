/** `drivegate registry ...` end to end: local mode with users and roles, remote mode against `serve`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../core/paths.js';
import { evalReport, makePack } from '../registry/contract.js';
import { openRegistryDb } from '../registry/db.js';
import { loadPolicy } from '../registry/policy.js';
import { RegistryService } from '../registry/service.js';
import { openFsStore } from '../store/fs.js';
import { runCliIn } from './cli-testing.js';

/** The drivegate command line (from src under tsx, or from dist), for spawned processes. */
function cliArgv(): string[] {
  return import.meta.url.endsWith('.ts')
    ? ['--import', 'tsx', join(packageRoot(), 'src/cli/main.ts')]
    : [join(packageRoot(), 'dist/src/cli/main.js')];
}

/** Starts `drivegate ARGS` (a server on port 0) and resolves with its URL once it listens. */
function startServer(
  args: string[],
  env: NodeJS.ProcessEnv,
): { process: ReturnType<typeof spawn>; url: Promise<string> } {
  const server = spawn(process.execPath, [...cliArgv(), ...args, '--port', '0'], {
    cwd: packageRoot(),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1] !== undefined) resolve(m[1]);
    });
    server.once('exit', (c) => reject(new Error(`${args.join(' ')} exited ${String(c)}`)));
  });
  return { process: server, url };
}

test('registry CLI: register, attach, promote with --dry-run plans and exit codes, approve remotely through serve, show --json, audit verify', async () => {
  const home = await mkdtemp(join(tmpdir(), 'dg-registry-cli-'));
  const env = { DRIVEGATE_POLICY: join(packageRoot(), 'examples', 'policy.yaml'), DRIVEGATE_DB: '' };
  const cli = (args: string[]) => runCliIn(import.meta.url, home, args, env);
  try {
    // Setup in-process (fast); the CLI runs the commands under test.
    const db = await openRegistryDb(join(home, 'registry.db'));
    const service = new RegistryService(db, { store: await openFsStore(join(home, 'store')) });
    const tokens: Record<string, string> = {};
    try {
      for (const [u, r] of [
        ['tina', 'technical'],
        ['sam', 'safety'],
        ['sec', 'security'],
        ['pat', 'product'],
      ] as const) {
        tokens[u] = (await service.createToken('bootstrap', u, r)).token;
      }
    } finally {
      await db.close();
    }
    const t = cli(['registry', 'token', 'create', '--user', 'root', '--role', 'admin']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^dg_[A-Za-z0-9_-]{43}\n$/);
    const pack = await makePack(home, 'det', '1.2.0');
    const reg = cli(['registry', 'register', '--pack', pack, '--user', 'tina', '--json']);
    assert.equal(reg.code, 0, reg.stderr);
    assert.equal((JSON.parse(reg.stdout) as { version: string }).version, '1.2.0');
    {
      const db2 = await openRegistryDb(join(home, 'registry.db'));
      const s2 = new RegistryService(db2, {
        store: await openFsStore(join(home, 'store')),
        policy: await loadPolicy(env.DRIVEGATE_POLICY),
      });
      try {
        const tina = await s2.localPrincipal('tina');
        await s2.attachReport(tina, 'det', '1.2.0', { bytes: await evalReport('pass') });
        await s2.attachReport(tina, 'det', '1.2.0', {
          bytes: Buffer.from('{"kind":"sim","verdict":"pass"}'),
        });
        await s2.stage(tina, 'det', '1.2.0', 'staging');
        await s2.stage(tina, 'det', '1.2.0', 'candidate');
        await s2.approve(tina, 'det', '1.2.0', 'technical');
      } finally {
        await db2.close();
      }
    }
    const dry = cli(['registry', 'promote', 'det@1.2.0', 'production', '--dry-run', '--user', 'tina']);
    assert.equal(dry.code, 1);
    assert.match(dry.stdout, /\[FAIL\] approval-safety: no approval in the safety role/);
    assert.match(dry.stdout, /\[PASS\] integrity: 2 files/);
    assert.match(dry.stdout, /production: \(none\) -> 1\.2\.0/);

    // Remote mode: approvals through a server on the same database.
    const started = startServer(['registry', 'serve'], {
      ...env,
      DRIVEGATE_HOME: home,
      DRIVEGATE_CONFIG: '',
    });
    const server = started.process;
    try {
      const url = await started.url;
      const remote = (user: string, args: string[]) =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          const p = spawn(
            process.execPath,
            [...cliArgv(), ...args, '--server', url, '--token', tokens[user] ?? ''],
            { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] },
          );
          let stdout = '';
          let stderr = '';
          p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          p.on('exit', (code) => resolve({ code, stdout, stderr }));
        });
      const results = await Promise.all([
        remote('sam', ['registry', 'approve', 'det@1.2.0', '--role', 'safety', '--comment', 'ok']),
        remote('sec', ['registry', 'approve', 'det@1.2.0', '--role', 'security']),
        remote('pat', ['registry', 'approve', 'det@1.2.0', '--role', 'product']),
      ]);
      for (const r of results) assert.equal(r.code, 0, r.stderr);
      const wrong = await remote('pat', ['registry', 'approve', 'det@1.2.0', '--role', 'safety']);
      assert.equal(wrong.code, 2);
      assert.match(wrong.stderr, /does not hold the safety role/);
    } finally {
      server.kill('SIGTERM');
    }
    const prod = cli(['registry', 'promote', 'det@1.2.0', 'production', '--user', 'tina', '--json']);
    assert.equal(prod.code, 0, prod.stdout + prod.stderr);
    const show = cli(['registry', 'show', 'det', '--json', '--user', 'pat']);
    const model = JSON.parse(show.stdout) as { versions: Array<{ version: string; aliases: string[] }> };
    assert.deepEqual(model.versions, [{ ...model.versions[0], version: '1.2.0', aliases: ['production'] }]);
    const audit = cli(['registry', 'audit', 'verify', '--user', 'root']);
    assert.equal(audit.code, 0, audit.stderr);
    assert.match(audit.stdout, /^audit log ok: \d+ entries/);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('drivegate ui serves the registry REST API with its OpenAPI document', async () => {
  const home = await mkdtemp(join(tmpdir(), 'dg-ui-'));
  const started = startServer(['ui'], { DRIVEGATE_HOME: home, DRIVEGATE_CONFIG: '', DRIVEGATE_DB: '' });
  const server = started.process;
  try {
    const url = await started.url;
    const res = await fetch(`${url}/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { openapi?: string; paths?: Record<string, unknown> };
    assert.match(doc.openapi ?? '', /^3\./);
    assert.ok(Object.keys(doc.paths ?? {}).some((p) => p.includes('/models')));
    const anon = await fetch(`${url}/api/v1/models`);
    assert.equal(anon.status, 401, 'reads need a token');
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    await rm(home, { recursive: true, force: true });
  }
});
