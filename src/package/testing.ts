/**
 * For tests: a fast recipe for the reference detector (few equivalence samples and bench
 * iterations), written into a temporary folder, and a snapshot of a workspace store's files.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { packageRoot } from '../core/paths.js';

/** Writes examples/recipe.yaml with small equivalence/microbench settings to `dir`; returns its path. */
export function writeFastRecipe(dir: string, edit: (text: string) => string = (t) => t): string {
  const text = readFileSync(join(packageRoot(), 'examples', 'recipe.yaml'), 'utf8')
    .replace(/samples: \d+/, 'samples: 4')
    .replace(/iterations: \d+/, 'iterations: 3')
    .replace(/warmup: \d+/, 'warmup: 1')
    .replace(/batch_sizes: \[[^\]]*\]/, 'batch_sizes: [1]');
  const path = join(dir, 'recipe.yaml');
  writeFileSync(path, edit(text));
  return path;
}

/** Every file under `dir` (recursively) with its sha256, as `path sha256` lines, sorted; '' when absent. */
export function snapshotFiles(dir: string): string {
  const out: string[] = [];
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(`${relative(dir, p)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return out.sort().join('\n');
}
