/**
 * Image file checks of a manifest: every `image` exists under the manifest's folder and its
 * sha256 (streamed) matches the record. Paths that leave the manifest's folder are findings too.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { sha256File } from '../../core/digest.js';
import { CappedList, DEFAULT_CAP } from './findings.js';
import type { Capped } from './findings.js';
import type { ManifestRow } from './manifest.js';

/** A file finding: the record, the image path and what is wrong. */
export interface FileFinding {
  file: string;
  line: number;
  image: string;
  problem: 'missing' | 'digest_mismatch' | 'outside_manifest_folder' | 'not_a_file';
  expected?: string;
  found?: string;
}

/** The outcome of the file checks of one manifest. */
export interface FileCheckReport {
  passed: boolean;
  /** Records whose file was looked at. */
  checked: number;
  bytes: number;
  findings: Capped<FileFinding>;
}

/** Options of checkFiles. */
export interface FileCheckOptions {
  /** Files hashed at once (default 4). */
  concurrency?: number;
  cap?: number;
}

/**
 * Checks the image files of the rows (those that passed the schema) against `baseDir` (the
 * manifest's folder). Files are hashed streamed, a few at a time.
 */
export async function checkFiles(
  rows: ReadonlyArray<ManifestRow>,
  baseDir: string,
  options: FileCheckOptions = {},
): Promise<FileCheckReport> {
  const findings: FileFinding[] = [];
  const todo = rows.filter((r) => r.record !== null);
  let next = 0;
  let bytes = 0;
  const root = resolve(baseDir);
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const row = todo[i];
      if (row === undefined || row.record === null) return;
      const image = row.record.image;
      const at = { file: row.file, line: row.line, image };
      const path = resolve(root, image);
      const rel = relative(root, path);
      if (isAbsolute(image) || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel)) {
        findings.push({ ...at, problem: 'outside_manifest_folder', expected: `a path inside ${root}` });
        continue;
      }
      try {
        const st = await stat(path);
        if (!st.isFile()) {
          findings.push({ ...at, problem: 'not_a_file' });
          continue;
        }
      } catch {
        findings.push({ ...at, problem: 'missing' });
        continue;
      }
      const { sha256, size } = await sha256File(path);
      bytes += size;
      if (sha256 !== row.record.sha256) {
        findings.push({ ...at, problem: 'digest_mismatch', expected: row.record.sha256, found: sha256 });
      }
    }
  };
  const n = Math.max(1, Math.min(options.concurrency ?? 4, todo.length));
  await Promise.all(Array.from({ length: n }, () => worker()));
  // Workers finish out of order: list findings in file order.
  findings.sort((a, b) => a.line - b.line);
  const capped = new CappedList<FileFinding>(options.cap ?? DEFAULT_CAP);
  for (const f of findings) capped.push(f);
  return { passed: findings.length === 0, checked: todo.length, bytes, findings: capped.toJSON() };
}
