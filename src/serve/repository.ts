/**
 * Triton-layout model repositories: `<repo>/<model>/config.pbtxt` and `<repo>/<model>/<version>/model.onnx`.
 * Scanning reads every model's config and picks its versions per version_policy; a model whose
 * config or files are wrong is reported with its error and does not stop the others.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DrivegateError, asDrivegateError, badInput } from '../core/errors.js';
import { checkEnsembleConfig } from './ensemble.js';
import { parseModelConfig, type ModelConfig, type VersionPolicy } from './model-config.js';

/** One model directory of a repository, scanned. */
export interface RepositoryModel {
  name: string;
  dir: string;
  /** The parsed config (undefined when it could not be read). */
  config?: ModelConfig;
  /** Versions to serve per version_policy, ascending, with their model files (an ensemble: its version directory). */
  versions: Array<{ version: number; modelPath: string }>;
  /** Fields ignored or kept uninterpreted. */
  warnings: string[];
  /** Why the model cannot be served, when it cannot. */
  error?: DrivegateError;
}

/** Numeric version directories (not starting with "0") as Triton recognises them, ascending. */
export function versionDirs(modelDir: string): number[] {
  return readdirSync(modelDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^[1-9][0-9]*$/.test(d.name))
    .map((d) => Number(d.name))
    .sort((a, b) => a - b);
}

/** The versions a policy selects out of the available ones (default: the latest one). */
export function selectVersions(
  available: readonly number[],
  policy: VersionPolicy | undefined,
  file: string,
): number[] {
  const sorted = [...available].sort((a, b) => a - b);
  if (policy === undefined) return sorted.slice(-1);
  if ('latest' in policy) return sorted.slice(-policy.latest.numVersions);
  if ('all' in policy) return sorted;
  const missing = policy.specific.versions.filter((v) => !sorted.includes(v));
  if (missing.length > 0) {
    throw badInput('version_policy names versions that have no directory', {
      file,
      field: 'version_policy.specific.versions',
      expected: `versions among ${sorted.join(', ') || 'none'}`,
      found: missing.join(', '),
    });
  }
  return [...new Set(policy.specific.versions)].sort((a, b) => a - b);
}

/** Scans one model directory (never throws: errors land in `error`). */
export function scanModel(dir: string, name: string): RepositoryModel {
  const m: RepositoryModel = { name, dir, versions: [], warnings: [] };
  try {
    const cfgFile = join(dir, 'config.pbtxt');
    if (!existsSync(cfgFile)) {
      throw badInput('the model has no config.pbtxt', {
        file: cfgFile,
        expected: 'a Triton model config',
        found: 'nothing',
      });
    }
    const parsed = parseModelConfig(readFileSync(cfgFile, 'utf8'), cfgFile, name);
    m.config = parsed.config;
    m.warnings.push(...parsed.warnings);
    const platform = parsed.config.platform;
    const backend = parsed.config.backend;
    if (platform === 'ensemble' || parsed.config.ensembleScheduling !== undefined) {
      checkEnsembleConfig(parsed.config, cfgFile);
      const available = versionDirs(dir);
      if (available.length === 0) {
        throw badInput('the ensemble has no version directory', {
          file: dir,
          expected: 'a numeric directory such as 1/ (empty: an ensemble has no model file)',
          found: 'none',
        });
      }
      for (const v of selectVersions(available, parsed.config.versionPolicy, cfgFile))
        m.versions.push({ version: v, modelPath: join(dir, String(v)) });
      return m;
    }
    if (
      (platform !== undefined && platform !== 'onnxruntime_onnx') ||
      (backend !== undefined && backend !== 'onnxruntime')
    ) {
      throw badInput('unsupported platform/backend', {
        file: cfgFile,
        field: platform !== undefined ? 'platform' : 'backend',
        expected: 'platform "onnxruntime_onnx" or backend "onnxruntime"',
        found: JSON.stringify(platform ?? backend),
      });
    }
    const available = versionDirs(dir);
    if (available.length === 0) {
      throw badInput('the model has no version directory', {
        file: dir,
        expected: 'a numeric directory such as 1/',
        found: 'none',
      });
    }
    const fileName = parsed.config.defaultModelFilename ?? 'model.onnx';
    for (const v of selectVersions(available, parsed.config.versionPolicy, cfgFile)) {
      let modelPath = join(dir, String(v), fileName);
      if (existsSync(modelPath) && statSync(modelPath).isDirectory())
        modelPath = join(modelPath, 'model.onnx');
      if (!existsSync(modelPath)) {
        throw badInput('a version has no model file', {
          file: join(dir, String(v)),
          expected: fileName,
          found: 'nothing',
        });
      }
      m.versions.push({ version: v, modelPath });
    }
  } catch (err) {
    m.error = asDrivegateError(err);
  }
  return m;
}

/** Scans every model directory of a repository; a missing repository is NOT_FOUND. */
export function scanRepository(repoDir: string): RepositoryModel[] {
  if (!existsSync(repoDir) || !statSync(repoDir).isDirectory()) {
    throw new DrivegateError('NOT_FOUND', 'the model repository does not exist', {
      file: repoDir,
      expected: 'a directory of model directories',
      found: 'nothing',
    });
  }
  return readdirSync(repoDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort()
    .map((name) => scanModel(join(repoDir, name), name));
}
