/**
 * The registry's REST API (node:http, a small router) and its two clients. `RegistryApi` is what the
 * CLI calls: `localApi(service, principal)` acts on the database directly, `remoteApi(url, token)`
 * goes through the server, with identical results. The server authenticates every request with a
 * bearer token, maps each route to one service call, and answers errors as
 * `{"error": {"code", "message", ...}}` with the status of DrivegateError.httpStatus.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { DrivegateError, asDrivegateError } from '../core/errors.js';
import type { ErrorCode } from '../core/errors.js';
import type { AuditEntry, AuditVerdict } from './audit.js';
import type { Alias, Role, TransitionPlan } from './policy.js';
import type { AliasEvent, ModelView, Principal, RegistryService, VersionView } from './service.js';

/** A transition's result. */
export interface TransitionResult {
  plan: TransitionPlan;
  applied: boolean;
}

/** The operations the CLI performs, locally or through the server. */
export interface RegistryApi {
  list(): Promise<
    Array<{ model: string; task: string; versions: number; aliases: Partial<Record<Alias, string | null>> }>
  >;
  showModel(model: string): Promise<ModelView>;
  showVersion(model: string, version: string): Promise<VersionView>;
  /** Registers a pack from manifest bytes (a local folder is verified and recorded by the local API only). */
  register(input: {
    manifest: Buffer;
    file: string;
    folder?: string;
    inStore?: boolean;
    storeUris?: string[];
  }): Promise<VersionView>;
  attachReport(
    model: string,
    version: string,
    input: { bytes?: Buffer; digest?: string; file?: string; kind?: string },
  ): Promise<VersionView>;
  tag(model: string, version: string, tag: string): Promise<VersionView>;
  approve(model: string, version: string, role: string, comment?: string): Promise<VersionView>;
  addWaiver(
    model: string,
    version: string,
    input: { vuln: string; justification: string; expires: string },
  ): Promise<VersionView>;
  stage(model: string, version: string, stage: string, dryRun: boolean): Promise<TransitionResult>;
  rollback(model: string, dryRun: boolean): Promise<TransitionResult>;
  history(
    model: string,
    options: { alias?: string; at?: string },
  ): Promise<{ events: AliasEvent[]; at?: string; state?: Partial<Record<Alias, string | null>> }>;
  auditVerify(expectedHead?: string): Promise<AuditVerdict>;
  createToken(user: string, role: string): Promise<{ token: string; user: string; role: Role }>;
  revokeTokens(user: string): Promise<{ user: string; revoked: number }>;
  auditLog(afterSeq: number, limit: number): Promise<AuditEntry[]>;
}

/** The API on the local database, acting as `principal` (token creation bootstraps: no role needed). */
export function localApi(service: RegistryService, principal: Principal): RegistryApi {
  return {
    list: () => service.list(principal),
    showModel: (m) => service.showModel(principal, m),
    showVersion: (m, v) => service.showVersion(principal, m, v),
    register: (input) => service.register(principal, input),
    attachReport: (m, v, input) => service.attachReport(principal, m, v, input),
    tag: (m, v, t) => service.tag(principal, m, v, t),
    approve: (m, v, r, c) => service.approve(principal, m, v, r, c),
    addWaiver: (m, v, input) => service.addWaiver(principal, m, v, input),
    stage: (m, v, s, dryRun) => service.stage(principal, m, v, s, { dryRun }),
    rollback: (m, dryRun) => service.rollback(principal, m, { dryRun }),
    history: (m, o) => service.history(principal, m, o),
    auditVerify: (h) => service.auditVerify(principal, h),
    createToken: (u, r) => service.createToken('bootstrap', u, r),
    revokeTokens: (u) => service.revokeTokens('bootstrap', u),
    auditLog: (after, limit) => service.auditLog(principal, after, limit),
  };
}

const enc = encodeURIComponent;

/** The API through a registry server at `baseUrl`, authenticated with `token`. */
export function remoteApi(baseUrl: string, token: string): RegistryApi {
  const base = baseUrl.replace(/\/+$/, '') + '/api/v1';
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new DrivegateError('UNAVAILABLE', `cannot reach the registry server ${baseUrl}`, { cause: err });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text) as unknown;
    } catch {
      throw new DrivegateError('UNAVAILABLE', `the registry server answered ${res.status} without JSON`, {
        found: text.slice(0, 200),
      });
    }
    if (!res.ok) throw errorFromBody(json, res.status);
    return json as T;
  }
  const v = (m: string, ver: string): string => `/models/${enc(m)}/versions/${enc(ver)}`;
  return {
    list: () => call('GET', '/models'),
    showModel: (m) => call('GET', `/models/${enc(m)}`),
    showVersion: (m, ver) => call('GET', v(m, ver)),
    register: (input) =>
      call('POST', '/versions', {
        manifest: input.manifest.toString('utf8'),
        store_uris: input.storeUris ?? [],
      }),
    attachReport: (m, ver, input) =>
      call('POST', `${v(m, ver)}/reports`, {
        ...(input.bytes !== undefined ? { report: input.bytes.toString('utf8') } : {}),
        ...(input.digest !== undefined ? { digest: input.digest } : {}),
        ...(input.kind !== undefined ? { kind: input.kind } : {}),
        ...(input.file !== undefined ? { file: input.file } : {}),
      }),
    tag: (m, ver, tag) => call('POST', `${v(m, ver)}/tags`, { tag }),
    approve: (m, ver, role, comment) =>
      call('POST', `${v(m, ver)}/approvals`, { role, comment: comment ?? '' }),
    addWaiver: (m, ver, input) => call('POST', `${v(m, ver)}/waivers`, input),
    stage: (m, ver, stage, dryRun) => call('POST', `${v(m, ver)}/stage`, { stage, dry_run: dryRun }),
    rollback: (m, dryRun) => call('POST', `/models/${enc(m)}/rollback`, { dry_run: dryRun }),
    history: (m, o) => {
      const q = new URLSearchParams();
      if (o.alias !== undefined) q.set('alias', o.alias);
      if (o.at !== undefined) q.set('at', o.at);
      const qs = q.toString();
      return call('GET', `/models/${enc(m)}/history${qs !== '' ? `?${qs}` : ''}`);
    },
    auditVerify: (h) => call('GET', `/audit/verify${h !== undefined ? `?head=${enc(h)}` : ''}`),
    createToken: (user, role) => call('POST', '/tokens', { user, role }),
    revokeTokens: (user) => call('POST', '/tokens/revoke', { user }),
    auditLog: (after, limit) => call('GET', `/audit?after=${after}&limit=${limit}`),
  };
}

function errorFromBody(json: unknown, status: number): DrivegateError {
  const e = (json as { error?: Record<string, unknown> } | null)?.error;
  const code = (typeof e?.['code'] === 'string' ? e['code'] : 'INTERNAL') as ErrorCode;
  const message = typeof e?.['message'] === 'string' ? e['message'] : `HTTP ${status}`;
  // The server's message already carries file/field/expected/found; keep it as the message.
  return new DrivegateError(code, message, { details: e?.['details'] });
}

// ---- server ----------------------------------------------------------------------------------------

type Handler = (ctx: {
  principal: Principal;
  params: string[];
  query: URLSearchParams;
  body: Record<string, unknown>;
}) => Promise<unknown>;

interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  handler: Handler;
  summary: string;
  path: string;
}

const MAX_BODY = 16 << 20;

function str(body: Record<string, unknown>, key: string, required = true): string | undefined {
  const v = body[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string') {
    throw new DrivegateError('BAD_INPUT', 'invalid request body', {
      field: key,
      expected: 'a string',
      found: v === undefined ? 'nothing' : typeof v,
    });
  }
  return v;
}

function routes(service: RegistryService): Route[] {
  const seg = '([^/]+)';
  const r = (method: Route['method'], path: string, summary: string, handler: Handler): Route => ({
    method,
    path,
    summary,
    handler,
    pattern: new RegExp('^/api/v1' + path.replace(/\{[a-z]+\}/g, seg) + '$'),
  });
  const p = (params: string[], i: number): string => {
    try {
      return decodeURIComponent(params[i] ?? '');
    } catch {
      throw new DrivegateError('BAD_INPUT', 'invalid percent-encoding in the path', {
        found: params[i] ?? '',
      });
    }
  };
  return [
    r('GET', '/models', 'List models and their aliases', ({ principal }) => service.list(principal)),
    r('GET', '/models/{model}', 'A model: aliases and versions', ({ principal, params }) =>
      service.showModel(principal, p(params, 0)),
    ),
    r(
      'GET',
      '/models/{model}/versions/{version}',
      'A version with pointers, reports, approvals',
      ({ principal, params }) => service.showVersion(principal, p(params, 0), p(params, 1)),
    ),
    r(
      'GET',
      '/models/{model}/history',
      'Alias moves; ?alias=production&at=TIME for the state at a time',
      ({ principal, params, query }) =>
        service.history(principal, p(params, 0), {
          ...(query.get('alias') !== null ? { alias: query.get('alias') ?? '' } : {}),
          ...(query.get('at') !== null ? { at: query.get('at') ?? '' } : {}),
        }),
    ),
    r(
      'POST',
      '/versions',
      'Register a pack: {manifest: "<manifest.json text>", store_uris?}',
      async ({ principal, body }) => {
        const manifest = Buffer.from(str(body, 'manifest') ?? '', 'utf8');
        const uris = Array.isArray(body['store_uris'])
          ? body['store_uris'].filter((u): u is string => typeof u === 'string')
          : [];
        return service.register(principal, {
          manifest,
          file: 'request body manifest',
          storeUris: uris,
          inStore: false,
        });
      },
    ),
    r(
      'POST',
      '/models/{model}/versions/{version}/reports',
      'Attach a report: {report: "<json text>"} or {digest}',
      ({ principal, params, body }) => {
        const report = str(body, 'report', false);
        const digest = str(body, 'digest', false);
        const kind = str(body, 'kind', false);
        return service.attachReport(principal, p(params, 0), p(params, 1), {
          ...(report !== undefined ? { bytes: Buffer.from(report, 'utf8') } : {}),
          ...(digest !== undefined ? { digest } : {}),
          ...(kind !== undefined ? { kind } : {}),
          file: str(body, 'file', false) ?? 'request body report',
        });
      },
    ),
    r(
      'POST',
      '/models/{model}/versions/{version}/tags',
      'Tag a version: {tag}',
      ({ principal, params, body }) =>
        service.tag(principal, p(params, 0), p(params, 1), str(body, 'tag') ?? ''),
    ),
    r(
      'POST',
      '/models/{model}/versions/{version}/approvals',
      'Approve in a role: {role, comment?}',
      ({ principal, params, body }) =>
        service.approve(
          principal,
          p(params, 0),
          p(params, 1),
          str(body, 'role') ?? '',
          str(body, 'comment', false) ?? '',
        ),
    ),
    r(
      'POST',
      '/models/{model}/versions/{version}/waivers',
      'Waive a vulnerability: {vuln, justification, expires}',
      ({ principal, params, body }) =>
        service.addWaiver(principal, p(params, 0), p(params, 1), {
          vuln: str(body, 'vuln') ?? '',
          justification: str(body, 'justification') ?? '',
          expires: str(body, 'expires') ?? '',
        }),
    ),
    r(
      'POST',
      '/models/{model}/versions/{version}/stage',
      'Move to a stage: {stage, dry_run?}',
      ({ principal, params, body }) =>
        service.stage(principal, p(params, 0), p(params, 1), str(body, 'stage') ?? '', {
          dryRun: body['dry_run'] === true,
        }),
    ),
    r('POST', '/models/{model}/rollback', 'Roll back production: {dry_run?}', ({ principal, params, body }) =>
      service.rollback(principal, p(params, 0), { dryRun: body['dry_run'] === true }),
    ),
    r(
      'GET',
      '/audit/verify',
      'Verify the audit hash chain (?head=HASH to check the anchor)',
      ({ principal, query }) => service.auditVerify(principal, query.get('head') ?? undefined),
    ),
    r('GET', '/audit', 'Audit entries (?after=SEQ&limit=N)', ({ principal, query }) =>
      service.auditLog(
        principal,
        Number(query.get('after') ?? 0) || 0,
        Math.min(10_000, Number(query.get('limit') ?? 1000) || 1000),
      ),
    ),
    r('POST', '/tokens', 'Create a token (admin): {user, role}; returns it once', ({ principal, body }) =>
      service.createToken(principal, str(body, 'user') ?? '', str(body, 'role') ?? ''),
    ),
    r('POST', '/tokens/revoke', 'Revoke every token of a user (admin): {user}', ({ principal, body }) =>
      service.revokeTokens(principal, str(body, 'user') ?? ''),
    ),
  ];
}

/** The OpenAPI 3.1 document of the routes. */
export function openApiDocument(service: RegistryService): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes(service)) {
    const entry = (paths['/api/v1' + route.path] ??= {});
    entry[route.method.toLowerCase()] = {
      summary: route.summary,
      security: [{ bearer: [] }],
      responses: {
        '200': { description: 'OK (JSON)' },
        default: { description: 'Error: {"error": {"code", "message", ...}}' },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'drivegate registry', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY)
      throw new DrivegateError('BAD_INPUT', 'request body too large', {
        expected: `at most ${MAX_BODY} bytes`,
      });
    chunks.push(c as Buffer);
  }
  if (size === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (err) {
    throw new DrivegateError('BAD_INPUT', 'the request body is not JSON', { found: (err as Error).message });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new DrivegateError('BAD_INPUT', 'the request body must be a JSON object', {
      expected: 'an object',
    });
  }
  return v as Record<string, unknown>;
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Creates (not started) the registry HTTP server over `service`. */
export function createRegistryServer(service: RegistryService): Server {
  return createServer(registryRequestHandler(service));
}

/**
 * The registry's request handler (`/openapi.json`, `/api/v1/...`), for mounting the API in another
 * server (the console). It answers every request it is given; route other paths elsewhere first.
 */
export function registryRequestHandler(
  service: RegistryService,
): (req: IncomingMessage, res: ServerResponse) => void {
  const table = routes(service);
  const openapi = openApiDocument(service);
  return (req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', 'http://localhost');
        if (req.method === 'GET' && url.pathname === '/openapi.json') return send(res, 200, openapi);
        if (req.method === 'GET' && url.pathname === '/api/v1/health') return send(res, 200, { ok: true });
        let matched = false;
        for (const route of table) {
          const m = route.pattern.exec(url.pathname);
          if (m === null) continue;
          matched = true;
          if (route.method !== req.method) continue;
          const auth = req.headers.authorization;
          const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
          const principal = await service.authenticate(token);
          const body = req.method === 'POST' ? await readBody(req) : {};
          const result = await route.handler({
            principal,
            params: m.slice(1),
            query: url.searchParams,
            body,
          });
          return send(res, 200, result);
        }
        throw matched
          ? new DrivegateError('USAGE', `method ${req.method ?? '?'} not allowed on ${url.pathname}`)
          : new DrivegateError('NOT_FOUND', `no route ${url.pathname}`);
      } catch (err) {
        const e = asDrivegateError(err);
        send(res, e.httpStatus, { error: e.toJSON() });
      }
    })();
  };
}
