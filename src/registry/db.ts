/**
 * The registry database: Kysely over SQLite (better-sqlite3, the default: a file in the workspace) or
 * PostgreSQL (`postgres://` URLs, through `pg`). The schema is created by migrations written in code
 * (Kysely's Migrator), identical on both. Every write runs in `writeTx`, which serializes writers
 * (SQLite `BEGIN IMMEDIATE`; PostgreSQL a transaction-scoped advisory lock), so read-check-write
 * sequences inside one are atomic and safe under concurrent processes.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type { Migration, MigrationProvider, Transaction } from 'kysely';
import pg from 'pg';
import { DrivegateError } from '../core/errors.js';
import type { RegistryTables } from './schema.js';

/** The Kysely handle of a registry database. */
export type RegistryKysely = Kysely<RegistryTables>;

/** An opened registry database. */
export interface RegistryDb {
  /** The Kysely handle (reads may use it directly; writes go through writeTx). */
  db: RegistryKysely;
  /** 'sqlite' or 'postgres'. */
  dialect: 'sqlite' | 'postgres';
  /** The location, with any password removed (for messages). */
  location: string;
  /**
   * Runs `fn` in a write transaction that no other writer (in any process) runs beside: it sees the
   * latest committed state and commits all of its changes or none.
   */
  writeTx<T>(fn: (trx: RegistryKysely) => Promise<T>): Promise<T>;
  /** Closes the connections. */
  close(): Promise<void>;
}

/** The advisory lock key that serializes registry writers on PostgreSQL ("DGREG"). */
const PG_WRITE_LOCK = 0x4447524547;

const migrations: Record<string, Migration> = {
  '0001_registry': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('users')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('user_roles')
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('granted_at', 'text', (c) => c.notNull())
        .addColumn('granted_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('user_roles_pk', ['user_name', 'role'])
        .execute();
      await db.schema
        .createTable('tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema
        .createTable('models')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('task', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('versions')
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('major', 'integer', (c) => c.notNull())
        .addColumn('minor', 'integer', (c) => c.notNull())
        .addColumn('patch', 'integer', (c) => c.notNull())
        .addColumn('prerelease', 'text', (c) => c.notNull())
        .addColumn('pack_digest', 'text', (c) => c.notNull().unique())
        .addColumn('manifest', 'text', (c) => c.notNull())
        .addColumn('pointers', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('pack_location', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('versions_pk', ['model', 'version'])
        .execute();
      await db.schema
        .createTable('reports')
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('verdict', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('attached_at', 'text', (c) => c.notNull())
        .addColumn('attached_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('reports_pk', ['model', 'version', 'digest'])
        .execute();
      await db.schema
        .createTable('tags')
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('tag', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('tags_pk', ['model', 'version', 'tag'])
        .execute();
      await db.schema
        .createTable('aliases')
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('alias', 'text', (c) => c.notNull())
        .addColumn('version', 'text')
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('aliases_pk', ['model', 'alias'])
        .execute();
      await db.schema
        .createTable('alias_events')
        .addColumn('seq', 'integer', (c) => c.primaryKey())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('alias', 'text', (c) => c.notNull())
        .addColumn('from_version', 'text')
        .addColumn('to_version', 'text')
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('transition', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('alias_events_model_alias_at')
        .on('alias_events')
        .columns(['model', 'alias', 'at'])
        .execute();
      await db.schema
        .createTable('approvals')
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('comment', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('approvals_pk', ['model', 'version', 'role', 'user_name'])
        .execute();
      await db.schema
        .createTable('waivers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('vuln', 'text', (c) => c.notNull())
        .addColumn('justification', 'text', (c) => c.notNull())
        .addColumn('approver', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('audit')
        .addColumn('seq', 'integer', (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
    },
  },
};

migrations['0002_audit_scope'] = {
  // What an audit entry is about, for read caches: '' (users, tokens), 'MODEL@VERSION' or 'MODEL@*'
  // (a change to every version's view, e.g. alias moves). Derived from the payload; not hashed.
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('audit')
      .addColumn('scope', 'text', (c) => c.notNull().defaultTo(''))
      .execute();
    await db.schema.createIndex('audit_scope_seq').on('audit').columns(['scope', 'seq']).execute();
  },
};

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };

/** True when `location` names a PostgreSQL database. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** The location without a password (for messages and logs). */
export function redactLocation(location: string): string {
  return location.replace(/^(postgres(?:ql)?:\/\/[^:/@]+):[^@]*@/i, '$1:***@');
}

/**
 * Opens (and migrates) the registry database at `location`: a SQLite file path (its folder is
 * created), `:memory:`, or a `postgres://user@host:port/db` URL. A `?schema=NAME` parameter on a
 * PostgreSQL URL puts the registry's tables in that schema (created when missing).
 */
export async function openRegistryDb(location: string): Promise<RegistryDb> {
  const shown = redactLocation(location);
  let db: RegistryKysely;
  let dialect: RegistryDb['dialect'];
  let schema: string | undefined;
  if (isPostgresUrl(location)) {
    dialect = 'postgres';
    const url = new URL(location);
    schema = url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new DrivegateError('BAD_INPUT', 'invalid schema name in the database URL', {
        field: 'registry.db',
        expected: 'schema=<lowercase letters, digits, _>',
        found: JSON.stringify(schema),
      });
    }
    const pool = new pg.Pool({
      connectionString: url.href,
      max: 8,
      ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
    });
    pool.on('error', () => undefined); // an idle client's error surfaces on its next query
    db = new Kysely<RegistryTables>({ dialect: new PostgresDialect({ pool }) });
    if (schema !== undefined) {
      await sql`create schema if not exists ${sql.id(schema)}`.execute(db).catch((err: unknown) => {
        throw unavailable(shown, err);
      });
    }
  } else {
    dialect = 'sqlite';
    if (location !== ':memory:') mkdirSync(dirname(location), { recursive: true });
    let handle: Database.Database;
    try {
      handle = new Database(location);
      handle.pragma('journal_mode = WAL');
      handle.pragma('synchronous = NORMAL');
      handle.pragma('busy_timeout = 10000');
      handle.pragma('foreign_keys = ON');
    } catch (err) {
      throw unavailable(shown, err);
    }
    // Kysely's SQLite driver prepares every query; a statement cache by SQL text removes that cost
    // (the registry's queries are a small fixed set; statements run synchronously, one at a time).
    const statements = new Map<string, Database.Statement>();
    const sqlite = handle;
    const database = {
      close: (): void => {
        sqlite.close();
      },
      prepare: (text: string): Database.Statement => {
        let stmt = statements.get(text);
        if (stmt === undefined) {
          stmt = sqlite.prepare(text);
          if (statements.size >= 1000) statements.clear();
          statements.set(text, stmt);
        }
        return stmt;
      },
    };
    db = new Kysely<RegistryTables>({ dialect: new SqliteDialect({ database }) });
  }
  const migrator = new Migrator({
    db,
    provider,
    ...(dialect === 'postgres' ? { migrationTableSchema: schema ?? 'public' } : {}),
  });
  const result = await migrateWithLock(migrator);
  if (result.error !== undefined) {
    await db.destroy();
    throw unavailable(shown, result.error);
  }
  return {
    db,
    dialect,
    location: shown,
    writeTx: (fn) => writeTx(db, dialect, fn),
    close: () => db.destroy(),
  };
}

async function migrateWithLock(migrator: Migrator): Promise<{ error?: unknown }> {
  // Kysely's Migrator locks (PostgreSQL) or runs in a transaction (SQLite). Two processes opening a
  // fresh database at once can still collide on creating the migration tables; the loser retries and
  // then finds the schema up to date.
  let last: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const r = await migrator.migrateToLatest();
      if (r.error === undefined) return {};
      last = r.error;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
  }
  return { error: last };
}

function unavailable(location: string, err: unknown): DrivegateError {
  const message = err instanceof Error ? err.message : String(err);
  return new DrivegateError('UNAVAILABLE', `cannot open the registry database: ${message}`, {
    file: location,
    cause: err,
  });
}

/** True when an error is SQLite's "database is locked/busy" (a writer that did not get the lock). */
function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

async function writeTx<T>(
  db: RegistryKysely,
  dialect: RegistryDb['dialect'],
  fn: (trx: RegistryKysely) => Promise<T>,
): Promise<T> {
  return db.connection().execute(async (conn) => {
    try {
      if (dialect === 'sqlite') await sql`begin immediate`.execute(conn);
      else {
        await sql`begin`.execute(conn);
        await sql`select pg_advisory_xact_lock(${PG_WRITE_LOCK}::bigint)`.execute(conn);
      }
    } catch (err) {
      if (dialect === 'postgres') await sql`rollback`.execute(conn).catch(() => undefined);
      if (isBusy(err)) {
        throw new DrivegateError('CONFLICT', 'the registry is busy with another writer; try again', {
          cause: err,
        });
      }
      throw err;
    }
    try {
      const result = await fn(conn as unknown as Transaction<RegistryTables>);
      await sql`commit`.execute(conn);
      return result;
    } catch (err) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}
