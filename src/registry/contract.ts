/**
 * The registry contract suite: the behaviour the registry must have on every database it supports
 * (SQLite and PostgreSQL run the same tests). A test file per backend calls
 * `registryContract(name, factory)`; the factory returns the URL of a fresh, empty database.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { sha256 } from '../core/digest.js';
import { packageRoot } from '../core/paths.js';
import { rejectsWith, startChildScript } from '../core/testing.js';
import { openFsStore } from '../store/fs.js';
import type { ArtifactStore } from '../store/types.js';
import { openRegistryDb } from './db.js';
import type { RegistryDb } from './db.js';
import { parsePolicy } from './policy.js';
import { RegistryService } from './service.js';
import type { Principal } from './service.js';

/** A fresh database for one test. */
export interface DbUnderTest {
  url: string;
  cleanup(): Promise<void>;
}

/** Makes a fresh, empty database. */
export type DbFactory = () => Promise<DbUnderTest>;

/** Writes a pack folder (two files and manifest.json) for `name@version`; returns the folder. */
export async function makePack(
  root: string,
  name: string,
  version: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const dir = join(root, `${name}-${version}-${randomBytes(3).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  const files: Array<{ path: string; sha256: string; size: number }> = [];
  for (const [path, data] of [
    ['model.onnx', randomBytes(2048)],
    ['calibration.cache', Buffer.from(`calibration for ${name} ${version}`)],
  ] as const) {
    await writeFile(join(dir, path), data);
    files.push({ path, sha256: sha256(data), size: data.length });
  }
  const manifest = {
    schema_version: 1,
    model: { task: 'detection', name, version },
    files,
    pointers: {
      oci_image: `registry.example/det@sha256:${sha256(`image ${version}`)}`,
      git_sha: sha256(`git ${version}`).slice(0, 40),
      dataset: 'world-v1',
      training_run: `runs/train-${version}`,
    },
    targets: ['cpu-fp32', 'trt-fp16'],
    latency_budgets_ms: { 'cpu-fp32': { p95: 50 } },
    calibration_cache_version: 'trt-8.6-int8-1',
    performance: { map: 0.41 },
    ...extra,
  };
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

/** An eval report with a gate verdict (from examples/reports). */
export async function evalReport(status: 'pass' | 'fail'): Promise<Buffer> {
  const doc = JSON.parse(
    await readFile(join(packageRoot(), 'examples', 'reports', 'candidate.eval_report.json'), 'utf8'),
  ) as Record<string, unknown>;
  return Buffer.from(
    JSON.stringify({
      ...doc,
      gate: { status, policy: 'default', summary: `gate ${status}`, file: 'gate_verdict.json' },
    }),
  );
}

const TEST_POLICY = `
version: 1
stages:
  staging: { integrity: true }
  candidate: { from: [staging], integrity: true, reports: { eval: pass, sim: pass } }
  production:
    from: [candidate]
    integrity: true
    reports: { eval: pass, sim: pass }
    approvals: [technical, safety]
    vulnerabilities: { block: [critical, high] }
rollback: { integrity: true }
`;

interface Ctx {
  db: RegistryDb;
  service: RegistryService;
  store: ArtifactStore;
  dir: string;
  url: string;
  clock: { t: number };
  admin: Principal;
  tech: Principal;
  safety: Principal;
  reader: Principal;
  newPrincipal(user: string, role: string): Promise<Principal>;
}

async function withRegistry(factory: DbFactory, fn: (c: Ctx) => Promise<void>): Promise<void> {
  const d = await factory();
  const dir = await mkdtemp(join(tmpdir(), 'dg-registry-'));
  const store = await openFsStore(join(dir, 'store'));
  const clock = { t: Date.parse('2026-11-01T00:00:00Z') };
  const db = await openRegistryDb(d.url);
  const service = new RegistryService(db, {
    store,
    policy: parsePolicy(TEST_POLICY, 'test policy'),
    now: () => new Date((clock.t += 1000)),
  });
  const newPrincipal = async (user: string, role: string): Promise<Principal> => {
    await service.createToken('bootstrap', user, role);
    return service.localPrincipal(user);
  };
  try {
    await fn({
      db,
      service,
      store,
      dir,
      url: d.url,
      clock,
      admin: await newPrincipal('root', 'admin'),
      tech: await newPrincipal('tina', 'technical'),
      safety: await newPrincipal('sam', 'safety'),
      reader: await newPrincipal('rita', 'product'),
      newPrincipal,
    });
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
    await d.cleanup();
  }
}

const simPass = Buffer.from(JSON.stringify({ kind: 'sim', verdict: 'pass', summary: { scenarios: 12 } }));

/** Registers a version from a new pack folder and makes it a green candidate. */
async function greenCandidate(
  c: Ctx,
  name: string,
  version: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const folder = await makePack(c.dir, name, version, extra);
  const manifest = await readFile(join(folder, 'manifest.json'));
  await c.service.register(c.tech, { manifest, file: join(folder, 'manifest.json'), folder });
  await c.service.attachReport(c.tech, name, version, {
    bytes: await evalReport('pass'),
    file: 'eval_report.json',
  });
  await c.service.attachReport(c.tech, name, version, { bytes: simPass, file: 'sim_report.json' });
  await c.service.stage(c.tech, name, version, 'staging');
  await c.service.stage(c.tech, name, version, 'candidate');
  return folder;
}

/** Registers the contract tests for a database backend named `name`. */
export function registryContract(name: string, factory: DbFactory): void {
  describe(`registry contract: ${name}`, () => {
    test('registers a pack with its pointers and facts, idempotently; another pack under the same version conflicts', () =>
      withRegistry(factory, async (c) => {
        const folder = await makePack(c.dir, 'det', '1.0.0');
        const manifest = await readFile(join(folder, 'manifest.json'));
        const v = await c.service.register(c.tech, { manifest, file: 'm', folder });
        assert.equal(v.pack_digest, `sha256:${sha256(manifest)}`);
        assert.equal(v.pointers['git_sha'], sha256('git 1.0.0').slice(0, 40));
        assert.deepEqual(v.targets, ['cpu-fp32', 'trt-fp16']);
        assert.equal(v.calibration_cache_version, 'trt-8.6-int8-1');
        const again = await c.service.register(c.tech, { manifest, file: 'm', folder });
        assert.equal(again.pack_digest, v.pack_digest);
        const other = await readFile(join(await makePack(c.dir, 'det', '1.0.0'), 'manifest.json'));
        await rejectsWith(c.service.register(c.tech, { manifest: other, file: 'm2' }), 'CONFLICT');
        const bad = Buffer.from(manifest.toString().replace('"1.0.0"', '"1.0"'));
        const e = await rejectsWith(c.service.register(c.tech, { manifest: bad, file: 'm3' }), 'BAD_INPUT');
        assert.match(e.message, /model\.version.*semantic version/);
        await rejectsWith(c.service.register(c.reader, { manifest, file: 'm' }), 'FORBIDDEN');
        const shown = await c.service.showModel(c.reader, 'det');
        assert.deepEqual(
          shown.versions.map((x) => [x.version, x.aliases]),
          [['1.0.0', []]],
        );
      }));

    test('rejects a tampered pack folder with INTEGRITY and registers nothing', () =>
      withRegistry(factory, async (c) => {
        const folder = await makePack(c.dir, 'det', '2.0.0');
        await writeFile(join(folder, 'model.onnx'), 'tampered');
        const manifest = await readFile(join(folder, 'manifest.json'));
        const e = await rejectsWith(c.service.register(c.tech, { manifest, file: 'm', folder }), 'INTEGRITY');
        assert.match(e.message, /model\.onnx/);
        await rejectsWith(c.service.showModel(c.tech, 'det'), 'NOT_FOUND');
      }));

    test('attaches reports by digest with their verdicts; a stored report that does not match its digest is INTEGRITY', () =>
      withRegistry(factory, async (c) => {
        const folder = await makePack(c.dir, 'det', '1.0.0');
        await c.service.register(c.tech, {
          manifest: await readFile(join(folder, 'manifest.json')),
          file: 'm',
          folder,
        });
        const bytes = await evalReport('fail');
        const v = await c.service.attachReport(c.tech, 'det', '1.0.0', { bytes, file: 'r.json' });
        assert.deepEqual(
          v.reports.map((r) => [r.kind, r.verdict, r.digest]),
          [['eval', 'fail', `sha256:${sha256(bytes)}`]],
        );
        assert.ok(v.slices.length > 0);
        assert.equal(typeof (v.performance['eval'] as Record<string, unknown>)['map'], 'number');
        const other = Buffer.from(JSON.stringify({ kind: 'export', status: 'pass' }));
        await rejectsWith(
          c.service.attachReport(c.tech, 'det', '1.0.0', { bytes: other, digest: `sha256:${sha256('x')}` }),
          'INTEGRITY',
        );
        await rejectsWith(c.service.attachReport(c.tech, 'det', '9.9.9', { bytes: other }), 'NOT_FOUND');
        await rejectsWith(
          c.service.attachReport(c.tech, 'det', '1.0.0', { digest: `sha256:${sha256('absent')}` }),
          'NOT_FOUND',
        );
      }));

    test('promotion follows the policy: a dry run prints checks and moves, production needs approvals by role holders, and moves the previous one to rollback', () =>
      withRegistry(factory, async (c) => {
        await greenCandidate(c, 'det', '1.0.0');
        const dry = await c.service.stage(c.tech, 'det', '1.0.0', 'production', { dryRun: true });
        assert.equal(dry.applied, false);
        assert.equal(dry.plan.allowed, false);
        assert.deepEqual(
          dry.plan.checks.filter((x) => x.status === 'fail').map((x) => x.id),
          ['approval-technical', 'approval-safety'],
        );
        assert.deepEqual(dry.plan.moves, [
          { alias: 'production', from: null, to: '1.0.0' },
          { alias: 'candidate', from: '1.0.0', to: null },
        ]);
        const blocked = await rejectsWith(
          c.service.stage(c.tech, 'det', '1.0.0', 'production'),
          'GATE_FAILED',
        );
        assert.match(blocked.message, /no approval in the technical role/);
        await rejectsWith(c.service.approve(c.tech, 'det', '1.0.0', 'safety'), 'FORBIDDEN');
        await c.service.approve(c.tech, 'det', '1.0.0', 'technical', 'metrics reviewed');
        await c.service.approve(c.safety, 'det', '1.0.0', 'safety');
        const t1 = new Date(c.clock.t).toISOString();
        const done = await c.service.stage(c.tech, 'det', '1.0.0', 'production');
        assert.equal(done.applied, true);
        const t2 = new Date(c.clock.t + 500).toISOString();

        await greenCandidate(c, 'det', '1.1.0');
        await c.service.approve(c.tech, 'det', '1.1.0', 'technical');
        await c.service.approve(c.safety, 'det', '1.1.0', 'safety');
        await c.service.stage(c.tech, 'det', '1.1.0', 'production');
        const m = await c.service.showModel(c.reader, 'det');
        assert.deepEqual(
          m.versions.map((x) => [x.version, x.aliases]),
          [
            ['1.1.0', ['production']],
            ['1.0.0', ['rollback']],
          ],
        );
        const before = await c.service.history(c.reader, 'det', { alias: 'production', at: t1 });
        assert.deepEqual(before.state, {});
        const between = await c.service.history(c.reader, 'det', { alias: 'production', at: t2 });
        assert.deepEqual(between.state, { production: '1.0.0' });
        const now = await c.service.history(c.reader, 'det', {
          at: new Date(c.clock.t + 1000).toISOString(),
        });
        assert.equal(now.state?.production, '1.1.0');

        const rb = await c.service.rollback(c.tech, 'det');
        assert.deepEqual(rb.plan.moves, [
          { alias: 'production', from: '1.1.0', to: '1.0.0' },
          { alias: 'rollback', from: '1.0.0', to: null },
        ]);
        const after = await c.service.showModel(c.reader, 'det');
        assert.equal(after.aliases.production, '1.0.0');
        await rejectsWith(c.service.rollback(c.tech, 'det'), 'GATE_FAILED');
        const all = await c.service.history(c.reader, 'det', { alias: 'production' });
        assert.deepEqual(
          all.events.map((e) => [e.from, e.to]),
          [
            [null, '1.0.0'],
            ['1.0.0', '1.1.0'],
            ['1.1.0', '1.0.0'],
          ],
        );
      }));

    test('a candidate needs green eval and sim verdicts, and an unknown stage or version is refused', () =>
      withRegistry(factory, async (c) => {
        const folder = await makePack(c.dir, 'det', '1.0.0');
        await c.service.register(c.tech, {
          manifest: await readFile(join(folder, 'manifest.json')),
          file: 'm',
          folder,
        });
        await c.service.stage(c.tech, 'det', '1.0.0', 'staging');
        await c.service.attachReport(c.tech, 'det', '1.0.0', { bytes: await evalReport('fail') });
        const e = await rejectsWith(c.service.stage(c.tech, 'det', '1.0.0', 'candidate'), 'GATE_FAILED');
        assert.match(e.message, /eval report's verdict is fail/);
        assert.match(e.message, /no sim report/);
        await rejectsWith(c.service.stage(c.tech, 'det', '1.0.0', 'rollback'), 'BAD_INPUT');
        await rejectsWith(c.service.stage(c.tech, 'det', '3.0.0', 'staging'), 'NOT_FOUND');
      }));

    test('integrity is re-checked before promotion: a pack tampered after registration blocks it', () =>
      withRegistry(factory, async (c) => {
        const folder = await makePack(c.dir, 'det', '1.0.0');
        await c.service.register(c.tech, {
          manifest: await readFile(join(folder, 'manifest.json')),
          file: 'm',
          folder,
        });
        await writeFile(join(folder, 'calibration.cache'), 'changed');
        const plan = await c.service.planStage(c.tech, 'det', '1.0.0', 'staging');
        const check = plan.checks.find((x) => x.id === 'integrity');
        assert.equal(check?.status, 'fail');
        assert.match(check?.rationale ?? '', /1 of 2 files do not match/);
        await rejectsWith(c.service.stage(c.tech, 'det', '1.0.0', 'staging'), 'GATE_FAILED');
      }));

    test('a blocking vulnerability needs a waiver, which counts until it expires', () =>
      withRegistry(factory, async (c) => {
        await greenCandidate(c, 'det', '1.0.0', {
          vulnerabilities: [{ id: 'CVE-2026-1111', severity: 'high' }],
        });
        await c.service.approve(c.tech, 'det', '1.0.0', 'technical');
        await c.service.approve(c.safety, 'det', '1.0.0', 'safety');
        const p1 = await c.service.planStage(c.tech, 'det', '1.0.0', 'production');
        assert.equal(p1.checks.find((x) => x.id === 'vulnerability-CVE-2026-1111')?.status, 'fail');
        await rejectsWith(
          c.service.addWaiver(c.tech, 'det', '1.0.0', {
            vuln: 'CVE-2026-1111',
            justification: 'not reachable here',
            expires: '2026-12-01',
          }),
          'FORBIDDEN',
        );
        const security = await c.newPrincipal('sec', 'security');
        await rejectsWith(
          c.service.addWaiver(security, 'det', '1.0.0', {
            vuln: 'CVE-2026-1111',
            justification: 'not reachable here',
            expires: '2026-10-01',
          }),
          'BAD_INPUT',
        );
        const v = await c.service.addWaiver(security, 'det', '1.0.0', {
          vuln: 'CVE-2026-1111',
          justification: 'the parser is not reachable from sensor input',
          expires: '2026-11-02T00:00:00Z',
        });
        assert.equal(v.waivers[0]?.approver, 'sec');
        const p2 = await c.service.planStage(c.tech, 'det', '1.0.0', 'production');
        assert.equal(p2.checks.find((x) => x.id === 'vulnerability-CVE-2026-1111')?.status, 'waived');
        assert.equal(p2.allowed, true);
        c.clock.t = Date.parse('2026-11-03T00:00:00Z');
        const p3 = await c.service.planStage(c.tech, 'det', '1.0.0', 'production');
        const check = p3.checks.find((x) => x.id === 'vulnerability-CVE-2026-1111');
        assert.equal(check?.status, 'fail');
        assert.match(check?.rationale ?? '', /expired/);
      }));

    test('tokens: only a hash is stored; a consumer reads production entries only and cannot write', () =>
      withRegistry(factory, async (c) => {
        await greenCandidate(c, 'det', '1.0.0');
        await c.service.approve(c.tech, 'det', '1.0.0', 'technical');
        await c.service.approve(c.safety, 'det', '1.0.0', 'safety');
        await c.service.stage(c.tech, 'det', '1.0.0', 'production');
        await greenCandidate(c, 'det', '1.1.0');
        const { token } = await c.service.createToken(c.admin, 'fleet', 'consumer');
        const rows = await c.db.db.selectFrom('tokens').select('token_hash').execute();
        assert.ok(rows.some((r) => r.token_hash === sha256(token)));
        assert.ok(!rows.some((r) => r.token_hash.includes(token)));
        const consumer = await c.service.authenticate(token);
        assert.deepEqual(consumer.roles, ['consumer']);
        const m = await c.service.showModel(consumer, 'det');
        assert.deepEqual(
          m.versions.map((x) => x.version),
          ['1.0.0'],
        );
        await c.service.showVersion(consumer, 'det', '1.0.0');
        await rejectsWith(c.service.showVersion(consumer, 'det', '1.1.0'), 'FORBIDDEN');
        await rejectsWith(c.service.tag(consumer, 'det', '1.0.0', 'x'), 'FORBIDDEN');
        await rejectsWith(c.service.createToken(c.tech, 'eve', 'admin'), 'FORBIDDEN');
        await rejectsWith(c.service.authenticate('dg_nope'), 'UNAUTHORIZED');
        await rejectsWith(c.service.revokeTokens(c.tech, 'fleet'), 'FORBIDDEN');
        assert.deepEqual(await c.service.revokeTokens(c.admin, 'fleet'), { user: 'fleet', revoked: 1 });
        await rejectsWith(c.service.authenticate(token), 'UNAUTHORIZED');
        await rejectsWith(c.service.authenticate(undefined), 'UNAUTHORIZED');
      }));

    test('audit verify names the first edited, deleted or inserted entry after tampering with the database', () =>
      withRegistry(factory, async (c) => {
        await greenCandidate(c, 'det', '1.0.0');
        const ok = await c.service.auditVerify(c.admin);
        assert.equal(ok.ok, true);
        assert.ok(ok.entries >= 8);
        const db = c.db.db;
        const original = await db
          .selectFrom('audit')
          .selectAll()
          .where('seq', '=', 5)
          .executeTakeFirstOrThrow();
        await sql`update audit set payload = ${original.payload.replace('det', 'xdet')} where seq = 5`.execute(
          db,
        );
        assert.deepEqual((await c.service.auditVerify(c.admin)).first?.seq, 5);
        assert.equal((await c.service.auditVerify(c.admin)).first?.problem, 'edited');
        await sql`update audit set payload = ${original.payload} where seq = 5`.execute(db);
        assert.equal((await c.service.auditVerify(c.admin)).ok, true);

        await sql`delete from audit where seq = 6`.execute(db);
        const del = await c.service.auditVerify(c.admin);
        assert.deepEqual([del.first?.problem, del.first?.seq], ['deleted', 6]);
        await sql`update audit set seq = seq - 1 where seq > 6`.execute(db);
        const del2 = await c.service.auditVerify(c.admin);
        assert.deepEqual([del2.first?.problem, del2.first?.seq], ['deleted', 6]);
      }));

    test('audit verify names an inserted entry', () =>
      withRegistry(factory, async (c) => {
        await greenCandidate(c, 'det', '1.0.0');
        const db = c.db.db;
        const n = (await c.service.auditVerify(c.admin)).entries;
        // Make room at seq 4 and insert a forged entry that chains correctly to entry 3.
        await sql`update audit set seq = seq + 1000 where seq >= 4`.execute(db);
        await sql`update audit set seq = seq - 999 where seq >= 1004`.execute(db);
        const e3 = await db.selectFrom('audit').selectAll().where('seq', '=', 3).executeTakeFirstOrThrow();
        const { auditEntryHash } = await import('./audit.js');
        const forged = {
          at: e3.at,
          actor: 'mallory',
          action: 'version.approve',
          payload: '{"role":"safety"}',
          prev_hash: e3.hash,
        };
        await db
          .insertInto('audit')
          .values({ ...forged, seq: 4, hash: auditEntryHash(forged) })
          .execute();
        const v = await c.service.auditVerify(c.admin);
        assert.equal(v.entries, n + 1);
        assert.deepEqual([v.first?.problem, v.first?.seq], ['inserted', 4]);
        await rejectsWith(c.service.auditVerify(c.tech), 'FORBIDDEN');
      }));

    test('of two concurrent promotions by separate processes exactly one wins and the other gets CONFLICT', () =>
      withRegistry(factory, async (c) => {
        await greenCandidate(c, 'det', '1.0.0');
        await greenCandidate(c, 'det', '1.1.0');
        const go = join(c.dir, 'go');
        const kids = ['1.0.0', '1.1.0'].map((v) =>
          startChildScript(import.meta.url, 'registry.child', [
            c.url,
            'race',
            'det',
            v,
            'production',
            'tina',
            go,
          ]),
        );
        try {
          await Promise.all(kids.map((k) => k.waitFor('planned')));
          await writeFile(go, '');
          await Promise.all(kids.map((k) => k.exited));
          const results = kids.map((k) => k.lines.find((l) => l !== 'planned') ?? k.stderr()).sort();
          assert.equal(results.filter((r) => r === 'won').length, 1, results.join(' | '));
          assert.equal(results.filter((r) => r.startsWith('conflict')).length, 1, results.join(' | '));
          const events = await c.service.history(c.reader, 'det', { alias: 'production' });
          assert.equal(events.events.length, 1);
        } finally {
          for (const k of kids) k.kill();
        }
      }));

    test('a process killed inside a transition leaves the registry as before', () =>
      withRegistry(factory, async (c) => {
        await greenCandidate(c, 'det', '1.0.0');
        const before = await c.service.showModel(c.reader, 'det');
        const auditBefore = (await c.service.auditVerify(c.admin)).entries;
        const kid = startChildScript(import.meta.url, 'registry.child', [
          c.url,
          'hang',
          'det',
          '1.0.0',
          'production',
          'tina',
        ]);
        try {
          await kid.waitFor('in-tx');
        } finally {
          kid.kill();
        }
        await kid.exited;
        assert.deepEqual(await c.service.showModel(c.reader, 'det'), before);
        const audit = await c.service.auditVerify(c.admin);
        assert.equal(audit.ok, true);
        assert.equal(audit.entries, auditBefore);
        // The registry is writable again (the dead writer's lock is gone).
        await c.service.tag(c.tech, 'det', '1.0.0', 'after-crash');
      }));
  });
}
