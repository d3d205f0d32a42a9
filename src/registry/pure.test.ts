/** The registry's pure parts: semver order, the audit chain verifier, policy parsing, plans. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DrivegateError } from '../core/errors.js';
import { GENESIS_HASH, auditEntryHash, verifyAuditChain } from './audit.js';
import type { AuditEntry } from './audit.js';
import { DEFAULT_POLICY, parsePolicy, planPromotion } from './policy.js';
import { compareSemver, parseSemver } from './semver.js';

test('orders semantic versions by precedence, pre-releases before releases', () => {
  const order = [
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-alpha.beta',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '1.0.0',
    '1.2.0',
    '1.10.0',
    '2.0.0+build.5',
  ];
  const shuffled = [...order].reverse();
  shuffled.sort((a, b) => compareSemver(parseSemver(a), parseSemver(b)));
  assert.deepEqual(shuffled, order);
  for (const bad of ['1.0', '01.0.0', '1.0.0-', 'v1.0.0', '1.0.0-01']) {
    assert.throws(
      () => parseSemver(bad),
      (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT',
      bad,
    );
  }
});

function chain(n: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const e = {
      at: `2026-11-01T00:00:0${seq}.000Z`,
      actor: 'a',
      action: 'x',
      payload: JSON.stringify({ seq }),
      prev_hash: prev,
    };
    const hash = auditEntryHash(e);
    out.push({ ...e, seq, hash });
    prev = hash;
  }
  return out;
}

test('the audit chain verifier names the first edited, inserted or deleted entry', () => {
  assert.equal(verifyAuditChain(chain(5)).ok, true);
  const edited = chain(5);
  edited[2] = { ...(edited[2] as AuditEntry), actor: 'mallory' };
  assert.deepEqual(
    [verifyAuditChain(edited).first?.problem, verifyAuditChain(edited).first?.seq],
    ['edited', 3],
  );
  const deleted = chain(5).filter((e) => e.seq !== 2);
  assert.deepEqual(
    [verifyAuditChain(deleted).first?.problem, verifyAuditChain(deleted).first?.seq],
    ['deleted', 2],
  );
  const renumbered = deleted.map((e, i) => ({ ...e, seq: i + 1 }));
  assert.deepEqual(
    [verifyAuditChain(renumbered).first?.problem, verifyAuditChain(renumbered).first?.seq],
    ['deleted', 2],
  );
  const base = chain(5);
  const forged = { at: 'x', actor: 'm', action: 'y', payload: '{}', prev_hash: (base[1] as AuditEntry).hash };
  const inserted = [
    ...base.slice(0, 2),
    { ...forged, seq: 3, hash: auditEntryHash(forged) },
    ...base.slice(2).map((e) => ({ ...e, seq: e.seq + 1 })),
  ];
  assert.deepEqual(
    [verifyAuditChain(inserted).first?.problem, verifyAuditChain(inserted).first?.seq],
    ['inserted', 3],
  );
  const truncated = chain(5).slice(0, 4);
  assert.equal(verifyAuditChain(truncated).ok, true);
  assert.equal(verifyAuditChain(truncated, (chain(5)[4] as AuditEntry).hash).ok, false);
});

test('a policy with an unknown key or role is BAD_INPUT naming the file and field', () => {
  assert.throws(
    () => parsePolicy('version: 1\nstages:\n  production:\n    approvals: [legal]\n', 'p.yaml'),
    (e: unknown) =>
      e instanceof DrivegateError &&
      e.code === 'BAD_INPUT' &&
      /p\.yaml, field 'stages\.production\.approvals\.0'/.test(e.message),
  );
  assert.throws(() => parsePolicy('version: 1\nstages: {}\nstagez: {}\n', 'p.yaml'), /p\.yaml/);
});

test('a production plan moves the previous production version to rollback and lists every failing check', () => {
  const plan = planPromotion({
    policy: DEFAULT_POLICY,
    model: 'det',
    version: '2.0.0',
    stage: 'production',
    actor: { user: 'tina', roles: ['technical'] },
    now: '2026-11-01T00:00:00.000Z',
    aliases: { production: '1.0.0', rollback: '0.9.0', candidate: '2.0.0' },
    reports: [{ kind: 'eval', digest: 'sha256:x', verdict: 'pass', attached_at: '2026-10-01T00:00:00.000Z' }],
    approvals: [{ role: 'technical', user: 'tina', at: 'x' }],
    vulnerabilities: [
      { id: 'CVE-1', severity: 'critical' },
      { id: 'CVE-2', severity: 'low' },
    ],
    waivers: [
      { id: 'w', vuln: 'CVE-1', approver: 'sec', justification: 'j', expires_at: '2026-10-31T00:00:00.000Z' },
    ],
    integrity: { ok: true, source: 'store', files: 1, bytes: 1, problems: [] },
  });
  assert.equal(plan.allowed, false);
  assert.deepEqual(
    plan.checks.filter((c) => c.status === 'fail').map((c) => c.id),
    ['approval-safety', 'approval-security', 'approval-product', 'vulnerability-CVE-1'],
  );
  assert.match(plan.checks.find((c) => c.id === 'vulnerability-CVE-1')?.rationale ?? '', /expired/);
  assert.deepEqual(plan.moves, [
    { alias: 'production', from: '1.0.0', to: '2.0.0' },
    { alias: 'rollback', from: '0.9.0', to: '1.0.0' },
    { alias: 'candidate', from: '2.0.0', to: null },
  ]);
  assert.deepEqual(plan.expected, { production: '1.0.0', rollback: '0.9.0', candidate: '2.0.0' });
});
