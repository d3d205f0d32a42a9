/**
 * Helpers that build small Triton-layout repositories from the runtime's test models, for the serve
 * tests and benchmarks.
 */
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../core/paths.js';

/** A model to put into a test repository. */
export interface TestModelSpec {
  name: string;
  /** The ONNX file to copy into each version directory. */
  onnx: string;
  /** config.pbtxt text (undefined = no config file). */
  config: string | undefined;
  /** Version directories to create (default [1]). */
  versions?: number[];
}

/** The path of a runtime test model (src/runtime/testdata/<name>.onnx). */
export function runtimeTestModel(name: string): string {
  return join(packageRoot(), 'src', 'runtime', 'testdata', `${name}.onnx`);
}

/** Writes a repository into a fresh temp folder and returns its path. */
export function writeTestRepository(models: TestModelSpec[]): string {
  const repo = mkdtempSync(join(tmpdir(), 'drivegate-repo-'));
  for (const m of models) {
    const dir = join(repo, m.name);
    mkdirSync(dir, { recursive: true });
    if (m.config !== undefined) writeFileSync(join(dir, 'config.pbtxt'), m.config);
    for (const v of m.versions ?? [1]) {
      mkdirSync(join(dir, String(v)), { recursive: true });
      copyFileSync(m.onnx, join(dir, String(v), 'model.onnx'));
    }
  }
  return repo;
}
