/**
 * What the registry reads from a model pack and from reports. A pack is identified by the sha256 of
 * its manifest.json bytes; the manifest lists the pack's files with their sha256, the model's task,
 * name and version, and the immutable pointers and facts the registry records (docs/registry.md,
 * "Pack manifest"). Reports (export, eval, sim) are JSON documents attached by digest; the registry
 * keeps their kind, verdict and a summary.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { sha256, sha256File } from '../core/digest.js';
import { DrivegateError, badInput } from '../core/errors.js';
import type { ArtifactStore } from '../store/types.js';
import { parseSemver } from './semver.js';

/** The manifest file name inside a pack folder. */
export const PACK_MANIFEST = 'manifest.json';

/** A pack's model variant, by the precision it computes in. */
export type PackPrecision = 'fp32' | 'fp16' | 'int8';

/** The file of a pack's model variant: `model.onnx` for fp32, `model.<precision>.onnx` otherwise. */
export function packModelFile(precision: PackPrecision): string {
  return precision === 'fp32' ? 'model.onnx' : `model.${precision}.onnx`;
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits (sha256)');
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a name of letters, digits and ._-');

/** One file of a pack: its path inside the pack, sha256 (hex) and size. */
export const packFileSchema = z.looseObject({
  path: z
    .string()
    .min(1)
    .refine(
      (p) => !isAbsolute(p) && !p.split(/[\\/]/).some((s) => s === '..' || s === '') && !p.includes('\\'),
      'a relative path without .. segments',
    ),
  sha256: hex64,
  size: z.number().int().nonnegative().optional(),
});

/** The immutable pointers a pack may carry. */
export const packPointersSchema = z.looseObject({
  oci_image: z
    .string()
    .regex(/^(.+@)?sha256:[0-9a-f]{64}$/, 'an OCI image digest (sha256:<hex>, optionally repo@sha256:<hex>)')
    .optional(),
  git_sha: z
    .string()
    .regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, 'a git commit SHA (40 or 64 hex digits)')
    .optional(),
  dataset: z.string().min(1).optional(),
  training_run: z.string().min(1).optional(),
  store_uris: z.array(z.string().min(1)).optional(),
});

/** A known vulnerability listed in a pack (from its SBOM scan). */
export const packVulnerabilitySchema = z.looseObject({
  id: z.string().min(1),
  severity: z.enum(['critical', 'high', 'medium', 'low', 'unknown']),
  package: z.string().optional(),
});

/** The registry's view of a pack manifest (v1); other fields are kept and ignored. */
export const packManifestSchema = z.looseObject({
  schema_version: z.literal(1),
  model: z.looseObject({ task: name, name, version: z.string().min(1) }),
  files: z.array(packFileSchema).min(1),
  pointers: packPointersSchema.optional(),
  targets: z.array(z.string().min(1)).optional(),
  latency_budgets_ms: z.record(z.string(), z.record(z.string(), z.number().nonnegative())).optional(),
  calibration_cache_version: z.string().min(1).optional(),
  performance: z.record(z.string(), z.unknown()).optional(),
  vulnerabilities: z.array(packVulnerabilitySchema).optional(),
});

/** A pack manifest as the registry reads it. */
export type PackManifest = z.infer<typeof packManifestSchema>;

function zodField(issue: z.core.$ZodIssue | undefined): string {
  return (
    issue?.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
      .join('.')
      .replace(/\.\[/g, '[') || '(document)'
  );
}

/**
 * Parses manifest bytes; BAD_INPUT naming `file`, the field, what was expected and found. Returns the
 * manifest and the pack digest (`sha256:<hex>` of the bytes).
 */
export function parsePackManifest(
  bytes: Buffer | string,
  file: string,
): { manifest: PackManifest; digest: string } {
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8')) as unknown;
  } catch (err) {
    throw badInput('the pack manifest is not JSON', {
      file,
      expected: 'a JSON object',
      found: (err as Error).message,
    });
  }
  const r = packManifestSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw badInput('invalid pack manifest', {
      file,
      field: zodField(issue),
      expected: issue?.message ?? 'v1',
    });
  }
  parseSemver(r.data.model.version, 'model.version');
  const seen = new Set<string>();
  r.data.files.forEach((f, i) => {
    if (seen.has(f.path)) {
      throw badInput('a file is listed twice', {
        file,
        field: `files[${i}].path`,
        found: JSON.stringify(f.path),
      });
    }
    seen.add(f.path);
  });
  return { manifest: r.data, digest: `sha256:${sha256(bytes)}` };
}

/** Where a pack's files can be re-read: a folder, or the artifact store (blobs by sha256). */
export type PackLocation = { kind: 'folder'; path: string } | { kind: 'store' };

/** The result of re-hashing a pack's files against its manifest. */
export interface IntegrityResult {
  ok: boolean;
  /** 'folder:<path>', 'store' or 'unavailable'. */
  source: string;
  files: number;
  bytes: number;
  /** Files that are missing or whose content differs. */
  problems: Array<{ path: string; expected: string; found: string }>;
}

/** Reads a pack folder's manifest (the folder must hold manifest.json). */
export async function readPackFolder(
  dir: string,
): Promise<{ manifest: PackManifest; digest: string; bytes: Buffer }> {
  const file = join(dir, PACK_MANIFEST);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DrivegateError(code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_INPUT', 'cannot read the pack manifest', {
      file,
      expected: `a pack folder holding ${PACK_MANIFEST}`,
      found: String(code),
      cause: err,
    });
  }
  return { ...parsePackManifest(bytes, file), bytes };
}

/**
 * Re-hashes every file the manifest lists, from the folder or the store (streamed). Never throws for
 * a mismatch: the result lists the problems.
 */
export async function verifyPackFiles(
  manifest: PackManifest,
  location: PackLocation,
  store: ArtifactStore | undefined,
): Promise<IntegrityResult> {
  const problems: IntegrityResult['problems'] = [];
  let bytes = 0;
  const source = location.kind === 'folder' ? `folder:${location.path}` : 'store';
  for (const f of manifest.files) {
    const expected = `sha256:${f.sha256}${f.size !== undefined ? ` (${f.size} bytes)` : ''}`;
    if (location.kind === 'folder') {
      const root = resolve(location.path);
      const path = resolve(root, f.path);
      if (!path.startsWith(root + sep)) {
        problems.push({ path: f.path, expected, found: 'a path outside the pack' });
        continue;
      }
      const st = await stat(path).catch(() => undefined);
      if (st === undefined || !st.isFile()) {
        problems.push({ path: f.path, expected, found: 'no such file' });
        continue;
      }
      const h = await sha256File(path);
      bytes += h.size;
      if (h.sha256 !== f.sha256 || (f.size !== undefined && h.size !== f.size)) {
        problems.push({ path: f.path, expected, found: `sha256:${h.sha256} (${h.size} bytes)` });
      }
    } else {
      if (store === undefined || !(await store.has(`sha256:${f.sha256}`))) {
        problems.push({ path: f.path, expected, found: 'not in the store' });
        continue;
      }
      try {
        const stream = await store.getStream(`sha256:${f.sha256}`);
        let n = 0;
        for await (const chunk of stream) n += (chunk as Buffer).length;
        bytes += n;
        if (f.size !== undefined && n !== f.size)
          problems.push({ path: f.path, expected, found: `${n} bytes` });
      } catch (err) {
        problems.push({ path: f.path, expected, found: err instanceof Error ? err.message : String(err) });
      }
    }
  }
  return { ok: problems.length === 0, source, files: manifest.files.length, bytes, problems };
}

/** True when a path names an existing folder. */
export async function isFolder(path: string): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  return st?.isDirectory() === true;
}

/** True when a file starts with `{` (a cheap check before parsing a JSON report). */
export async function looksLikeJsonFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (fh === undefined) return false;
  try {
    const buf = Buffer.alloc(64);
    const { bytesRead } = await fh.read(buf, 0, 64, 0);
    return buf.subarray(0, bytesRead).toString('utf8').trimStart().startsWith('{');
  } finally {
    await fh.close();
  }
}

// ---- reports ----------------------------------------------------------------------------------------

/** Report kinds the registry knows. */
export const REPORT_KINDS = ['export', 'eval', 'sim'] as const;
/** A report kind. */
export type ReportKind = (typeof REPORT_KINDS)[number];
/** A report's verdict: its gate said pass or fail, could not decide (error), or there was no gate. */
export type Verdict = 'pass' | 'fail' | 'error' | 'none';

/** What the registry keeps of a report. */
export interface ReportFacts {
  kind: ReportKind;
  verdict: Verdict;
  /** A compact summary: headline metrics, slices, latency, calibration (kind-specific). */
  summary: Record<string, unknown>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function verdictOf(doc: Obj): Verdict {
  const candidates: unknown[] = [
    isObj(doc['gate']) ? doc['gate']['status'] : undefined,
    isObj(doc['verdict']) ? (doc['verdict']['status'] ?? doc['verdict']['passed']) : doc['verdict'],
    doc['status'],
    doc['passed'],
  ];
  for (const c of candidates) {
    if (c === true || c === 'pass' || c === 'passed' || c === 'green') return 'pass';
    if (c === false || c === 'fail' || c === 'failed' || c === 'red') return 'fail';
    if (c === 'error') return 'error';
  }
  return 'none';
}

/**
 * Reads a report's kind, verdict and summary. The kind is `kind` when given, else the document's
 * `kind`/`report` field, else an eval_report v1 is recognized by its shape (schema_version, overall,
 * slices). The verdict comes from `gate.status` (what `drivegate eval run --gates` writes), else a
 * `verdict`/`status`/`passed` field.
 */
export function readReportFacts(bytes: Buffer, file: string, kind?: string): ReportFacts {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (err) {
    throw badInput('the report is not JSON', {
      file,
      expected: 'a JSON object',
      found: (err as Error).message,
    });
  }
  if (!isObj(doc)) throw badInput('the report is not a JSON object', { file, expected: 'a JSON object' });
  const declared = kind ?? (typeof doc['kind'] === 'string' ? doc['kind'] : undefined);
  const isEval = doc['schema_version'] === 1 && isObj(doc['overall']) && Array.isArray(doc['slices']);
  const k = declared ?? (isEval ? 'eval' : undefined);
  if (k === undefined || !(REPORT_KINDS as readonly string[]).includes(k)) {
    throw badInput('unknown report kind', {
      file,
      field: 'kind',
      expected: `one of ${REPORT_KINDS.join(', ')} (an eval_report.json is recognized by its shape)`,
      found: k === undefined ? 'no kind' : JSON.stringify(k),
    });
  }
  const verdict = verdictOf(doc);
  if (k === 'eval') {
    if (!isEval) {
      throw badInput('not an eval_report.json v1', {
        file,
        field: 'schema_version',
        expected: 'schema_version 1 with overall and slices',
        found: JSON.stringify(doc['schema_version'] ?? null),
      });
    }
    const overall = doc['overall'] as Obj;
    const model = isObj(doc['model']) ? doc['model'] : {};
    const dataset = isObj(doc['dataset']) ? doc['dataset'] : {};
    const calibration = isObj(doc['calibration']) ? doc['calibration'] : {};
    const latency = isObj(doc['latency']) ? doc['latency'] : {};
    const slices = (doc['slices'] as unknown[]).filter(isObj).map((s) => {
      const m = isObj(s['metrics']) ? s['metrics'] : {};
      return {
        name: String(s['name']),
        critical: s['critical'] === true,
        map: num(m['map']),
        map50: num(m['map50']),
      };
    });
    return {
      kind: 'eval',
      verdict,
      summary: {
        model: { name: model['name'] ?? null, version: model['version'] ?? null },
        dataset: dataset['name'] ?? null,
        map: num(overall['map']),
        map50: num(overall['map50']),
        ece: num(calibration['ece']),
        latency_p95_ms: num(latency['p95_ms']),
        slices,
        gate: isObj(doc['gate'])
          ? { policy: doc['gate']['policy'] ?? null, summary: doc['gate']['summary'] ?? null }
          : null,
      },
    };
  }
  const summary: Obj = {};
  for (const key of ['summary', 'metrics', 'latency', 'targets'])
    if (doc[key] !== undefined) summary[key] = doc[key];
  return { kind: k as ReportKind, verdict, summary };
}
