/**
 * The registry's tables as Kysely sees them (the migrations in db.ts create them). Timestamps are
 * ISO-8601 UTC text (`2026-11-27T10:00:00.000Z`), which sorts by time on both SQLite and PostgreSQL;
 * JSON documents are text holding canonical JSON.
 */
import type { Generated } from 'kysely';

/** A person or service that acts on the registry. */
export interface UsersTable {
  name: string;
  created_at: string;
}

/** A role held by a user. */
export interface UserRolesTable {
  user_name: string;
  role: string;
  granted_at: string;
  granted_by: string;
}

/** An API token: only the sha256 of the secret is stored. */
export interface TokensTable {
  token_hash: string;
  user_name: string;
  role: string;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
}

/** A model (unique name, its task). */
export interface ModelsTable {
  name: string;
  task: string;
  created_at: string;
  created_by: string;
}

/** A version of a model: immutable pointers and the facts taken from its pack. */
export interface VersionsTable {
  model: string;
  version: string;
  major: number;
  minor: number;
  patch: number;
  prerelease: string;
  pack_digest: string;
  manifest: string;
  pointers: string;
  summary: string;
  pack_location: string | null;
  created_at: string;
  created_by: string;
}

/** A report attached to a version by digest. */
export interface ReportsTable {
  model: string;
  version: string;
  digest: string;
  kind: string;
  verdict: string;
  summary: string;
  attached_at: string;
  attached_by: string;
}

/** A free-form tag on a version. */
export interface TagsTable {
  model: string;
  version: string;
  tag: string;
  created_at: string;
  created_by: string;
}

/** The current target of an alias (null when cleared); revision counts its moves. */
export interface AliasesTable {
  model: string;
  alias: string;
  version: string | null;
  revision: number;
  updated_at: string;
}

/** One move of an alias (append-only). */
export interface AliasEventsTable {
  seq: number;
  model: string;
  alias: string;
  from_version: string | null;
  to_version: string | null;
  at: string;
  actor: string;
  transition: string;
  reason: string;
}

/** An approval of a version by a user in a role. */
export interface ApprovalsTable {
  model: string;
  version: string;
  role: string;
  user_name: string;
  comment: string;
  at: string;
}

/** A vulnerability waiver on a version. */
export interface WaiversTable {
  id: string;
  model: string;
  version: string;
  vuln: string;
  justification: string;
  approver: string;
  expires_at: string;
  created_at: string;
}

/** One audit log entry: a link of the hash chain. */
export interface AuditTable {
  seq: number;
  at: string;
  actor: string;
  action: string;
  payload: string;
  prev_hash: string;
  hash: string;
  /** What the entry is about ('' global, 'MODEL@VERSION', 'MODEL@*'): a read-cache key, not hashed. */
  scope: Generated<string>;
}

/** Every table of the registry database. */
export interface RegistryTables {
  users: UsersTable;
  user_roles: UserRolesTable;
  tokens: TokensTable;
  models: ModelsTable;
  versions: VersionsTable;
  reports: ReportsTable;
  tags: TagsTable;
  aliases: AliasesTable;
  alias_events: AliasEventsTable;
  approvals: ApprovalsTable;
  waivers: WaiversTable;
  audit: AuditTable;
}
