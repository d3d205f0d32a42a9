/**
 * The registry service: the one layer every caller goes through (the CLI in local mode, the REST
 * server). Each operation takes the acting principal, checks its role, reads or writes the database
 * (writes in one serialized transaction that also appends the audit entry), and returns plain JSON
 * data. Promotions and rollbacks are computed as plans (policy.ts) and applied only when the aliases
 * they move still point where the plan saw them (CONFLICT otherwise).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { canonicalJson, sha256 } from '../core/digest.js';
import { DrivegateError, badInput } from '../core/errors.js';
import type { ArtifactStore } from '../store/types.js';
import { normalizeDigest } from '../store/types.js';
import { GENESIS_HASH, auditEntryHash, verifyAuditChain } from './audit.js';
import type { AuditEntry, AuditVerdict } from './audit.js';
import type { RegistryDb, RegistryKysely } from './db.js';
import { parsePackManifest, readReportFacts, verifyPackFiles, isFolder } from './pack.js';
import type { IntegrityResult, PackManifest } from './pack.js';
import { ALIASES, DEFAULT_POLICY, ROLES, STAGES, planPromotion, planRollback } from './policy.js';
import type { Alias, Policy, Role, Stage, TransitionPlan } from './policy.js';
import { compareSemver, parseSemver } from './semver.js';

/** Who is acting: a user and the roles they act with. */
export interface Principal {
  user: string;
  roles: Role[];
  /** 'token' over HTTP or with a token; 'local' for the CLI on the database itself. */
  via: 'token' | 'local';
}

/** Options of the service. */
export interface RegistryServiceOptions {
  /** The artifact store (pack files, manifests and reports by digest); optional. */
  store?: ArtifactStore | undefined;
  /** The promotion policy; default DEFAULT_POLICY. */
  policy?: Policy;
  /** The clock (tests). */
  now?: () => Date;
  /** Called inside a transition's transaction after its writes, before commit (crash tests). */
  beforeCommit?: () => Promise<void>;
}

/** Where a pack being registered comes from. */
export interface RegisterInput {
  /** The manifest.json bytes. */
  manifest: Buffer;
  /** Names the manifest in errors. */
  file: string;
  /** The pack folder, when registering from one (its files are re-hashed now and before promotions). */
  folder?: string | undefined;
  /** The pack's files and manifest are in the store. */
  inStore?: boolean;
  /** Extra store URIs to record. */
  storeUris?: string[];
}

/** A version as shown. */
export interface VersionView {
  model: string;
  task: string;
  version: string;
  aliases: string[];
  tags: string[];
  pack_digest: string;
  pointers: Record<string, unknown>;
  targets: string[];
  latency_budgets_ms: Record<string, unknown>;
  calibration_cache_version: string | null;
  performance: Record<string, unknown>;
  slices: unknown[];
  vulnerabilities: Array<{ id: string; severity: string }>;
  reports: Array<{ kind: string; digest: string; verdict: string; attached_at: string; attached_by: string }>;
  approvals: Array<{ role: string; user: string; comment: string; at: string }>;
  waivers: Array<{
    id: string;
    vuln: string;
    justification: string;
    approver: string;
    expires_at: string;
    expired: boolean;
  }>;
  created_at: string;
  created_by: string;
}

/** A model as shown: its aliases and versions (newest first). */
export interface ModelView {
  model: string;
  task: string;
  aliases: Partial<Record<Alias, string | null>>;
  versions: Array<{
    version: string;
    aliases: string[];
    tags: string[];
    pack_digest: string;
    created_at: string;
    verdicts: Record<string, string>;
  }>;
}

/** One alias move as history shows it. */
export interface AliasEvent {
  seq: number;
  model: string;
  alias: string;
  from: string | null;
  to: string | null;
  at: string;
  actor: string;
  transition: string;
  reason: string;
}

/** Who may do which write (approve is checked against the approval role itself). */
const WRITERS = {
  register: ['admin', 'technical'],
  attach: ['admin', 'technical'],
  tag: ['admin', 'technical', 'safety', 'security', 'product'],
  waive: ['admin', 'security', 'safety'],
  audit: ['admin', 'security'],
  tokens: ['admin'],
} as const satisfies Record<string, readonly Role[]>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const TAG = /^[A-Za-z0-9][A-Za-z0-9._:=/+-]{0,127}$/;

/** Checks a user name (letters, digits, ._@-). */
export function validateUserName(user: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/.test(user)) {
    throw badInput('invalid user name', {
      field: 'user',
      expected: 'letters, digits and ._@- (starting with a letter or digit)',
      found: JSON.stringify(user),
    });
  }
  return user;
}

/** Checks a role name. */
export function validateRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) {
    throw badInput('unknown role', {
      field: 'role',
      expected: `one of ${ROLES.join(', ')}`,
      found: JSON.stringify(role),
    });
  }
  return role as Role;
}

/** Parses `MODEL@VERSION` (version optional unless `needVersion`). */
export function parseRef(text: string, needVersion = true): { model: string; version?: string } {
  const at = text.indexOf('@');
  const model = at < 0 ? text : text.slice(0, at);
  const version = at < 0 ? undefined : text.slice(at + 1);
  if (!NAME.test(model) || (needVersion && version === undefined)) {
    throw badInput('invalid model reference', {
      field: 'MODEL@VERSION',
      expected: needVersion ? 'MODEL@VERSION, e.g. det-small@1.2.0' : 'MODEL or MODEL@VERSION',
      found: JSON.stringify(text),
    });
  }
  if (version !== undefined) parseSemver(version);
  return version === undefined ? { model } : { model, version };
}

function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

function isoOrThrow(text: string, field: string): string {
  const t = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(t)) {
    throw badInput('not a date', {
      field,
      expected: 'an ISO-8601 date or time, e.g. 2026-12-31 or 2026-12-31T23:59:59Z',
      found: JSON.stringify(text),
    });
  }
  return new Date(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T23:59:59.999Z` : text).toISOString();
}

/** The registry service (see the file comment). */
export class RegistryService {
  readonly db: RegistryDb;
  readonly store: ArtifactStore | undefined;
  readonly policy: Policy;
  private readonly clock: () => Date;
  private readonly beforeCommit: (() => Promise<void>) | undefined;
  private readonly cache = new Map<string, { gen: number; value: unknown }>();

  constructor(db: RegistryDb, options: RegistryServiceOptions = {}) {
    this.db = db;
    this.store = options.store;
    this.policy = options.policy ?? DEFAULT_POLICY;
    this.clock = options.now ?? (() => new Date());
    this.beforeCommit = options.beforeCommit;
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /** Closes the database. */
  close(): Promise<void> {
    return this.db.close();
  }

  // ---- principals and tokens -------------------------------------------------------------------

  /** The principal of a local user (the CLI on the database): the user with every role they hold. */
  async localPrincipal(user: string): Promise<Principal> {
    validateUserName(user);
    const rows = await this.db.db
      .selectFrom('user_roles')
      .select('role')
      .where('user_name', '=', user)
      .execute();
    return { user, roles: rows.map((r) => r.role as Role).sort(), via: 'local' };
  }

  /** The principal of an API token (UNAUTHORIZED when unknown, revoked, or its role was taken away). */
  async authenticate(token: string | undefined): Promise<Principal> {
    if (token === undefined || token === '') {
      throw new DrivegateError('UNAUTHORIZED', 'a token is required', {
        expected: 'Authorization: Bearer <token>',
      });
    }
    const gen = await this.generation(['']);
    const key = `t\u0000${sha256(token)}`;
    const hit = this.cacheGet<Principal>(key, gen);
    if (hit !== undefined) return hit;
    const row = await this.db.db
      .selectFrom('tokens')
      .innerJoin('user_roles', (j) =>
        j.onRef('user_roles.user_name', '=', 'tokens.user_name').onRef('user_roles.role', '=', 'tokens.role'),
      )
      .select(['tokens.user_name', 'tokens.role', 'tokens.revoked_at'])
      .where('tokens.token_hash', '=', sha256(token))
      .executeTakeFirst();
    if (row === undefined || row.revoked_at !== null) {
      throw new DrivegateError('UNAUTHORIZED', 'unknown or revoked token');
    }
    const principal: Principal = { user: row.user_name, roles: [row.role as Role], via: 'token' };
    this.cacheSet(key, gen, principal);
    return principal;
  }

  /**
   * The generation of some scopes: the sequence number of the newest audit entry about them. Every
   * change appends an audit entry in its own transaction, so an unchanged generation means unchanged
   * data; read caches are keyed by it (one indexed query instead of a dozen).
   */
  private async generation(scopes: string[]): Promise<number> {
    const r = await this.db.db
      .selectFrom('audit')
      .select((eb) => eb.fn.max('seq').as('g'))
      .where('scope', 'in', scopes)
      .executeTakeFirst();
    return Number(r?.g ?? 0);
  }

  private cacheGet<T>(key: string, gen: number): T | undefined {
    const e = this.cache.get(key);
    return e !== undefined && e.gen === gen ? (e.value as T) : undefined;
  }

  private cacheSet(key: string, gen: number, value: unknown): void {
    if (this.cache.size >= 2000) this.cache.clear();
    this.cache.set(key, { gen, value });
  }

  /**
   * Creates an API token for `user` acting as `role`, granting the role to the user. Needs admin,
   * except `bootstrap` (local mode, which holds the database itself). Returns the token once; only
   * its sha256 is stored.
   */
  async createToken(
    actor: Principal | 'bootstrap',
    user: string,
    role: string,
  ): Promise<{ token: string; user: string; role: Role }> {
    validateUserName(user);
    const r = validateRole(role);
    const by = actor === 'bootstrap' ? 'local-admin' : actor.user;
    if (actor !== 'bootstrap') this.require(actor, WRITERS.tokens, 'create tokens');
    const token = `dg_${randomBytes(32).toString('base64url')}`;
    await this.write(by, 'token.create', { user, role: r, token_sha256: sha256(token) }, async (trx, now) => {
      await this.ensureUser(trx, user, now);
      await trx
        .insertInto('user_roles')
        .values({ user_name: user, role: r, granted_at: now, granted_by: by })
        .onConflict((oc) => oc.columns(['user_name', 'role']).doNothing())
        .execute();
      await trx
        .insertInto('tokens')
        .values({
          token_hash: sha256(token),
          user_name: user,
          role: r,
          created_at: now,
          created_by: by,
          revoked_at: null,
        })
        .execute();
    });
    return { token, user, role: r };
  }

  /** Revokes every token of `user` (admin, or local bootstrap); returns how many were revoked. */
  async revokeTokens(
    actor: Principal | 'bootstrap',
    user: string,
  ): Promise<{ user: string; revoked: number }> {
    validateUserName(user);
    if (actor !== 'bootstrap') this.require(actor, WRITERS.tokens, 'revoke tokens');
    const by = actor === 'bootstrap' ? 'local-admin' : actor.user;
    const revoked = await this.write(
      by,
      'token.revoke',
      { user },
      async (trx, now) => {
        const r = await trx
          .updateTable('tokens')
          .set({ revoked_at: now })
          .where('user_name', '=', user)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return Number(r.numUpdatedRows);
      },
      (n) => ({ revoked: n }),
    );
    return { user, revoked };
  }

  private async ensureUser(trx: RegistryKysely, user: string, now: string): Promise<void> {
    await trx
      .insertInto('users')
      .values({ name: user, created_at: now })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  private require(actor: Principal, roles: readonly Role[], what: string): void {
    if (!actor.roles.some((r) => roles.includes(r))) {
      throw new DrivegateError('FORBIDDEN', `${actor.user} may not ${what}`, {
        expected: `a role of ${roles.join(', ')}`,
        found: actor.roles.length > 0 ? actor.roles.join(', ') : 'no roles',
      });
    }
  }

  private isConsumerOnly(actor: Principal): boolean {
    return actor.roles.length > 0 && actor.roles.every((r) => r === 'consumer');
  }

  private requireReader(actor: Principal): void {
    if (actor.roles.length === 0) {
      throw new DrivegateError('FORBIDDEN', `${actor.user} holds no role and may not read the registry`, {
        expected: `a role of ${ROLES.join(', ')}`,
      });
    }
  }

  // ---- writes with audit -----------------------------------------------------------------------

  /** Runs a write transaction and appends its audit entry (actor, time, action, payload) in it. */
  private async write<T>(
    actor: string,
    action: string,
    payload: unknown,
    fn: (trx: RegistryKysely, now: string) => Promise<T>,
    extraPayload?: (result: T) => unknown,
  ): Promise<T> {
    return this.db.writeTx(async (trx) => {
      const now = this.now();
      const result = await fn(trx, now);
      const full =
        extraPayload === undefined
          ? payload
          : { ...(payload as object), ...(extraPayload(result) as object) };
      await this.appendAudit(trx, actor, action, full, now);
      return result;
    });
  }

  private async appendAudit(
    trx: RegistryKysely,
    actor: string,
    action: string,
    payload: unknown,
    at: string,
  ): Promise<void> {
    const last = await trx
      .selectFrom('audit')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    const entry = {
      at,
      actor,
      action,
      payload: canonicalJson(payload ?? null),
      prev_hash: last?.hash ?? GENESIS_HASH,
    };
    await trx
      .insertInto('audit')
      .values({
        ...entry,
        seq: (last?.seq ?? 0) + 1,
        hash: auditEntryHash(entry),
        scope: auditScope(action, payload),
      })
      .execute();
  }

  // ---- register and attach ---------------------------------------------------------------------

  /**
   * Registers a pack as a model version. The version's pointers and facts come from the manifest;
   * registering the same pack again returns the existing version, while another pack under an
   * existing version is a CONFLICT (versions are immutable). With a folder, its files are re-hashed
   * first (INTEGRITY when any differs, nothing registered).
   */
  async register(actor: Principal, input: RegisterInput): Promise<VersionView> {
    this.require(actor, WRITERS.register, 'register versions');
    const { manifest, digest } = parsePackManifest(input.manifest, input.file);
    const semver = parseSemver(manifest.model.version, 'model.version');
    if (input.folder !== undefined) {
      const check = await verifyPackFiles(manifest, { kind: 'folder', path: input.folder }, this.store);
      if (!check.ok) throw integrityError(check, input.file);
    }
    const storeUris = [
      ...(manifest.pointers?.store_uris ?? []),
      ...(input.storeUris ?? []),
      ...(input.inStore === true && this.store !== undefined ? [`${this.store.uri}#${digest}`] : []),
    ];
    const pointers = {
      pack_manifest: digest,
      store_uris: [...new Set(storeUris)],
      oci_image: manifest.pointers?.oci_image ?? null,
      git_sha: manifest.pointers?.git_sha ?? null,
      dataset: manifest.pointers?.dataset ?? null,
      training_run: manifest.pointers?.training_run ?? null,
    };
    const summary = {
      targets: manifest.targets ?? [],
      latency_budgets_ms: manifest.latency_budgets_ms ?? {},
      calibration_cache_version: manifest.calibration_cache_version ?? null,
      performance: manifest.performance ?? {},
      vulnerabilities: (manifest.vulnerabilities ?? []).map((v) => ({ id: v.id, severity: v.severity })),
    };
    const location = { folder: input.folder ?? null, store: input.inStore === true };
    const model = manifest.model.name;
    const version = manifest.model.version;
    const created = await this.write(
      actor.user,
      'version.register',
      { model, version, task: manifest.model.task, pack_digest: digest },
      async (trx, now) => {
        const existing = await trx
          .selectFrom('versions')
          .select(['pack_digest', 'model', 'version'])
          .where((eb) =>
            eb.or([
              eb.and([eb('model', '=', model), eb('version', '=', version)]),
              eb('pack_digest', '=', digest),
            ]),
          )
          .execute();
        for (const e of existing) {
          if (e.pack_digest === digest && e.model === model && e.version === version) return false;
          throw new DrivegateError(
            'CONFLICT',
            `${e.model}@${e.version} is already registered with ${e.pack_digest === digest ? 'this pack' : 'another pack'}`,
            {
              file: input.file,
              expected: 'a new version (registered versions are immutable)',
              found: `${e.model}@${e.version} -> ${e.pack_digest}`,
            },
          );
        }
        const m = await trx.selectFrom('models').select('task').where('name', '=', model).executeTakeFirst();
        if (m === undefined) {
          await trx
            .insertInto('models')
            .values({ name: model, task: manifest.model.task, created_at: now, created_by: actor.user })
            .execute();
        } else if (m.task !== manifest.model.task) {
          throw badInput('the model exists with another task', {
            file: input.file,
            field: 'model.task',
            expected: m.task,
            found: manifest.model.task,
          });
        }
        await trx
          .insertInto('versions')
          .values({
            model,
            version,
            major: semver.major,
            minor: semver.minor,
            patch: semver.patch,
            prerelease: semver.prerelease,
            pack_digest: digest,
            manifest: input.manifest.toString('utf8'),
            pointers: canonicalJson(pointers),
            summary: canonicalJson(summary),
            pack_location: canonicalJson(location),
            created_at: now,
            created_by: actor.user,
          })
          .execute();
        return true;
      },
    ).catch((err: unknown) => {
      throw err;
    });
    void created;
    return this.showVersion(actor, model, version);
  }

  /**
   * Attaches a report to a version by digest. With `bytes`, the report is stored (when there is a
   * store) and its digest computed; `expectedDigest`, when given, must match. With only a digest,
   * the report is read from the store, verified (INTEGRITY when the stored content does not match).
   */
  async attachReport(
    actor: Principal,
    model: string,
    version: string,
    input: { bytes?: Buffer; digest?: string; file?: string; kind?: string },
  ): Promise<VersionView> {
    this.require(actor, WRITERS.attach, 'attach reports');
    let bytes = input.bytes;
    let digest: string;
    const file = input.file ?? 'report';
    if (bytes === undefined) {
      if (input.digest === undefined) throw badInput('give a report file or digest', { field: 'report' });
      digest = normalizeDigest(input.digest);
      if (this.store === undefined) {
        throw new DrivegateError('UNAVAILABLE', 'no artifact store to read the report from', {
          field: 'report',
        });
      }
      if (!(await this.store.has(digest))) {
        throw new DrivegateError('NOT_FOUND', 'no report with this digest in the store', {
          field: 'report',
          found: digest,
        });
      }
      bytes = await this.store.get(digest);
    } else {
      digest = `sha256:${sha256(bytes)}`;
      if (input.digest !== undefined && normalizeDigest(input.digest) !== digest) {
        throw new DrivegateError('INTEGRITY', 'the report does not match its digest', {
          file,
          expected: normalizeDigest(input.digest),
          found: digest,
        });
      }
      if (this.store !== undefined) await this.store.put(bytes, { expectedDigest: digest });
    }
    const facts = readReportFacts(bytes, file, input.kind);
    await this.write(
      actor.user,
      'report.attach',
      { model, version, digest, kind: facts.kind, verdict: facts.verdict },
      async (trx, now) => {
        await this.requireVersion(trx, model, version);
        await trx
          .insertInto('reports')
          .values({
            model,
            version,
            digest,
            kind: facts.kind,
            verdict: facts.verdict,
            summary: canonicalJson(facts.summary),
            attached_at: now,
            attached_by: actor.user,
          })
          .onConflict((oc) => oc.columns(['model', 'version', 'digest']).doNothing())
          .execute();
      },
    );
    return this.showVersion(actor, model, version);
  }

  private async requireVersion(trx: RegistryKysely, model: string, version: string): Promise<void> {
    const v = await trx
      .selectFrom('versions')
      .select('version')
      .where('model', '=', model)
      .where('version', '=', version)
      .executeTakeFirst();
    if (v === undefined) {
      const m = await trx.selectFrom('models').select('name').where('name', '=', model).executeTakeFirst();
      throw new DrivegateError(
        'NOT_FOUND',
        m === undefined ? `no model named ${model}` : `${model} has no version ${version}`,
        {
          field: m === undefined ? 'model' : 'version',
          found: `${model}@${version}`,
        },
      );
    }
  }

  // ---- reads --------------------------------------------------------------------------------------

  private async aliasesOf(db: RegistryKysely, model: string): Promise<Partial<Record<Alias, string | null>>> {
    const rows = await db
      .selectFrom('aliases')
      .select(['alias', 'version'])
      .where('model', '=', model)
      .execute();
    const out: Partial<Record<Alias, string | null>> = {};
    for (const r of rows) out[r.alias as Alias] = r.version;
    return out;
  }

  /** Every model with its aliases (a consumer sees only models that have a production version). */
  async list(
    actor: Principal,
  ): Promise<
    Array<{ model: string; task: string; versions: number; aliases: Partial<Record<Alias, string | null>> }>
  > {
    this.requireReader(actor);
    const models = await this.db.db.selectFrom('models').select(['name', 'task']).orderBy('name').execute();
    const counts = await this.db.db
      .selectFrom('versions')
      .select((eb) => ['model', eb.fn.countAll<number>().as('n')])
      .groupBy('model')
      .execute();
    const aliases = await this.db.db.selectFrom('aliases').select(['model', 'alias', 'version']).execute();
    const out = models.map((m) => {
      const a: Partial<Record<Alias, string | null>> = {};
      for (const r of aliases) if (r.model === m.name && r.version !== null) a[r.alias as Alias] = r.version;
      return {
        model: m.name,
        task: m.task,
        versions: Number(counts.find((c) => c.model === m.name)?.n ?? 0),
        aliases: a,
      };
    });
    if (this.isConsumerOnly(actor)) {
      return out
        .filter((m) => typeof m.aliases.production === 'string')
        .map((m) => ({
          model: m.model,
          task: m.task,
          versions: 1,
          aliases: { production: m.aliases.production ?? null },
        }));
    }
    return out;
  }

  /** A model, its aliases and versions, newest first (a consumer sees the production version only). */
  async showModel(actor: Principal, model: string): Promise<ModelView> {
    this.requireReader(actor);
    const m = await this.db.db
      .selectFrom('models')
      .select(['name', 'task'])
      .where('name', '=', model)
      .executeTakeFirst();
    if (m === undefined)
      throw new DrivegateError('NOT_FOUND', `no model named ${model}`, { field: 'model', found: model });
    const aliases = await this.aliasesOf(this.db.db, model);
    const versions = await this.db.db
      .selectFrom('versions')
      .select(['version', 'major', 'minor', 'patch', 'prerelease', 'pack_digest', 'created_at'])
      .where('model', '=', model)
      .execute();
    const tags = await this.db.db
      .selectFrom('tags')
      .select(['version', 'tag'])
      .where('model', '=', model)
      .orderBy('tag')
      .execute();
    const reports = await this.db.db
      .selectFrom('reports')
      .select(['version', 'kind', 'verdict', 'attached_at'])
      .where('model', '=', model)
      .orderBy('attached_at')
      .execute();
    versions.sort((a, b) => -compareSemver({ ...a, text: a.version }, { ...b, text: b.version }));
    let list = versions.map((v) => {
      const verdicts: Record<string, string> = {};
      for (const r of reports) if (r.version === v.version) verdicts[r.kind] = r.verdict;
      return {
        version: v.version,
        aliases: ALIASES.filter((a) => aliases[a] === v.version),
        tags: tags.filter((t) => t.version === v.version).map((t) => t.tag),
        pack_digest: v.pack_digest,
        created_at: v.created_at,
        verdicts,
      };
    });
    let shownAliases = aliases;
    if (this.isConsumerOnly(actor)) {
      list = list
        .filter((v) => v.version === aliases.production)
        .map((v) => ({ ...v, aliases: ['production'] }));
      shownAliases = aliases.production !== undefined ? { production: aliases.production } : {};
      if (list.length === 0)
        throw new DrivegateError('NOT_FOUND', `${model} has no production version`, { field: 'model' });
    }
    return { model: m.name, task: m.task, aliases: shownAliases, versions: list };
  }

  /** One version with everything known about it (a consumer may read the production version only). */
  async showVersion(actor: Principal, model: string, version: string): Promise<VersionView> {
    this.requireReader(actor);
    const gen = await this.generation([`${model}@${version}`, `${model}@*`]);
    const key = `v\u0000${model}\u0000${version}`;
    let snap = this.cacheGet<{ view: VersionView; production: string | null }>(key, gen);
    if (snap === undefined) {
      snap = await this.loadVersion(model, version);
      this.cacheSet(key, gen, snap);
    }
    const aliases = { production: snap.production };
    if (this.isConsumerOnly(actor) && aliases.production !== version) {
      throw new DrivegateError(
        'FORBIDDEN',
        `a consumer may read production versions only; ${model}@${version} is not production`,
        {
          expected: `${model}@${aliases.production ?? '(no production version)'}`,
        },
      );
    }
    const now = this.now();
    return { ...snap.view, waivers: snap.view.waivers.map((w) => ({ ...w, expired: w.expires_at <= now })) };
  }

  /** Reads everything about a version (what showVersion caches per generation). */
  private async loadVersion(
    model: string,
    version: string,
  ): Promise<{ view: VersionView; production: string | null }> {
    const db = this.db.db;
    const v = await db
      .selectFrom('versions')
      .selectAll()
      .where('model', '=', model)
      .where('version', '=', version)
      .executeTakeFirst();
    if (v === undefined) {
      await this.requireVersion(db, model, version);
      throw new DrivegateError('INTERNAL', 'version vanished');
    }
    const aliases = await this.aliasesOf(db, model);
    const [m, tags, reports, approvals, waivers] = await Promise.all([
      db.selectFrom('models').select('task').where('name', '=', model).executeTakeFirstOrThrow(),
      db
        .selectFrom('tags')
        .select('tag')
        .where('model', '=', model)
        .where('version', '=', version)
        .orderBy('tag')
        .execute(),
      db
        .selectFrom('reports')
        .selectAll()
        .where('model', '=', model)
        .where('version', '=', version)
        .orderBy('attached_at')
        .execute(),
      db
        .selectFrom('approvals')
        .selectAll()
        .where('model', '=', model)
        .where('version', '=', version)
        .orderBy('at')
        .execute(),
      db
        .selectFrom('waivers')
        .selectAll()
        .where('model', '=', model)
        .where('version', '=', version)
        .orderBy('created_at')
        .execute(),
    ]);
    const summary = parseJson<{
      targets: string[];
      latency_budgets_ms: Record<string, unknown>;
      calibration_cache_version: string | null;
      performance: Record<string, unknown>;
      vulnerabilities: Array<{ id: string; severity: string }>;
    }>(v.summary);
    const latestEval = [...reports].reverse().find((r) => r.kind === 'eval');
    const evalSummary =
      latestEval === undefined ? undefined : parseJson<Record<string, unknown>>(latestEval.summary);
    const view: VersionView = {
      model,
      task: m.task,
      version,
      aliases: ALIASES.filter((a) => aliases[a] === version),
      tags: tags.map((t) => t.tag),
      pack_digest: v.pack_digest,
      pointers: parseJson<Record<string, unknown>>(v.pointers),
      targets: summary.targets,
      latency_budgets_ms: summary.latency_budgets_ms,
      calibration_cache_version: summary.calibration_cache_version,
      performance: {
        ...summary.performance,
        ...(evalSummary !== undefined
          ? {
              eval: {
                report: latestEval?.digest,
                map: evalSummary['map'] ?? null,
                map50: evalSummary['map50'] ?? null,
                ece: evalSummary['ece'] ?? null,
                latency_p95_ms: evalSummary['latency_p95_ms'] ?? null,
              },
            }
          : {}),
      },
      slices: Array.isArray(evalSummary?.['slices']) ? (evalSummary['slices'] as unknown[]) : [],
      vulnerabilities: summary.vulnerabilities,
      reports: reports.map((r) => ({
        kind: r.kind,
        digest: r.digest,
        verdict: r.verdict,
        attached_at: r.attached_at,
        attached_by: r.attached_by,
      })),
      approvals: approvals.map((a) => ({ role: a.role, user: a.user_name, comment: a.comment, at: a.at })),
      waivers: waivers.map((w) => ({
        id: w.id,
        vuln: w.vuln,
        justification: w.justification,
        approver: w.approver,
        expires_at: w.expires_at,
        expired: false,
      })),
      created_at: v.created_at,
      created_by: v.created_by,
    };
    return { view, production: aliases.production ?? null };
  }

  // ---- tags, approvals, waivers ------------------------------------------------------------------

  /** Adds a tag to a version (idempotent). */
  async tag(actor: Principal, model: string, version: string, tag: string): Promise<VersionView> {
    this.require(actor, WRITERS.tag, 'tag versions');
    if (!TAG.test(tag))
      throw badInput('invalid tag', {
        field: 'tag',
        expected: 'letters, digits and ._:=/+- (at most 128)',
        found: JSON.stringify(tag),
      });
    await this.write(actor.user, 'version.tag', { model, version, tag }, async (trx, now) => {
      await this.requireVersion(trx, model, version);
      await trx
        .insertInto('tags')
        .values({ model, version, tag, created_at: now, created_by: actor.user })
        .onConflict((oc) => oc.columns(['model', 'version', 'tag']).doNothing())
        .execute();
    });
    return this.showVersion(actor, model, version);
  }

  /** Records an approval of a version in `role`; the actor must hold that role (FORBIDDEN otherwise). */
  async approve(
    actor: Principal,
    model: string,
    version: string,
    role: string,
    comment = '',
  ): Promise<VersionView> {
    const r = validateRole(role);
    if (!['technical', 'safety', 'security', 'product'].includes(r)) {
      throw badInput('not an approval role', {
        field: 'role',
        expected: 'technical, safety, security or product',
        found: r,
      });
    }
    if (!actor.roles.includes(r)) {
      throw new DrivegateError('FORBIDDEN', `${actor.user} does not hold the ${r} role`, {
        expected: `a user holding ${r}`,
        found: actor.roles.join(', ') || 'no roles',
      });
    }
    await this.write(
      actor.user,
      'version.approve',
      { model, version, role: r, comment },
      async (trx, now) => {
        await this.requireVersion(trx, model, version);
        await trx
          .insertInto('approvals')
          .values({ model, version, role: r, user_name: actor.user, comment, at: now })
          .onConflict((oc) =>
            oc.columns(['model', 'version', 'role', 'user_name']).doUpdateSet({ comment, at: now }),
          )
          .execute();
      },
    );
    return this.showVersion(actor, model, version);
  }

  /** Records a vulnerability waiver (justification, approver = the actor, expiry in the future). */
  async addWaiver(
    actor: Principal,
    model: string,
    version: string,
    input: { vuln: string; justification: string; expires: string },
  ): Promise<VersionView> {
    this.require(actor, WRITERS.waive, 'waive vulnerabilities');
    if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(input.vuln)) {
      throw badInput('invalid vulnerability id', {
        field: 'vuln',
        expected: 'an id such as CVE-2026-1234 or GHSA-xxxx',
        found: JSON.stringify(input.vuln),
      });
    }
    if (input.justification.trim().length < 10) {
      throw badInput('a waiver needs a justification', {
        field: 'justification',
        expected: 'at least 10 characters',
        found: JSON.stringify(input.justification),
      });
    }
    const expires = isoOrThrow(input.expires, 'expires');
    const now = this.now();
    if (expires <= now) {
      throw badInput('the waiver would already be expired', {
        field: 'expires',
        expected: `a time after ${now}`,
        found: expires,
      });
    }
    const id = randomUUID();
    await this.write(
      actor.user,
      'waiver.add',
      { id, model, version, vuln: input.vuln, justification: input.justification, expires_at: expires },
      async (trx, at) => {
        await this.requireVersion(trx, model, version);
        await trx
          .insertInto('waivers')
          .values({
            id,
            model,
            version,
            vuln: input.vuln,
            justification: input.justification,
            approver: actor.user,
            expires_at: expires,
            created_at: at,
          })
          .execute();
      },
    );
    return this.showVersion(actor, model, version);
  }

  // ---- integrity, plans, transitions ---------------------------------------------------------------

  /** Re-hashes a version's pack files wherever they are (folder and/or store); null when nowhere. */
  async checkIntegrity(model: string, version: string): Promise<IntegrityResult | null> {
    const v = await this.db.db
      .selectFrom('versions')
      .select(['manifest', 'pack_location', 'pack_digest'])
      .where('model', '=', model)
      .where('version', '=', version)
      .executeTakeFirst();
    if (v === undefined) return null;
    const manifest: PackManifest = parsePackManifest(v.manifest, `${model}@${version} manifest`).manifest;
    if (`sha256:${sha256(v.manifest)}` !== v.pack_digest) {
      return {
        ok: false,
        source: 'registry',
        files: 0,
        bytes: 0,
        problems: [{ path: 'manifest.json', expected: v.pack_digest, found: `sha256:${sha256(v.manifest)}` }],
      };
    }
    const loc = parseJson<{ folder: string | null; store: boolean }>(
      v.pack_location ?? '{"folder":null,"store":false}',
    );
    const results: IntegrityResult[] = [];
    if (loc.folder !== null && (await isFolder(loc.folder))) {
      results.push(await verifyPackFiles(manifest, { kind: 'folder', path: loc.folder }, this.store));
    }
    if (this.store !== undefined && (loc.store || (await this.store.has(v.pack_digest)))) {
      results.push(await verifyPackFiles(manifest, { kind: 'store' }, this.store));
    }
    if (results.length === 0) return null;
    const problems = results.flatMap((r) => r.problems.map((p) => ({ ...p, path: `${r.source}:${p.path}` })));
    return {
      ok: problems.length === 0,
      source: results.map((r) => r.source).join(' + '),
      files: manifest.files.length,
      bytes: results[0]?.bytes ?? 0,
      problems,
    };
  }

  /** The plan of moving MODEL@VERSION to STAGE (nothing is changed). */
  async planStage(actor: Principal, model: string, version: string, stage: string): Promise<TransitionPlan> {
    const s = validateStage(stage);
    await this.requireVersion(this.db.db, model, version);
    const rule = this.policy.stages[s] ?? {};
    const [aliases, reports, approvals, waivers, v] = await Promise.all([
      this.aliasesOf(this.db.db, model),
      this.db.db
        .selectFrom('reports')
        .select(['kind', 'digest', 'verdict', 'attached_at'])
        .where('model', '=', model)
        .where('version', '=', version)
        .execute(),
      this.db.db
        .selectFrom('approvals')
        .select(['role', 'user_name', 'at'])
        .where('model', '=', model)
        .where('version', '=', version)
        .execute(),
      this.db.db
        .selectFrom('waivers')
        .select(['id', 'vuln', 'approver', 'justification', 'expires_at'])
        .where('model', '=', model)
        .where('version', '=', version)
        .execute(),
      this.db.db
        .selectFrom('versions')
        .select('summary')
        .where('model', '=', model)
        .where('version', '=', version)
        .executeTakeFirstOrThrow(),
    ]);
    const integrity = rule.integrity === true ? await this.checkIntegrity(model, version) : null;
    return planPromotion({
      policy: this.policy,
      model,
      version,
      stage: s,
      actor,
      now: this.now(),
      aliases,
      reports,
      approvals: approvals.map((a) => ({ role: a.role, user: a.user_name, at: a.at })),
      vulnerabilities: parseJson<{ vulnerabilities: Array<{ id: string; severity: string }> }>(v.summary)
        .vulnerabilities,
      waivers,
      integrity,
    });
  }

  /** The plan of rolling MODEL back (nothing is changed). */
  async planRollback(actor: Principal, model: string): Promise<TransitionPlan> {
    const m = await this.db.db
      .selectFrom('models')
      .select('name')
      .where('name', '=', model)
      .executeTakeFirst();
    if (m === undefined) throw new DrivegateError('NOT_FOUND', `no model named ${model}`, { field: 'model' });
    const aliases = await this.aliasesOf(this.db.db, model);
    const target = aliases.rollback ?? null;
    const integrity =
      target !== null && this.policy.rollback?.integrity === true
        ? await this.checkIntegrity(model, target)
        : null;
    return planRollback({ policy: this.policy, model, actor, now: this.now(), aliases, integrity });
  }

  /**
   * Moves MODEL@VERSION to STAGE: computes the plan, and unless `dryRun`, applies it atomically.
   * GATE_FAILED (with the plan in details) when a check fails; CONFLICT when another transition moved
   * the aliases after the plan was computed.
   */
  async stage(
    actor: Principal,
    model: string,
    version: string,
    stage: string,
    options: { dryRun?: boolean } = {},
  ): Promise<{ plan: TransitionPlan; applied: boolean }> {
    const plan = await this.planStage(actor, model, version, stage);
    if (options.dryRun === true) return { plan, applied: false };
    await this.applyPlan(plan);
    return { plan, applied: true };
  }

  /** Rolls MODEL back (production <- rollback), as a checked, recorded transition. */
  async rollback(
    actor: Principal,
    model: string,
    options: { dryRun?: boolean } = {},
  ): Promise<{ plan: TransitionPlan; applied: boolean }> {
    const plan = await this.planRollback(actor, model);
    if (options.dryRun === true) return { plan, applied: false };
    await this.applyPlan(plan);
    return { plan, applied: true };
  }

  /** Applies a plan's moves in one transaction if the aliases still point where the plan saw them. */
  async applyPlan(plan: TransitionPlan): Promise<void> {
    if (!plan.allowed) {
      const failed = plan.checks.filter((c) => c.status === 'fail');
      throw new DrivegateError(
        'GATE_FAILED',
        `the policy blocks this transition: ${failed.map((c) => c.rationale).join('; ')}`,
        {
          details: plan,
        },
      );
    }
    const transition = randomUUID();
    await this.write(
      plan.actor,
      plan.kind === 'rollback' ? 'model.rollback' : 'version.stage',
      {
        transition,
        model: plan.model,
        version: plan.version,
        stage: plan.stage,
        moves: plan.moves,
        checks: plan.checks.map((c) => ({ id: c.id, status: c.status })),
      },
      async (trx, now) => {
        const current = await this.aliasesOf(trx, plan.model);
        for (const [alias, want] of Object.entries(plan.expected)) {
          const have = current[alias as Alias] ?? null;
          if (have !== want) {
            throw new DrivegateError(
              'CONFLICT',
              `${plan.model}'s ${alias} moved to ${have ?? 'nothing'} while this transition was planned against ${want ?? 'nothing'}; re-plan and try again`,
              {
                expected: `${alias} = ${want ?? '(none)'}`,
                found: `${alias} = ${have ?? '(none)'}`,
              },
            );
          }
        }
        const last = await trx
          .selectFrom('alias_events')
          .select('seq')
          .orderBy('seq', 'desc')
          .limit(1)
          .executeTakeFirst();
        let seq = last?.seq ?? 0;
        for (const move of plan.moves) {
          const updated = await trx
            .updateTable('aliases')
            .set((eb) => ({ version: move.to, revision: eb('revision', '+', 1), updated_at: now }))
            .where('model', '=', plan.model)
            .where('alias', '=', move.alias)
            .executeTakeFirst();
          if (Number(updated.numUpdatedRows) === 0) {
            await trx
              .insertInto('aliases')
              .values({
                model: plan.model,
                alias: move.alias,
                version: move.to,
                revision: 1,
                updated_at: now,
              })
              .execute();
          }
          seq += 1;
          await trx
            .insertInto('alias_events')
            .values({
              seq,
              model: plan.model,
              alias: move.alias,
              from_version: move.from,
              to_version: move.to,
              at: now,
              actor: plan.actor,
              transition,
              reason: plan.kind === 'rollback' ? 'rollback' : `stage ${plan.version ?? ''} to ${plan.stage}`,
            })
            .execute();
        }
        if (this.beforeCommit !== undefined) await this.beforeCommit();
      },
    );
  }

  // ---- history and audit ------------------------------------------------------------------------

  /**
   * The alias moves of a model, oldest first (optionally of one alias). With `at`, instead: what each
   * alias (or the given one) pointed at, at that time.
   */
  async history(
    actor: Principal,
    model: string,
    options: { alias?: string; at?: string } = {},
  ): Promise<{ events: AliasEvent[]; at?: string; state?: Partial<Record<Alias, string | null>> }> {
    this.requireReader(actor);
    if (this.isConsumerOnly(actor))
      this.require(actor, ['admin', 'technical', 'safety', 'security', 'product'], 'read history');
    if (options.alias !== undefined && !(ALIASES as readonly string[]).includes(options.alias)) {
      throw badInput('unknown alias', {
        field: 'alias',
        expected: `one of ${ALIASES.join(', ')}`,
        found: JSON.stringify(options.alias),
      });
    }
    const m = await this.db.db
      .selectFrom('models')
      .select('name')
      .where('name', '=', model)
      .executeTakeFirst();
    if (m === undefined) throw new DrivegateError('NOT_FOUND', `no model named ${model}`, { field: 'model' });
    let q = this.db.db.selectFrom('alias_events').selectAll().where('model', '=', model);
    if (options.alias !== undefined) q = q.where('alias', '=', options.alias);
    const at = options.at !== undefined ? isoOrThrow(options.at, 'at') : undefined;
    if (at !== undefined) q = q.where('at', '<=', at);
    const rows = await q.orderBy('seq').execute();
    const events: AliasEvent[] = rows.map((r) => ({
      seq: r.seq,
      model: r.model,
      alias: r.alias,
      from: r.from_version,
      to: r.to_version,
      at: r.at,
      actor: r.actor,
      transition: r.transition,
      reason: r.reason,
    }));
    if (at === undefined) return { events };
    const state: Partial<Record<Alias, string | null>> = {};
    for (const e of events) state[e.alias as Alias] = e.to;
    return { events, at, state };
  }

  /** Verifies the audit hash chain; reports the first edited, inserted or deleted entry. */
  async auditVerify(actor: Principal, expectedHead?: string): Promise<AuditVerdict> {
    this.require(actor, WRITERS.audit, 'verify the audit log');
    const rows: AuditEntry[] = await this.db.db.selectFrom('audit').selectAll().orderBy('seq').execute();
    return verifyAuditChain(rows, expectedHead);
  }

  /** The audit log entries (newest last), optionally only after `afterSeq`. */
  async auditLog(actor: Principal, afterSeq = 0, limit = 1000): Promise<AuditEntry[]> {
    this.require(actor, WRITERS.audit, 'read the audit log');
    return this.db.db
      .selectFrom('audit')
      .selectAll()
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
  }
}

/** The audit scope of a change: '' (users, tokens), 'MODEL@VERSION', or 'MODEL@*' (alias moves). */
function auditScope(action: string, payload: unknown): string {
  const p = (payload ?? {}) as { model?: unknown; version?: unknown };
  if (typeof p.model !== 'string') return '';
  if (action === 'version.stage' || action === 'model.rollback' || typeof p.version !== 'string')
    return `${p.model}@*`;
  return `${p.model}@${p.version}`;
}

/** Checks a stage name (staging, candidate, production). */
export function validateStage(stage: string): Stage {
  if (!(STAGES as readonly string[]).includes(stage)) {
    throw badInput('unknown stage', {
      field: 'stage',
      expected: `one of ${STAGES.join(', ')} (rollback is set by promotions; use rollback MODEL)`,
      found: JSON.stringify(stage),
    });
  }
  return stage as Stage;
}

function integrityError(check: IntegrityResult, file: string): DrivegateError {
  const p = check.problems[0];
  return new DrivegateError(
    'INTEGRITY',
    `the pack does not match its manifest (${check.problems.length} of ${check.files} files differ)`,
    {
      file,
      field: p !== undefined ? `files: ${p.path}` : undefined,
      expected: p?.expected,
      found: p?.found,
      details: check,
    },
  );
}
