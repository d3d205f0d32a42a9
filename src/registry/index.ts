/**
 * The model registry (a service module): models and semver versions with immutable pointers to their
 * pack, reports and provenance; stages and aliases (staging, candidate, production, rollback) moved
 * by policy-checked, atomic transitions recorded as append-only events; approvals by role,
 * vulnerability waivers, API tokens, and an audit log in a hash chain. Kysely over SQLite (default)
 * or PostgreSQL; the REST API (http.ts) and the CLI go through the one service layer (service.ts).
 */
export { openRegistryDb, isPostgresUrl, redactLocation } from './db.js';
export type { RegistryDb, RegistryKysely } from './db.js';
export type { RegistryTables } from './schema.js';
export { parseSemver, compareSemver } from './semver.js';
export type { SemVer } from './semver.js';
export {
  PACK_MANIFEST,
  packManifestSchema,
  parsePackManifest,
  readPackFolder,
  verifyPackFiles,
  readReportFacts,
  REPORT_KINDS,
} from './pack.js';
export type {
  PackManifest,
  IntegrityResult,
  ReportFacts,
  ReportKind,
  Verdict,
  PackLocation,
} from './pack.js';
export {
  ROLES,
  STAGES,
  ALIASES,
  APPROVAL_ROLES,
  DEFAULT_POLICY,
  parsePolicy,
  loadPolicy,
  planPromotion,
  planRollback,
  formatPlan,
} from './policy.js';
export type { Policy, Role, Stage, Alias, TransitionPlan, PlanCheck, AliasMove } from './policy.js';
export { GENESIS_HASH, auditEntryHash, verifyAuditChain } from './audit.js';
export type { AuditEntry, AuditVerdict } from './audit.js';
export { RegistryService, parseRef, validateRole, validateStage, validateUserName } from './service.js';
export type {
  Principal,
  RegistryServiceOptions,
  RegisterInput,
  VersionView,
  ModelView,
  AliasEvent,
} from './service.js';
export {
  createRegistryServer,
  registryRequestHandler,
  localApi,
  remoteApi,
  openApiDocument,
} from './http.js';
export type { RegistryApi, TransitionResult } from './http.js';
