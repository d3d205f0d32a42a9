/**
 * drivegate's configuration: an optional drivegate.yaml plus environment overrides, validated with zod.
 *
 * Precedence, lowest to highest: built-in defaults (everything inside the workspace folder), the YAML
 * file, then environment variables. Unknown keys are rejected; every error names the file (or the
 * environment variable), the key path (e.g. `store.uri`), the line when known, and what was expected.
 * Relative paths in the file are resolved against the file's folder; relative paths in the
 * environment against the working directory.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LineCounter, parseDocument, isMap, isPair, isScalar } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { DrivegateError, badInput } from './errors.js';
import type { LogLevel } from './log.js';

/** The log levels a config may name. */
export const CONFIG_LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * The schema of drivegate.yaml. Every object is strict (unknown keys are errors). Later backends
 * add sibling keys (e.g. `store.s3`, `registry.postgres`, `queue.redis`) without changing these.
 */
export const configFileSchema = z.strictObject({
  version: z.literal(1).optional(),
  store: z
    .strictObject({
      uri: z.string().min(1).describe('a store URI (file:///path) or a path'),
    })
    .optional(),
  registry: z
    .strictObject({
      db: z.string().min(1).describe('a SQLite file path (or a database URL)'),
    })
    .optional(),
  runs: z
    .strictObject({
      dir: z.string().min(1).describe('a folder for run records'),
    })
    .optional(),
  workers: z.number().int().min(1).max(1024).optional(),
  log: z
    .strictObject({
      level: z.enum(CONFIG_LOG_LEVELS).optional(),
    })
    .optional(),
});

/** The content of drivegate.yaml as validated (before defaults and overrides). */
export type ConfigFile = z.infer<typeof configFileSchema>;

/** The effective configuration: every value filled in and every path absolute. */
export interface DrivegateConfig {
  /** The workspace folder ($DRIVEGATE_HOME). */
  home: string;
  /** The config file that was read, when one was. */
  file: string | undefined;
  store: { uri: string };
  registry: { db: string };
  runs: { dir: string };
  workers: number;
  log: { level: LogLevel };
}

/** Options of loadConfig. */
export interface LoadConfigOptions {
  /** The workspace folder; default workspaceHome(env). */
  home: string;
  /** An explicit config file (--config); default $DRIVEGATE_CONFIG, else <home>/drivegate.yaml if present. */
  configPath?: string | undefined;
  /** The environment; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The working directory for relative paths in the environment; default process.cwd(). */
  cwd?: string;
}

/** The environment variables that override config keys, with the key each one sets. */
export const ENV_OVERRIDES = {
  DRIVEGATE_STORE: 'store.uri',
  DRIVEGATE_DB: 'registry.db',
  DRIVEGATE_RUNS_DIR: 'runs.dir',
  DRIVEGATE_WORKERS: 'workers',
  DRIVEGATE_LOG_LEVEL: 'log.level',
} as const;

/**
 * Loads the effective configuration: defaults, then the YAML file (when there is one), then the
 * environment overrides. Throws BAD_INPUT naming file, key path and line on any invalid value, and
 * NOT_FOUND when an explicitly named config file does not exist.
 */
export function loadConfig(options: LoadConfigOptions): DrivegateConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const home = resolve(cwd, options.home);
  const explicit = options.configPath ?? nonEmpty(env['DRIVEGATE_CONFIG']);
  const file = explicit !== undefined ? resolve(cwd, explicit) : join(home, 'drivegate.yaml');
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || explicit !== undefined) {
      throw new DrivegateError(
        code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_INPUT',
        code === 'ENOENT' ? 'config file not found' : `cannot read config file (${String(code)})`,
        { file, cause: err },
      );
    }
  }
  const parsed = text === undefined ? {} : parseConfigText(text, file);
  const fileDir = dirname(file);
  const cfg: DrivegateConfig = {
    home,
    file: text === undefined ? undefined : file,
    store: { uri: normalizeStoreUri(parsed.store?.uri, fileDir) ?? pathToFileURL(join(home, 'store')).href },
    registry: { db: normalizeDb(parsed.registry?.db, fileDir) ?? join(home, 'registry.db') },
    runs: { dir: parsed.runs?.dir !== undefined ? resolve(fileDir, parsed.runs.dir) : join(home, 'runs') },
    workers: parsed.workers ?? Math.max(1, availableParallelism()),
    log: { level: parsed.log?.level ?? 'info' },
  };
  applyEnv(cfg, env, cwd);
  return cfg;
}

/**
 * Parses and validates the text of a drivegate.yaml. `file` is used in error messages only.
 * Exported for tests and for tools that validate a config without loading it.
 */
export function parseConfigText(text: string, file: string): ConfigFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const line = lineCounter.linePos(first.pos[0]).line;
    throw badInput(`invalid YAML: ${first.message.split('\n')[0] ?? first.code}`, {
      file,
      line,
      expected: 'a YAML mapping of config keys',
      found: first.code,
    });
  }
  const value: unknown = doc.toJS() ?? {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badInput('the config must be a mapping of keys', {
      file,
      line: 1,
      expected: 'a YAML mapping (key: value)',
      found: Array.isArray(value) ? 'a list' : typeof value,
    });
  }
  const result = configFileSchema.safeParse(value);
  if (result.success) return result.data;
  // An unknown key is usually a typo of a known one, so it is the more useful report.
  const issue = result.error.issues.find((i) => i.code === 'unrecognized_keys') ?? result.error.issues[0];
  if (issue === undefined) throw badInput('invalid config', { file });
  const path = issue.path.map((p) => String(p));
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const keyPath = [...path, key];
    return raise(file, keyPath.join('.'), lineOfKey(doc, lineCounter, path, key), {
      message: 'unknown config key',
      expected: `one of ${knownKeys(path).join(', ') || '(no keys)'}`,
      found: JSON.stringify(key),
    });
  }
  return raise(file, path.join('.'), lineOfPath(doc, lineCounter, path), {
    message: 'invalid config value',
    expected: expectedOf(issue),
    found: describeFound(doc.getIn(path)),
  });
}

function raise(
  file: string,
  field: string,
  line: number | undefined,
  what: { message: string; expected: string; found: string },
): never {
  throw badInput(what.message, {
    file,
    field,
    ...(line !== undefined ? { line } : {}),
    expected: what.expected,
    found: what.found,
  });
}

/** The line of the value at `path`, else of the nearest enclosing key that exists. */
function lineOfPath(doc: Document, lc: LineCounter, path: string[]): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as YamlNode | undefined;
    if (node?.range) return lc.linePos(node.range[0]).line;
    const keyLine = lineOfKey(doc, lc, path.slice(0, n - 1), path[n - 1] ?? '');
    if (keyLine !== undefined) return keyLine;
  }
  return undefined;
}

function lineOfKey(doc: Document, lc: LineCounter, mapPath: string[], key: string): number | undefined {
  const map = mapPath.length === 0 ? doc.contents : doc.getIn(mapPath, true);
  if (!isMap(map)) return undefined;
  for (const item of map.items) {
    if (isPair(item) && isScalar(item.key) && String(item.key.value) === key && item.key.range) {
      return lc.linePos(item.key.range[0]).line;
    }
  }
  return undefined;
}

function knownKeys(path: string[]): string[] {
  let schema: z.ZodType = configFileSchema;
  for (const key of path) {
    const inner = unwrap(schema);
    if (!(inner instanceof z.ZodObject)) return [];
    const next = (inner.shape as Record<string, z.ZodType>)[key];
    if (next === undefined) return [];
    schema = next;
  }
  const inner = unwrap(schema);
  return inner instanceof z.ZodObject ? Object.keys(inner.shape as Record<string, unknown>) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodType) : schema;
}

function expectedOf(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'object' ? 'a mapping' : `a ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return issue.origin === 'string' ? 'a non-empty string' : `a number >= ${String(issue.minimum)}`;
    case 'too_big':
      return `a number <= ${String(issue.maximum)}`;
    default:
      return issue.message;
  }
}

function describeFound(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'object') return Array.isArray(value) ? 'a list' : 'a mapping';
  return JSON.stringify(value);
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

/**
 * Normalizes a store location: a URI with a scheme stays as it is (file URIs must be absolute), a
 * plain path becomes an absolute file:// URI resolved against `base`.
 */
export function normalizeStoreUri(value: string | undefined, base: string): string | undefined {
  if (value === undefined) return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value;
  return pathToFileURL(resolve(base, value)).href;
}

function normalizeDb(value: string | undefined, base: string): string | undefined {
  if (value === undefined) return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || value === ':memory:') return value;
  return isAbsolute(value) ? value : resolve(base, value);
}

function applyEnv(cfg: DrivegateConfig, env: NodeJS.ProcessEnv, cwd: string): void {
  const where = (name: string): { file: string; field: string } => ({
    file: `environment variable ${name}`,
    field: ENV_OVERRIDES[name as keyof typeof ENV_OVERRIDES],
  });
  const store = nonEmpty(env['DRIVEGATE_STORE']);
  if (store !== undefined) cfg.store.uri = normalizeStoreUri(store, cwd) ?? cfg.store.uri;
  const db = nonEmpty(env['DRIVEGATE_DB']);
  if (db !== undefined) cfg.registry.db = normalizeDb(db, cwd) ?? cfg.registry.db;
  const runs = nonEmpty(env['DRIVEGATE_RUNS_DIR']);
  if (runs !== undefined) cfg.runs.dir = resolve(cwd, runs);
  const workers = nonEmpty(env['DRIVEGATE_WORKERS']);
  if (workers !== undefined) {
    const n = Number(workers);
    if (!/^\d+$/.test(workers.trim()) || !Number.isSafeInteger(n) || n < 1 || n > 1024) {
      throw badInput('invalid worker count', {
        ...where('DRIVEGATE_WORKERS'),
        expected: 'an integer from 1 to 1024',
        found: JSON.stringify(workers),
      });
    }
    cfg.workers = n;
  }
  const level = nonEmpty(env['DRIVEGATE_LOG_LEVEL']);
  if (level !== undefined) {
    if (!(CONFIG_LOG_LEVELS as readonly string[]).includes(level)) {
      throw badInput('invalid log level', {
        ...where('DRIVEGATE_LOG_LEVEL'),
        expected: `one of ${CONFIG_LOG_LEVELS.join(', ')}`,
        found: JSON.stringify(level),
      });
    }
    cfg.log.level = level as LogLevel;
  }
}
