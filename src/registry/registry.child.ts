/**
 * A child process for the registry's concurrency and crash tests (not part of the product).
 *
 * Usage: node registry.child.js DB_URL MODE MODEL VERSION STAGE USER [GO_FILE]
 *   MODE race: plan the promotion, print "planned", wait until GO_FILE exists, apply; print "won"
 *              or "conflict <message>" (any other error: "error <code> <message>")
 *   MODE hang: apply the promotion but stop inside its transaction after the writes (print "in-tx")
 *              and wait to be killed
 */
import { existsSync } from 'node:fs';
import { asDrivegateError } from '../core/errors.js';
import { openRegistryDb } from './db.js';
import { DEFAULT_POLICY } from './policy.js';
import { RegistryService } from './service.js';

async function main(): Promise<void> {
  const [url, mode, model, version, stage, user, goFile] = process.argv.slice(2);
  if (
    url === undefined ||
    model === undefined ||
    version === undefined ||
    stage === undefined ||
    user === undefined
  ) {
    throw new Error('usage: DB_URL MODE MODEL VERSION STAGE USER [GO_FILE]');
  }
  const policy = {
    ...DEFAULT_POLICY,
    stages: { ...DEFAULT_POLICY.stages, production: { integrity: false } },
  };
  const db = await openRegistryDb(url);
  const service = new RegistryService(db, {
    policy,
    beforeCommit:
      mode === 'hang'
        ? async () => {
            process.stdout.write('in-tx\n');
            await new Promise(() => undefined);
          }
        : undefined,
  });
  const actor = await service.localPrincipal(user);
  const plan = await service.planStage(actor, model, version, stage);
  process.stdout.write('planned\n');
  if (mode === 'race' && goFile !== undefined) {
    while (!existsSync(goFile)) await new Promise((r) => setTimeout(r, 2));
  }
  try {
    await service.applyPlan(plan);
    process.stdout.write('won\n');
  } catch (err) {
    const e = asDrivegateError(err);
    process.stdout.write(
      e.code === 'CONFLICT' ? `conflict ${e.message}\n` : `error ${e.code} ${e.message}\n`,
    );
  }
  await db.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exitCode = 3;
});
