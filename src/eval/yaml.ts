/**
 * YAML policy files of the evaluation workflow (expectations, leakage policy, gates, slices,
 * waivers): parsed with line tracking and validated with zod, so that every error names the file,
 * the key path and the line.
 */
import { LineCounter, parseDocument, isMap, isPair, isScalar, isSeq } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { badInput } from '../core/errors.js';
import { readInputFile } from '../core/fsutil.js';

/** A parsed YAML document that can tell the line of any key path in it. */
export interface YamlSource {
  /** The file name used in errors. */
  file: string;
  /** The document as plain JS values. */
  value: unknown;
  /** The 1-based line of the node at `path` (or of its nearest existing parent), when known. */
  lineOf(path: ReadonlyArray<string | number>): number | undefined;
}

/**
 * Parses YAML text (JSON is YAML too). Broken YAML is BAD_INPUT naming the file and the line of
 * the first error; duplicate keys are errors too.
 */
export function parseYamlSource(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    throw badInput(`invalid YAML: ${first.message.split('\n')[0] ?? first.code}`, {
      file,
      line: lineCounter.linePos(first.pos[0]).line,
      expected: 'well-formed YAML',
      found: first.code,
    });
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  return { file, value, lineOf: (path) => lineOfPath(doc, lineCounter, path) };
}

function lineOfPath(
  doc: Document,
  lc: LineCounter,
  path: ReadonlyArray<string | number>,
): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n);
    const node = (sub.length === 0 ? doc.contents : doc.getIn(sub, true)) as YamlNode | null | undefined;
    // Prefer the key's line for a mapping entry: it is where a reader looks.
    if (n > 0) {
      const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
      const key = path[n - 1];
      if (isMap(parent)) {
        for (const item of parent.items) {
          if (
            isPair(item) &&
            isScalar(item.key) &&
            String(item.key.value) === String(key) &&
            item.key.range
          ) {
            return lc.linePos(item.key.range[0]).line;
          }
        }
      } else if (isSeq(parent) && typeof key === 'number') {
        const item = parent.items[key] as YamlNode | undefined;
        if (item?.range) return lc.linePos(item.range[0]).line;
      }
    }
    if (node?.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Reads and parses a YAML file; a missing file is NOT_FOUND, an unreadable one BAD_INPUT. */
export async function readYamlSource(file: string): Promise<YamlSource> {
  const text = (await readInputFile(file)).toString('utf8');
  return parseYamlSource(text, file);
}

/**
 * Validates `value` (found at `path` inside `src`) with a zod schema. The first issue becomes a
 * BAD_INPUT error naming the file, the key path, its line, what was expected and what was found.
 */
export function validateWith<T>(
  src: YamlSource,
  schema: z.ZodType<T>,
  value: unknown = src.value,
  path: ReadonlyArray<string | number> = [],
): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const issuePath = [...path, ...(issue?.path ?? []).map((p) => (typeof p === 'number' ? p : String(p)))];
  let found = describeFound(getIn(src.value, issuePath));
  let fullPath = issuePath;
  let expected = issue?.message ?? 'a valid value';
  if (issue?.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    fullPath = [...issuePath, key];
    expected = 'no other keys';
    found = `unknown key ${JSON.stringify(key)}`;
  } else if (issue?.code === 'invalid_type') {
    expected =
      issue.expected === 'object'
        ? 'a mapping'
        : issue.expected === 'array'
          ? 'a list'
          : `a ${issue.expected}`;
  } else if (issue?.code === 'invalid_value') {
    expected = `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  const line = src.lineOf(fullPath);
  throw badInput('invalid value', {
    file: src.file,
    field: formatPath(fullPath) || '(document)',
    ...(line !== undefined ? { line } : {}),
    expected,
    found,
  });
}

/** Formats a key path as `rules[2].kind`. */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

function getIn(value: unknown, path: ReadonlyArray<string | number>): unknown {
  let cur = value;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

/** A short description of a found value for error messages. */
export function describeFound(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const s = JSON.stringify(value);
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}
