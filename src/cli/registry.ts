/**
 * `drivegate registry ...`: the model registry. Every command goes through one API: on the local
 * database (the workspace's registry.db or $DRIVEGATE_DB), acting as `--user U` with that user's
 * roles, or against a server with `--server URL --token T` ($DRIVEGATE_SERVER / $DRIVEGATE_TOKEN).
 * `serve` runs the REST API.
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DrivegateError, asDrivegateError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import type { Workspace } from '../core/workspace.js';
import { openRegistryDb } from '../registry/db.js';
import { createRegistryServer, localApi, remoteApi } from '../registry/http.js';
import type { RegistryApi, TransitionResult } from '../registry/http.js';
import { PACK_MANIFEST, isFolder, readPackFolder, verifyPackFiles } from '../registry/pack.js';
import { DEFAULT_POLICY, formatPlan, loadPolicy } from '../registry/policy.js';
import type { Policy } from '../registry/policy.js';
import { RegistryService, parseRef } from '../registry/service.js';
import type { ModelView, VersionView } from '../registry/service.js';
import { looksLikeDigest, normalizeDigest } from '../store/types.js';
import type { ArtifactStore } from '../store/types.js';
import { addWorkspaceOptions, storeOf, workspaceFromFlags } from './workspace-options.js';
import type { WorkspaceFlags } from './workspace-options.js';

/** Flags every registry command takes. */
interface RegistryFlags extends WorkspaceFlags {
  json?: boolean;
  user?: string;
  server?: string;
  token?: string;
  policy?: string;
}

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

function addRegistryOptions(cmd: Command, withUser = true): Command {
  addWorkspaceOptions(cmd).option('--json', 'machine output (JSON on stdout)');
  if (withUser) {
    cmd.option(
      '--user <name>',
      'local mode: act as this user, with their roles (default $DRIVEGATE_USER or your login)',
    );
  }
  return cmd
    .option('--server <url>', 'remote mode: the registry server (default $DRIVEGATE_SERVER)')
    .option('--token <token>', 'remote mode: an API token (default $DRIVEGATE_TOKEN)')
    .option(
      '--policy <file>',
      'local mode: the promotion policy (default $DRIVEGATE_POLICY, <workspace>/policy.yaml, built-in)',
    );
}

async function policyFor(ws: Workspace, flags: RegistryFlags): Promise<Policy> {
  const explicit = flags.policy ?? (process.env['DRIVEGATE_POLICY'] || undefined);
  if (explicit !== undefined) return loadPolicy(explicit);
  const inWs = join(ws.home, 'policy.yaml');
  return existsSync(inWs) ? loadPolicy(inWs) : DEFAULT_POLICY;
}

/** An API session: the API, the store (local mode) and how to close it. */
interface Session {
  api: RegistryApi;
  store: ArtifactStore | undefined;
  remote: boolean;
  close(): Promise<void>;
}

async function openSession(flags: RegistryFlags): Promise<Session> {
  const server = flags.server ?? (process.env['DRIVEGATE_SERVER'] || undefined);
  if (server !== undefined) {
    const token = flags.token ?? (process.env['DRIVEGATE_TOKEN'] || undefined);
    if (token === undefined) {
      throw new DrivegateError('USAGE', 'remote mode needs a token', {
        field: '--token',
        expected: '--token T or $DRIVEGATE_TOKEN',
      });
    }
    return { api: remoteApi(server, token), store: undefined, remote: true, close: () => Promise.resolve() };
  }
  const ws = workspaceFromFlags(flags);
  const store = await storeOf(ws);
  const db = await openRegistryDb(ws.config.registry.db);
  const service = new RegistryService(db, { store, policy: await policyFor(ws, flags) });
  const user = flags.user ?? (process.env['DRIVEGATE_USER'] || undefined) ?? userInfo().username;
  const principal = await service.localPrincipal(user).catch(async (err: unknown) => {
    await db.close();
    throw err;
  });
  return { api: localApi(service, principal), store, remote: false, close: () => db.close() };
}

async function withSession<T>(flags: RegistryFlags, fn: (s: Session) => Promise<T>): Promise<T> {
  const s = await openSession(flags);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

function formatVersion(v: VersionView): string {
  const lines = [
    `${v.model}@${v.version} (${v.task})${v.aliases.length > 0 ? `  [${v.aliases.join(', ')}]` : ''}`,
    `  pack        ${v.pack_digest}`,
  ];
  for (const [k, val] of Object.entries(v.pointers)) {
    if (k === 'pack_manifest' || val === null || (Array.isArray(val) && val.length === 0)) continue;
    lines.push(`  ${k.padEnd(11)} ${Array.isArray(val) ? val.join(', ') : String(val)}`);
  }
  if (v.tags.length > 0) lines.push(`  tags        ${v.tags.join(', ')}`);
  if (v.targets.length > 0) lines.push(`  targets     ${v.targets.join(', ')}`);
  if (v.calibration_cache_version !== null) lines.push(`  calibration ${v.calibration_cache_version}`);
  for (const r of v.reports) lines.push(`  report      ${r.kind} ${r.verdict} ${r.digest}`);
  for (const a of v.approvals)
    lines.push(`  approval    ${a.role} by ${a.user} at ${a.at}${a.comment ? ` — ${a.comment}` : ''}`);
  for (const w of v.waivers)
    lines.push(
      `  waiver      ${w.vuln} by ${w.approver} until ${w.expires_at}${w.expired ? ' (EXPIRED)' : ''}: ${w.justification}`,
    );
  for (const x of v.vulnerabilities) lines.push(`  vulnerability ${x.id} (${x.severity})`);
  return lines.join('\n');
}

function formatModel(m: ModelView): string {
  const lines = [`${m.model} (${m.task})`];
  for (const v of m.versions) {
    const verdicts = Object.entries(v.verdicts).map(([k, x]) => `${k}:${x}`);
    lines.push(
      `  ${v.version.padEnd(14)} ${v.aliases.join(',').padEnd(22)} ${verdicts.join(' ').padEnd(20)} ${v.tags.join(',')}`.trimEnd(),
    );
  }
  return lines.join('\n');
}

function printTransition(result: TransitionResult, json: boolean | undefined): void {
  if (json) print(JSON.stringify(result));
  else print(formatPlan(result.plan) + (result.applied ? '\napplied' : '\n(dry run: nothing changed)'));
  if (!result.plan.allowed) process.exitCode = 1;
}

/** Runs a transition; a GATE_FAILED error carrying its plan prints the plan and exits 1. */
async function transition(
  flags: RegistryFlags,
  fn: (api: RegistryApi) => Promise<TransitionResult>,
): Promise<void> {
  try {
    printTransition(await withSession(flags, (s) => fn(s.api)), flags.json);
  } catch (err) {
    const e = asDrivegateError(err);
    const plan = e.details as TransitionResult['plan'] | undefined;
    if (e.code === 'GATE_FAILED' && plan !== undefined && Array.isArray(plan.checks)) {
      if (flags.json) print(JSON.stringify({ plan, applied: false, error: e.toJSON() }));
      else print(formatPlan(plan));
      process.stderr.write(`drivegate: ${e.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}

async function registerPack(s: Session, pack: string, storeUris: string[]): Promise<VersionView> {
  if (await isFolder(pack)) {
    const { manifest, bytes } = await readPackFolder(pack);
    const file = join(pack, PACK_MANIFEST);
    if (s.remote) {
      const check = await verifyPackFiles(manifest, { kind: 'folder', path: pack }, undefined);
      if (!check.ok) {
        const p = check.problems[0];
        throw new DrivegateError('INTEGRITY', 'the pack does not match its manifest', {
          file,
          field: `files: ${p?.path ?? '?'}`,
          expected: p?.expected,
          found: p?.found,
        });
      }
      return s.api.register({ manifest: bytes, file, storeUris });
    }
    if (s.store !== undefined) {
      // Files first (each verified against the manifest while stored), then the manifest itself.
      for (const f of manifest.files) {
        await s.store
          .putFile(join(pack, f.path), { expectedDigest: `sha256:${f.sha256}` })
          .catch((err: unknown) => {
            const e = asDrivegateError(err);
            throw new DrivegateError(e.code, `pack file ${f.path}: ${e.message}`, {
              file: join(pack, f.path),
              cause: err,
            });
          });
      }
      await s.store.put(bytes);
    }
    return s.api.register({ manifest: bytes, file, folder: pack, inStore: s.store !== undefined, storeUris });
  }
  if (!looksLikeDigest(pack)) {
    throw new DrivegateError('NOT_FOUND', 'the pack is neither a folder nor a digest', {
      field: '--pack',
      expected: 'a pack folder (holding manifest.json) or the manifest digest sha256:<hex>',
      found: JSON.stringify(pack),
    });
  }
  if (s.store === undefined) {
    throw new DrivegateError('USAGE', 'registering by digest needs the local store (or give the folder)', {
      field: '--pack',
    });
  }
  const digest = normalizeDigest(pack);
  if (!(await s.store.has(digest))) {
    throw new DrivegateError('NOT_FOUND', 'no pack manifest with this digest in the store', {
      field: '--pack',
      found: digest,
    });
  }
  return s.api.register({ manifest: await s.store.get(digest), file: digest, inStore: true, storeUris });
}

/** Registers `drivegate registry ...`. */
export function registerRegistry(program: Command): void {
  const reg = program
    .command('registry')
    .description(
      'The model registry: versions, stages and aliases, approvals, waivers, audit log, API tokens.',
    );

  addRegistryOptions(
    reg
      .command('register')
      .description(
        'Register a pack (a folder with manifest.json, or its manifest digest in the store) as a model version.',
      )
      .requiredOption('--pack <dir|digest>', 'the pack folder or sha256:<manifest digest>')
      .option('--store-uri <uri...>', 'extra store URIs to record for the pack'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  drivegate registry register --pack out/packs/det-small-1.2.0 --user alice\n',
    )
    .action(async (flags: RegistryFlags & { pack: string; storeUri?: string[] }) => {
      const v = await withSession(flags, (s) => registerPack(s, flags.pack, flags.storeUri ?? []));
      print(flags.json ? JSON.stringify(v) : formatVersion(v));
    });

  addRegistryOptions(reg.command('list').description('List models with their aliases.'))
    .addHelpText('after', '\nExample:\n  drivegate registry list --json\n')
    .action(async (flags: RegistryFlags) => {
      const list = await withSession(flags, (s) => s.api.list());
      if (flags.json) print(JSON.stringify(list));
      else
        print(
          list
            .map(
              (m) =>
                `${m.model.padEnd(24)} ${m.task.padEnd(14)} ${m.versions} versions  ${Object.entries(
                  m.aliases,
                )
                  .map(([a, v]) => `${a}=${v ?? '-'}`)
                  .join(' ')}`,
            )
            .join('\n') || '(no models)',
        );
    });

  addRegistryOptions(
    reg
      .command('show')
      .description('Show a model (its versions and aliases) or one version.')
      .argument('<model[@version]>'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  drivegate registry show det-small --json\n  drivegate registry show det-small@1.2.0\n',
    )
    .action(async (ref: string, flags: RegistryFlags) => {
      const r = parseRef(ref, false);
      await withSession(flags, async (s) => {
        if (r.version !== undefined) {
          const v = await s.api.showVersion(r.model, r.version);
          print(flags.json ? JSON.stringify(v) : formatVersion(v));
        } else {
          const m = await s.api.showModel(r.model);
          print(flags.json ? JSON.stringify(m) : formatModel(m));
        }
      });
    });

  addRegistryOptions(
    reg
      .command('attach')
      .description(
        'Attach a report (export, eval, sim) to a version by digest: a file (stored) or a digest in the store.',
      )
      .argument('<model@version>')
      .requiredOption('--report <file|digest>', 'the report JSON file, or sha256:<digest> of a stored report')
      .option('--kind <kind>', 'export | eval | sim (an eval_report.json is recognized by its shape)'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  drivegate registry attach det-small@1.2.0 --report out/eval/eval_report.json\n',
    )
    .action(async (ref: string, flags: RegistryFlags & { report: string; kind?: string }) => {
      const r = parseRef(ref) as { model: string; version: string };
      const v = await withSession(flags, async (s) => {
        if (looksLikeDigest(flags.report) && !existsSync(flags.report)) {
          return s.api.attachReport(r.model, r.version, {
            digest: flags.report,
            ...(flags.kind !== undefined ? { kind: flags.kind } : {}),
          });
        }
        const { readFile } = await import('node:fs/promises');
        const bytes = await readFile(flags.report).catch((err: unknown) => {
          throw new DrivegateError('NOT_FOUND', 'cannot read the report', { file: flags.report, cause: err });
        });
        return s.api.attachReport(r.model, r.version, {
          bytes,
          file: flags.report,
          ...(flags.kind !== undefined ? { kind: flags.kind } : {}),
        });
      });
      print(flags.json ? JSON.stringify(v) : formatVersion(v));
    });

  addRegistryOptions(
    reg.command('tag').description('Tag a version.').argument('<model@version>').argument('<tag>'),
  )
    .addHelpText('after', '\nExample:\n  drivegate registry tag det-small@1.2.0 night-fix\n')
    .action(async (ref: string, tag: string, flags: RegistryFlags) => {
      const r = parseRef(ref) as { model: string; version: string };
      const v = await withSession(flags, (s) => s.api.tag(r.model, r.version, tag));
      print(flags.json ? JSON.stringify(v) : formatVersion(v));
    });

  addRegistryOptions(
    reg
      .command('approve')
      .description('Approve a version in a role you hold (technical, safety, security, product).')
      .argument('<model@version>')
      .requiredOption('--role <role>', 'technical | safety | security | product')
      .option('--comment <text>', 'a comment', ''),
  )
    .addHelpText(
      'after',
      '\nExample:\n  drivegate registry approve det-small@1.2.0 --role safety --user sam --comment "night slices reviewed"\n',
    )
    .action(async (ref: string, flags: RegistryFlags & { role: string; comment: string }) => {
      const r = parseRef(ref) as { model: string; version: string };
      const v = await withSession(flags, (s) => s.api.approve(r.model, r.version, flags.role, flags.comment));
      print(flags.json ? JSON.stringify(v) : formatVersion(v));
    });

  for (const name of ['promote', 'stage']) {
    addRegistryOptions(
      reg
        .command(name)
        .description(
          'Move a version to a stage (staging, candidate, production) under the policy; --dry-run prints the plan only.',
        )
        .argument('<model@version>')
        .argument('<stage>', 'staging | candidate | production')
        .option('--dry-run', 'print the checks, their evidence and the moves; change nothing'),
    )
      .addHelpText('after', `\nExample:\n  drivegate registry ${name} det-small@1.2.0 production --dry-run\n`)
      .action(async (ref: string, stage: string, flags: RegistryFlags & { dryRun?: boolean }) => {
        const r = parseRef(ref) as { model: string; version: string };
        await transition(flags, (api) => api.stage(r.model, r.version, stage, flags.dryRun === true));
      });
  }

  addRegistryOptions(
    reg
      .command('rollback')
      .description('Reverse the last promotion: production <- rollback (a checked, recorded transition).')
      .argument('<model>')
      .option('--dry-run', 'print the plan only'),
  )
    .addHelpText('after', '\nExample:\n  drivegate registry rollback det-small\n')
    .action(async (model: string, flags: RegistryFlags & { dryRun?: boolean }) => {
      await transition(flags, (api) => api.rollback(parseRef(model, false).model, flags.dryRun === true));
    });

  addRegistryOptions(
    reg
      .command('history')
      .description(
        'Alias moves of a model (append-only events); --at T shows what each alias pointed at, at time T.',
      )
      .argument('<model>')
      .option('--alias <alias>', 'only this alias (staging, candidate, production, rollback)')
      .option('--at <time>', 'ISO time: the state at that time'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  drivegate registry history det-small --alias production --at 2026-11-20T12:00:00Z\n',
    )
    .action(async (model: string, flags: RegistryFlags & { alias?: string; at?: string }) => {
      const h = await withSession(flags, (s) =>
        s.api.history(parseRef(model, false).model, {
          ...(flags.alias !== undefined ? { alias: flags.alias } : {}),
          ...(flags.at !== undefined ? { at: flags.at } : {}),
        }),
      );
      if (flags.json) return print(JSON.stringify(h));
      const lines = h.events.map(
        (e) =>
          `${e.at}  ${e.alias.padEnd(10)} ${e.from ?? '-'} -> ${e.to ?? '-'}  by ${e.actor} (${e.reason})`,
      );
      if (h.state !== undefined) {
        lines.push(`at ${h.at ?? ''}:`);
        for (const [a, v] of Object.entries(h.state)) lines.push(`  ${a}: ${v ?? '(none)'}`);
        if (Object.keys(h.state).length === 0) lines.push('  (no alias set)');
      }
      print(lines.join('\n') || '(no moves)');
    });

  const waiver = reg.command('waiver').description('Vulnerability waivers.');
  const waiverAdd = (cmd: Command): void => {
    addRegistryOptions(
      cmd
        .argument('<model@version>')
        .requiredOption('--vuln <id>', 'the vulnerability, e.g. CVE-2026-1234')
        .requiredOption('--justification <text>', 'why it is acceptable')
        .requiredOption('--expires <date>', 'ISO date or time after which the waiver no longer counts'),
    )
      .addHelpText(
        'after',
        '\nExample:\n  drivegate registry waiver add det-small@1.2.0 --vuln CVE-2026-1234 --justification "not reachable: no network input" --expires 2026-12-31\n',
      )
      .action(
        async (
          ref: string,
          flags: RegistryFlags & { vuln: string; justification: string; expires: string },
        ) => {
          const r = parseRef(ref) as { model: string; version: string };
          const v = await withSession(flags, (s) =>
            s.api.addWaiver(r.model, r.version, {
              vuln: flags.vuln,
              justification: flags.justification,
              expires: flags.expires,
            }),
          );
          print(flags.json ? JSON.stringify(v) : formatVersion(v));
        },
      );
  };
  waiverAdd(
    waiver
      .command('add')
      .description('Waive a vulnerability of a version until a date (you are the approver).'),
  );
  waiverAdd(reg.command('waive').description('Same as waiver add.'));

  const audit = reg.command('audit').description('The audit log (a hash chain).');
  addRegistryOptions(
    audit
      .command('verify')
      .description('Verify the audit hash chain; exits 2 naming the first edited, inserted or deleted entry.')
      .option('--head <hash>', 'the head hash recorded earlier (detects removal of the newest entries)'),
  )
    .addHelpText('after', '\nExample:\n  drivegate registry audit verify --user auditor\n')
    .action(async (flags: RegistryFlags & { head?: string }) => {
      const v = await withSession(flags, (s) => s.api.auditVerify(flags.head));
      if (flags.json) print(JSON.stringify(v));
      else if (v.ok)
        print(`audit log ok: ${v.entries} entries, head ${v.head?.seq ?? 0} ${v.head?.hash ?? '-'}`);
      else
        print(
          `audit log BROKEN at entry ${v.first?.seq ?? '?'}: ${v.first?.problem ?? ''} — ${v.first?.detail ?? ''}`,
        );
      if (!v.ok) process.exitCode = new DrivegateError('INTEGRITY', 'audit chain broken').exitCode;
    });

  addRegistryOptions(
    audit
      .command('log')
      .description('Print audit entries (seq, time, actor, action, payload), oldest first.')
      .option('--after <seq>', 'only entries after this sequence number', '0')
      .option('--limit <n>', 'at most this many entries', '1000'),
  )
    .addHelpText('after', '\nExample:\n  drivegate registry audit log --after 120 --user auditor\n')
    .action(async (flags: RegistryFlags & { after: string; limit: string }) => {
      const entries = await withSession(flags, (s) =>
        s.api.auditLog(Number(flags.after) || 0, Math.min(10_000, Number(flags.limit) || 1000)),
      );
      if (flags.json) print(JSON.stringify(entries));
      else
        print(
          entries.map((e) => `${e.seq}  ${e.at}  ${e.actor}  ${e.action}  ${e.payload}`).join('\n') ||
            '(no entries)',
        );
    });

  const token = reg.command('token').description('API tokens.');
  addRegistryOptions(
    token
      .command('revoke')
      .description('Revoke every token of a user. Local mode bootstraps; remote needs admin.')
      .requiredOption('--user <name>', 'whose tokens to revoke'),
    false,
  )
    .addHelpText('after', '\nExample:\n  drivegate registry token revoke --user ci-bot\n')
    .action(async (flags: RegistryFlags & { user: string }) => {
      const r = await withSession({ ...flags, user: 'local-admin' }, (s) => s.api.revokeTokens(flags.user));
      print(flags.json ? JSON.stringify(r) : `revoked ${r.revoked} token(s) of ${r.user}`);
    });
  addRegistryOptions(
    token
      .command('create')
      .description(
        'Create an API token for a user in a role (granting the role); prints the token once. Local mode bootstraps; remote needs admin.',
      )
      .requiredOption('--user <name>', 'the user the token acts as')
      .requiredOption('--role <role>', 'admin | technical | safety | security | product | consumer'),
    false,
  )
    .addHelpText('after', '\nExample:\n  drivegate registry token create --user ci-bot --role technical\n')
    .action(async (flags: RegistryFlags & { user: string; role: string }) => {
      // --user names the token's user here; the session acts as the bootstrap (local) or token owner.
      const t = await withSession({ ...flags, user: 'local-admin' }, (s) =>
        s.api.createToken(flags.user, flags.role),
      );
      print(flags.json ? JSON.stringify(t) : t.token);
    });

  addServeOptions(reg.command('serve'))
    .description('Serve the registry REST API (bearer tokens; OpenAPI at /openapi.json).')
    .addHelpText(
      'after',
      '\nExample:\n  drivegate registry serve --port 8470\n  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8470/api/v1/models\n',
    )
    .action(serveRegistry);
}

type ServeFlags = RegistryFlags & { port: string; host: string };

function addServeOptions(cmd: Command): Command {
  return addWorkspaceOptions(
    cmd
      .option('--port <port>', 'TCP port (0: any free port)', '8470')
      .option('--host <host>', 'address to listen on', '127.0.0.1')
      .option('--policy <file>', 'the promotion policy'),
  );
}

/** Runs the registry REST API server until SIGINT/SIGTERM (`registry serve` and `ui`). */
async function serveRegistry(flags: ServeFlags): Promise<void> {
  const ws = workspaceFromFlags(flags);
  const log = createLogger({ level: ws.config.log.level });
  const db = await openRegistryDb(ws.config.registry.db);
  const service = new RegistryService(db, {
    store: await storeOf(ws),
    policy: await policyFor(ws, flags),
  });
  const server = createRegistryServer(service);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(flags.port), flags.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : Number(flags.port);
  print(`listening on http://${flags.host}:${port}`);
  log.info('registry server started', { db: db.location, port });
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await db.close();
}

/**
 * Registers `drivegate ui`: the control-plane server. Today it serves the registry REST API (with
 * its OpenAPI document at /openapi.json); the console will be served from the same server.
 */
export function registerUi(program: Command): void {
  addServeOptions(program.command('ui'))
    .description(
      'Serve the control plane: the registry REST API (OpenAPI at /openapi.json); the console later.',
    )
    .addHelpText(
      'after',
      '\nExample:\n  drivegate ui --port 8470\n  curl http://127.0.0.1:8470/openapi.json\n',
    )
    .action(serveRegistry);
}
