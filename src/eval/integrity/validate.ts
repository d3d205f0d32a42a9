/**
 * Dataset validation: the edge that reads manifests, the expectation suite and the leakage policy,
 * runs the pure checks (schema, expectations, files, leakage) and returns one report.
 * Findings make the report fail (the CLI exits 1, like a gate); input that cannot be read or
 * understood (a missing manifest, broken YAML, an unknown expectation type) throws BAD_INPUT or
 * NOT_FOUND (exit 2).
 */
import { dirname } from 'node:path';
import { readYamlSource } from '../yaml.js';
import { evaluateSuite, parseExpectationSuite } from './expectations.js';
import type { ExpectationResult, ExpectationSuite } from './expectations.js';
import { checkFiles } from './files.js';
import type { FileCheckReport } from './files.js';
import { CappedList, DEFAULT_CAP } from './findings.js';
import type { Capped } from './findings.js';
import { checkLeakage, parseLeakagePolicy } from './leakage.js';
import type { LeakagePolicy, LeakageReport, LocatedRecord } from './leakage.js';
import { readManifest } from './manifest.js';
import type { Manifest } from './manifest.js';

/** A record that failed the manifest schema. */
export interface SchemaFailure {
  file: string;
  line: number;
  problems: string[];
}

/** Validation results of one manifest. */
export interface ManifestValidation {
  file: string;
  records: number;
  schema: { passed: boolean; failures: Capped<SchemaFailure> };
  expectations?: { suite: string; passed: boolean; results: ExpectationResult[] };
  files?: FileCheckReport;
  passed: boolean;
}

/** The validation report (`drivegate eval validate --json` prints it). */
export interface ValidationReport {
  /** The verdict, as gates give it: 'fail' when any check found a problem (the CLI exits 1). */
  status: 'pass' | 'fail';
  passed: boolean;
  manifests: ManifestValidation[];
  leakage: LeakageReport & { policy: string | null };
  /** One line per failed check, for people. */
  failures: string[];
}

/** Options of validateDatasets. */
export interface ValidateOptions {
  manifests: string[];
  expectations?: string | undefined;
  leakagePolicy?: string | undefined;
  checkFiles?: boolean | undefined;
  cap?: number | undefined;
}

/** Validates already-read manifests against an optional suite and policy (pure apart from file checks). */
export async function validateManifests(
  manifests: ReadonlyArray<Manifest>,
  suite: ExpectationSuite | undefined,
  policy: { file: string; policy: LeakagePolicy } | undefined,
  options: { checkFiles?: boolean | undefined; cap?: number | undefined } = {},
): Promise<ValidationReport> {
  const cap = options.cap ?? DEFAULT_CAP;
  const failures: string[] = [];
  const out: ManifestValidation[] = [];
  const located: LocatedRecord[] = [];
  for (const m of manifests) {
    const bad = new CappedList<SchemaFailure>(cap);
    for (const row of m.rows) {
      if (row.record === null) bad.push({ file: row.file, line: row.line, problems: row.problems });
      else located.push({ file: row.file, line: row.line, record: row.record });
    }
    const v: ManifestValidation = {
      file: m.file,
      records: m.rows.length,
      schema: { passed: bad.total === 0, failures: bad.toJSON() },
      passed: bad.total === 0,
    };
    if (bad.total > 0) failures.push(`${m.file}: ${bad.total} record(s) fail the manifest schema`);
    if (suite !== undefined) {
      const results = evaluateSuite(suite, m.rows, { cap });
      const passed = results.every((r) => r.success);
      v.expectations = { suite: suite.file, passed, results };
      for (const r of results.filter((x) => !x.success)) {
        failures.push(
          `${m.file}: ${r.type}${r.column !== undefined ? `(${r.column})` : ''} failed` +
            (r.error !== undefined
              ? `: ${r.error}`
              : r.unexpected_count !== undefined
                ? `: ${r.unexpected_count} unexpected`
                : `: observed ${JSON.stringify(r.observed)}`),
        );
      }
      v.passed &&= passed;
    }
    if (options.checkFiles === true) {
      v.files = await checkFiles(m.rows, dirname(m.file), { cap });
      if (!v.files.passed) failures.push(`${m.file}: ${v.files.findings.total} image file problem(s)`);
      v.passed &&= v.files.passed;
    }
    out.push(v);
  }
  const leakage = checkLeakage(located, policy?.policy ?? {}, { cap });
  for (const c of leakage.checks.filter((x) => !x.passed))
    failures.push(`leakage (${c.name}): ${c.rationale}`);
  return {
    status: failures.length === 0 ? 'pass' : 'fail',
    passed: failures.length === 0,
    manifests: out,
    leakage: { ...leakage, policy: policy?.file ?? null },
    failures,
  };
}

/**
 * Reads the files named in `options` and validates. Policy files are read first, so that a broken
 * policy fails before large manifests are read.
 */
export async function validateDatasets(options: ValidateOptions): Promise<ValidationReport> {
  const suite =
    options.expectations !== undefined
      ? parseExpectationSuite(await readYamlSource(options.expectations))
      : undefined;
  const policy =
    options.leakagePolicy !== undefined
      ? {
          file: options.leakagePolicy,
          policy: parseLeakagePolicy(await readYamlSource(options.leakagePolicy)),
        }
      : undefined;
  const manifests: Manifest[] = [];
  for (const file of options.manifests) manifests.push(await readManifest(file));
  return validateManifests(manifests, suite, policy, { checkFiles: options.checkFiles, cap: options.cap });
}
