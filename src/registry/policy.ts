/**
 * The promotion policy (policy.yaml) and transition plans (pure). A plan says, for moving a version
 * to a stage (or rolling a model back), which checks the policy requires, what evidence each check
 * saw and whether it passed, and which alias moves would follow. The service computes a plan, prints
 * it for `--dry-run`, and otherwise applies exactly its moves in one transaction, refusing with
 * CONFLICT when the aliases moved since the plan was made.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { DrivegateError, badInput } from '../core/errors.js';
import type { IntegrityResult, ReportKind, Verdict } from './pack.js';
import { REPORT_KINDS } from './pack.js';

/** The roles of the registry. */
export const ROLES = ['admin', 'technical', 'safety', 'security', 'product', 'consumer'] as const;
/** A role. */
export type Role = (typeof ROLES)[number];
/** Roles whose approval a policy can require. */
export const APPROVAL_ROLES = ['technical', 'safety', 'security', 'product'] as const;

/** The stages a version can be moved to (rollback is set by promotions and rollbacks only). */
export const STAGES = ['staging', 'candidate', 'production'] as const;
/** A stage alias. */
export type Stage = (typeof STAGES)[number];
/** Every alias: the stages plus rollback. */
export const ALIASES = [...STAGES, 'rollback'] as const;
/** An alias. */
export type Alias = (typeof ALIASES)[number];

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'unknown'] as const;

const stageRuleSchema = z.strictObject({
  from: z.array(z.enum([...ALIASES, 'any'])).optional(),
  reports: z.partialRecord(z.enum(REPORT_KINDS), z.literal('pass')).optional(),
  approvals: z.array(z.enum(APPROVAL_ROLES)).optional(),
  integrity: z.boolean().optional(),
  vulnerabilities: z.strictObject({ block: z.array(z.enum(SEVERITIES)) }).optional(),
  promoters: z.array(z.enum(ROLES)).optional(),
});

/** The policy document (v1). */
export const policySchema = z.strictObject({
  version: z.literal(1),
  stages: z.strictObject({
    staging: stageRuleSchema.optional(),
    candidate: stageRuleSchema.optional(),
    production: stageRuleSchema.optional(),
  }),
  rollback: z
    .strictObject({ promoters: z.array(z.enum(ROLES)).optional(), integrity: z.boolean().optional() })
    .optional(),
});

/** A promotion policy. */
export type Policy = z.infer<typeof policySchema>;
/** The rule of one stage. */
export type StageRule = z.infer<typeof stageRuleSchema>;

/** Who may move versions when a stage rule does not say. */
export const DEFAULT_PROMOTERS: Role[] = ['admin', 'technical'];

/** The policy used when none is configured: integrity always; production needs all four approvals. */
export const DEFAULT_POLICY: Policy = {
  version: 1,
  stages: {
    staging: { integrity: true },
    candidate: { integrity: true, reports: { eval: 'pass' } },
    production: {
      from: ['candidate'],
      integrity: true,
      reports: { eval: 'pass' },
      approvals: ['technical', 'safety', 'security', 'product'],
      vulnerabilities: { block: ['critical', 'high'] },
    },
  },
  rollback: { integrity: true },
};

/** Parses policy YAML text; BAD_INPUT naming the file and field. */
export function parsePolicy(text: string, file: string): Policy {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw badInput('invalid YAML', {
      file,
      expected: 'a policy document',
      found: doc.errors[0]?.code ?? 'error',
    });
  }
  const r = policySchema.safeParse(doc.toJS());
  if (!r.success) {
    const issue = r.error.issues[0];
    throw badInput('invalid policy', {
      file,
      field: issue?.path.map(String).join('.') || '(document)',
      expected: issue?.message ?? 'policy v1',
    });
  }
  return r.data;
}

/** Reads and parses a policy file. */
export async function loadPolicy(file: string): Promise<Policy> {
  const text = await readFile(file, 'utf8').catch((err: unknown) => {
    throw new DrivegateError('NOT_FOUND', 'cannot read the policy file', { file, cause: err });
  });
  return parsePolicy(text, file);
}

/** One check of a plan. */
export interface PlanCheck {
  id: string;
  status: 'pass' | 'fail' | 'waived';
  rationale: string;
  evidence: unknown;
}

/** One alias move of a plan. */
export interface AliasMove {
  alias: Alias;
  from: string | null;
  to: string | null;
}

/** A transition plan: what would be checked and moved. */
export interface TransitionPlan {
  kind: 'promote' | 'rollback';
  model: string;
  /** The version moved (for a rollback: the version restored to production). */
  version: string | null;
  stage: Stage;
  actor: string;
  computed_at: string;
  allowed: boolean;
  checks: PlanCheck[];
  moves: AliasMove[];
  /** What each moved alias must still point at when the plan is applied. */
  expected: Partial<Record<Alias, string | null>>;
}

/** A report as the planner sees it. */
export interface PlanReport {
  kind: ReportKind | string;
  digest: string;
  verdict: Verdict | string;
  attached_at: string;
}

/** An approval as the planner sees it (the approver held the role when approving). */
export interface PlanApproval {
  role: string;
  user: string;
  at: string;
}

/** A waiver as the planner sees it. */
export interface PlanWaiver {
  id: string;
  vuln: string;
  approver: string;
  justification: string;
  expires_at: string;
}

/** Everything a promotion plan is computed from. */
export interface PromotionInput {
  policy: Policy;
  model: string;
  version: string;
  stage: Stage;
  actor: { user: string; roles: readonly string[] };
  now: string;
  aliases: Partial<Record<Alias, string | null>>;
  reports: PlanReport[];
  approvals: PlanApproval[];
  vulnerabilities: Array<{ id: string; severity: string }>;
  waivers: PlanWaiver[];
  /** The integrity check's result, or null when the rule does not ask for one. */
  integrity: IntegrityResult | null;
}

function promoterCheck(promoters: readonly string[], actor: PromotionInput['actor']): PlanCheck {
  const ok = actor.roles.some((r) => promoters.includes(r));
  return {
    id: 'promoter-role',
    status: ok ? 'pass' : 'fail',
    rationale: ok
      ? `${actor.user} holds a promoter role (${promoters.join(', ')})`
      : `${actor.user} holds none of the promoter roles ${promoters.join(', ')}`,
    evidence: { user: actor.user, roles: actor.roles, promoters },
  };
}

function integrityCheck(result: IntegrityResult | null): PlanCheck {
  if (result === null) {
    return {
      id: 'integrity',
      status: 'fail',
      rationale: 'the pack could not be located to re-hash',
      evidence: null,
    };
  }
  return {
    id: 'integrity',
    status: result.ok ? 'pass' : 'fail',
    rationale: result.ok
      ? `${result.files} files (${result.bytes} bytes) re-hashed from ${result.source} match the manifest`
      : `${result.problems.length} of ${result.files} files do not match the manifest (${result.source})`,
    evidence: result,
  };
}

/** Computes the plan of moving `version` to `stage` under the policy (pure). */
export function planPromotion(input: PromotionInput): TransitionPlan {
  const rule: StageRule = input.policy.stages[input.stage] ?? {};
  const checks: PlanCheck[] = [];
  const current = input.aliases[input.stage] ?? null;
  checks.push({
    id: 'not-already',
    status: current === input.version ? 'fail' : 'pass',
    rationale:
      current === input.version
        ? `${input.model}@${input.version} is already ${input.stage}`
        : `${input.stage} points at ${current ?? 'nothing'}`,
    evidence: { [input.stage]: current },
  });
  checks.push(promoterCheck(rule.promoters ?? DEFAULT_PROMOTERS, input.actor));
  const from = rule.from ?? ['any'];
  if (!from.includes('any')) {
    const held = from.filter((a) => a !== 'any' && input.aliases[a as Alias] === input.version);
    checks.push({
      id: 'from-stage',
      status: held.length > 0 ? 'pass' : 'fail',
      rationale:
        held.length > 0
          ? `the version is ${held.join(', ')}`
          : `the version must be ${from.join(' or ')} before ${input.stage}`,
      evidence: { required: from, aliases: input.aliases },
    });
  }
  for (const [kind, want] of Object.entries(rule.reports ?? {})) {
    const latest = input.reports
      .filter((r) => r.kind === kind)
      .sort((a, b) => (a.attached_at < b.attached_at ? 1 : a.attached_at > b.attached_at ? -1 : 0))[0];
    checks.push({
      id: `report-${kind}`,
      status: latest?.verdict === want ? 'pass' : 'fail',
      rationale:
        latest === undefined
          ? `no ${kind} report is attached`
          : `the latest ${kind} report's verdict is ${latest.verdict} (needs ${want})`,
      evidence: latest ?? null,
    });
  }
  for (const role of rule.approvals ?? []) {
    const got = input.approvals.filter((a) => a.role === role);
    checks.push({
      id: `approval-${role}`,
      status: got.length > 0 ? 'pass' : 'fail',
      rationale:
        got.length > 0
          ? `approved as ${role} by ${got.map((a) => a.user).join(', ')}`
          : `no approval in the ${role} role`,
      evidence: got,
    });
  }
  if (rule.integrity === true) checks.push(integrityCheck(input.integrity));
  if (rule.vulnerabilities !== undefined) {
    const block = rule.vulnerabilities.block as readonly string[];
    for (const v of input.vulnerabilities.filter((x) => block.includes(x.severity))) {
      const live = input.waivers.filter((w) => w.vuln === v.id && w.expires_at > input.now);
      const expired = input.waivers.filter((w) => w.vuln === v.id && w.expires_at <= input.now);
      checks.push({
        id: `vulnerability-${v.id}`,
        status: live.length > 0 ? 'waived' : 'fail',
        rationale:
          live.length > 0
            ? `${v.severity} ${v.id} waived by ${live[0]?.approver ?? '?'} until ${live[0]?.expires_at ?? '?'}`
            : expired.length > 0
              ? `${v.severity} ${v.id}: its waiver expired at ${expired[0]?.expires_at ?? '?'}`
              : `${v.severity} ${v.id} blocks ${input.stage} (no waiver)`,
        evidence: { vulnerability: v, waivers: live, expired },
      });
    }
  }
  const moves: AliasMove[] = [{ alias: input.stage, from: current, to: input.version }];
  if (input.stage === 'production' && current !== null && current !== input.version) {
    moves.push({ alias: 'rollback', from: input.aliases.rollback ?? null, to: current });
  }
  for (const a of from) {
    if (a !== 'any' && a !== input.stage && a !== 'rollback' && input.aliases[a as Alias] === input.version) {
      moves.push({ alias: a as Alias, from: input.version, to: null });
    }
  }
  return finish('promote', input.model, input.version, input.stage, input, checks, moves);
}

/** Everything a rollback plan is computed from. */
export interface RollbackInput {
  policy: Policy;
  model: string;
  actor: { user: string; roles: readonly string[] };
  now: string;
  aliases: Partial<Record<Alias, string | null>>;
  integrity: IntegrityResult | null;
}

/** Computes the plan of `rollback MODEL`: production <- rollback, rollback cleared (pure). */
export function planRollback(input: RollbackInput): TransitionPlan {
  const target = input.aliases.rollback ?? null;
  const current = input.aliases.production ?? null;
  const checks: PlanCheck[] = [
    {
      id: 'rollback-target',
      status: target !== null ? 'pass' : 'fail',
      rationale: target !== null ? `rollback points at ${target}` : 'no version to roll back to',
      evidence: { production: current, rollback: target },
    },
    promoterCheck(input.policy.rollback?.promoters ?? ['admin', 'technical', 'safety'], input.actor),
  ];
  if (target !== null && input.policy.rollback?.integrity === true)
    checks.push(integrityCheck(input.integrity));
  const moves: AliasMove[] =
    target === null
      ? []
      : [
          { alias: 'production', from: current, to: target },
          { alias: 'rollback', from: target, to: null },
        ];
  return finish('rollback', input.model, target, 'production', input, checks, moves);
}

function finish(
  kind: TransitionPlan['kind'],
  model: string,
  version: string | null,
  stage: Stage,
  input: { actor: { user: string }; now: string },
  checks: PlanCheck[],
  moves: AliasMove[],
): TransitionPlan {
  const expected: TransitionPlan['expected'] = {};
  for (const m of moves) expected[m.alias] = m.from;
  return {
    kind,
    model,
    version,
    stage,
    actor: input.actor.user,
    computed_at: input.now,
    allowed: checks.every((c) => c.status !== 'fail'),
    checks,
    moves,
    expected,
  };
}

/** The plan as text: a line per check (with its rationale) and per move. */
export function formatPlan(plan: TransitionPlan): string {
  const head =
    plan.kind === 'rollback'
      ? `rollback ${plan.model}: production -> ${plan.version ?? '(nothing)'}`
      : `promote ${plan.model}@${plan.version ?? ''} to ${plan.stage}`;
  const lines = [`${head} — ${plan.allowed ? 'ALLOWED' : 'BLOCKED'}`, 'checks:'];
  for (const c of plan.checks) lines.push(`  [${c.status.toUpperCase()}] ${c.id}: ${c.rationale}`);
  lines.push('moves:');
  for (const m of plan.moves) lines.push(`  ${m.alias}: ${m.from ?? '(none)'} -> ${m.to ?? '(none)'}`);
  return lines.join('\n');
}
