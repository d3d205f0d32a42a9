/**
 * The demo's release half: package each reference detector into a sealed pack (#15), register the
 * packs in the workspace registry (#18) with their evaluation reports (and the candidate's Sim Gate
 * verdict, sim_gate.json, as its sim report), record approvals from demo
 * users, and move the candidate that passed its gate through staging and candidate to production.
 * The regressing candidate's promotion is planned too, and the plan shows why it is refused.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DrivegateError } from '../core/errors.js';
import { createRunner } from '../core/runner.js';
import type { Workspace } from '../core/workspace.js';
import { preparePackage } from '../package/run.js';
import { packageWorkflow } from '../package/workflow.js';
import type { SealResult } from '../package/seal.js';
import { openRegistryDb } from '../registry/db.js';
import { loadPolicy } from '../registry/policy.js';
import type { Role } from '../registry/policy.js';
import { RegistryService } from '../registry/service.js';
import type { ArtifactStore } from '../store/types.js';

/** A sealed pack the demo made. */
export interface DemoPack {
  version: string;
  digest: string;
  path: string;
}

/**
 * Packages one model with the demo recipe into `out`, calibrating on `calibration` (the demo world's
 * train manifest); returns the pack's digest and folder.
 */
export async function packageForDemo(
  ws: Workspace,
  store: ArtifactStore,
  model: string,
  recipe: string,
  out: string,
  calibration: string,
): Promise<DemoPack> {
  const args = await preparePackage({
    model,
    recipe,
    out,
    calibration,
    packsDir: join(ws.home, 'packs'),
    worldsDir: join(ws.home, 'worlds'),
    exportsDir: join(ws.home, 'exports'),
  });
  const record = await createRunner(ws, store, {}).run(packageWorkflow(store), args);
  const seal = record.steps.find((s) => s.name === 'seal')?.result as SealResult | undefined;
  if (seal === undefined) throw new DrivegateError('INTERNAL', 'the package run left no seal result');
  return { version: args.version, digest: seal.digest, path: seal.path };
}

/** What the release returns: the moves made and the refused plan, for the summary. */
export interface DemoRelease {
  registry: string;
  production: string | null;
  moves: string[];
  /** Transitions the policy refused, with the checks that failed. */
  refused: Array<{ version: string; stage: string; failed: string[] }>;
}

/** The demo users and the roles they hold. */
export const DEMO_USERS: ReadonlyArray<[string, Role]> = [
  ['tina', 'technical'],
  ['sam', 'safety'],
  ['sec', 'security'],
  ['pat', 'product'],
];

/**
 * Registers the packs with their eval (and sim) reports, approves and promotes `promote` to production under
 * `policyFile`, and plans (without applying) `refuse` to candidate.
 */
export async function releaseForDemo(options: {
  ws: Workspace;
  store: ArtifactStore;
  policyFile: string;
  /** Each pack with its eval report and, where it ran a sweep, its sim_gate.json. */
  packs: ReadonlyArray<DemoPack & { evalReport: string; simReport?: string | undefined }>;
  promote: string;
  refuse: string;
}): Promise<DemoRelease> {
  const db = await openRegistryDb(options.ws.config.registry.db);
  const service = new RegistryService(db, {
    store: options.store,
    policy: await loadPolicy(options.policyFile),
  });
  try {
    for (const [user, role] of DEMO_USERS) {
      if (!(await service.localPrincipal(user)).roles.includes(role)) {
        await service.createToken('bootstrap', user, role);
      }
    }
    const tina = await service.localPrincipal('tina');
    const model = 'detector';
    for (const p of options.packs) {
      const manifestFile = join(p.path, 'manifest.json');
      const manifest = await readFile(manifestFile);
      const existing = await service.showVersion(tina, model, p.version).catch(() => null);
      if (existing === null) {
        await service.register(tina, { manifest, file: manifestFile, folder: p.path });
      }
      const bytes = await readFile(p.evalReport);
      await service.attachReport(tina, model, p.version, { bytes, file: p.evalReport, kind: 'eval' });
      if (p.simReport !== undefined) {
        const sim = await readFile(p.simReport);
        await service.attachReport(tina, model, p.version, { bytes: sim, file: p.simReport, kind: 'sim' });
      }
    }
    const moves: string[] = [];
    const refused: DemoRelease['refused'] = [];
    const aliasesOf = async (v: string): Promise<string[]> =>
      (await service.showModel(tina, model)).versions.find((x) => x.version === v)?.aliases ?? [];
    // Plans first; applies only what the policy allows, and records what it refuses.
    const move = async (version: string, stage: string, apply = true): Promise<boolean> => {
      const { plan } = await service.stage(tina, model, version, stage, { dryRun: true });
      if (!plan.allowed) {
        const failed = plan.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.rationale}`);
        refused.push({ version, stage, failed });
        return false;
      }
      if (apply) {
        await service.applyPlan(plan);
        moves.push(`${version} -> ${stage}`);
      }
      return true;
    };
    // A rerun in the same workspace finds earlier moves done and does not repeat them.
    const now = await aliasesOf(options.promote);
    if (!now.includes('production')) {
      let ok =
        now.includes('candidate') || now.includes('staging') || (await move(options.promote, 'staging'));
      if (ok && !now.includes('candidate')) ok = await move(options.promote, 'candidate');
      if (ok) {
        for (const [user, role] of DEMO_USERS) {
          await service.approve(
            await service.localPrincipal(user),
            model,
            options.promote,
            role,
            'demo approval',
          );
        }
        moves.push(`${options.promote} approved by ${DEMO_USERS.map(([u, r]) => `${u} (${r})`).join(', ')}`);
        await move(options.promote, 'production');
      }
    }
    if ((await aliasesOf(options.refuse)).length === 0) await move(options.refuse, 'staging');
    await move(options.refuse, 'candidate', false);
    const production = (await service.showModel(tina, model)).aliases.production ?? null;
    return { registry: db.location, production, moves, refused };
  } finally {
    await service.close();
  }
}
