/**
 * Field paths into a report: `overall.map`, `latency.p95_ms`, `overall.per_class.car.ap`,
 * `slices[*].metrics.map` (every element), `slices[2].metrics.map` (by index),
 * `slices[name=night].metrics.map` (by a field's value). At most one `[*]` per path.
 */

/** One step of a path. */
export type PathSegment =
  | { kind: 'key'; key: string }
  | { kind: 'index'; index: number }
  | { kind: 'wildcard' }
  | { kind: 'select'; key: string; value: string };

/** A parsed path: the steps before the wildcard, and after it (when there is one). */
export interface FieldPath {
  text: string;
  segments: PathSegment[];
  /** Index of the `[*]` segment, or -1. */
  wildcardAt: number;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*/;

/** Parses a path; throws an Error with the reason on bad syntax (callers add file and line). */
export function parsePath(text: string): FieldPath {
  const segments: PathSegment[] = [];
  let rest = text;
  let first = true;
  while (rest.length > 0) {
    if (rest.startsWith('[')) {
      const end = rest.indexOf(']');
      if (end < 0) throw new Error(`unclosed '[' in '${text}'`);
      const inner = rest.slice(1, end);
      if (inner === '*') segments.push({ kind: 'wildcard' });
      else if (/^\d+$/.test(inner)) segments.push({ kind: 'index', index: Number(inner) });
      else {
        const m = /^([A-Za-z_][A-Za-z0-9_-]*)=(.+)$/.exec(inner);
        if (m === null)
          throw new Error(`bad selector '[${inner}]' in '${text}' (use [*], [N] or [key=value])`);
        segments.push({ kind: 'select', key: m[1]!, value: m[2]! });
      }
      rest = rest.slice(end + 1);
    } else {
      if (!first) {
        if (!rest.startsWith('.')) throw new Error(`expected '.' or '[' at '${rest}' in '${text}'`);
        rest = rest.slice(1);
      }
      const m = IDENT.exec(rest);
      if (m === null) throw new Error(`expected a field name at '${rest}' in '${text}'`);
      segments.push({ kind: 'key', key: m[0] });
      rest = rest.slice(m[0].length);
    }
    first = false;
  }
  if (segments.length === 0) throw new Error('empty path');
  const wild = segments.filter((s) => s.kind === 'wildcard').length;
  if (wild > 1) throw new Error(`at most one [*] per path ('${text}' has ${wild})`);
  return { text, segments, wildcardAt: segments.findIndex((s) => s.kind === 'wildcard') };
}

/** The outcome of following some segments: the value, or where and why it stopped. */
export type Resolved = { ok: true; value: unknown } | { ok: false; at: string; reason: string };

/** Formats segments back to text. */
export function formatSegments(segments: ReadonlyArray<PathSegment>): string {
  let out = '';
  for (const s of segments) {
    if (s.kind === 'key') out += out === '' ? s.key : `.${s.key}`;
    else if (s.kind === 'index') out += `[${s.index}]`;
    else if (s.kind === 'wildcard') out += '[*]';
    else out += `[${s.key}=${s.value}]`;
  }
  return out;
}

/** Follows segments (no wildcard) from `root`. A missing key is an error, never undefined. */
export function follow(root: unknown, segments: ReadonlyArray<PathSegment>, prefix = ''): Resolved {
  let cur = root;
  let at = prefix;
  for (const s of segments) {
    const here =
      at === '' ? formatSegments([s]) : at + (s.kind === 'key' ? `.${s.key}` : formatSegments([s]));
    if (s.kind === 'key') {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) {
        return { ok: false, at: here, reason: `'${at || '(report)'}' is not an object` };
      }
      if (!Object.prototype.hasOwnProperty.call(cur, s.key))
        return { ok: false, at: here, reason: `no field '${here}'` };
      cur = (cur as Record<string, unknown>)[s.key];
    } else {
      if (!Array.isArray(cur)) return { ok: false, at: here, reason: `'${at || '(report)'}' is not a list` };
      if (s.kind === 'index') {
        if (s.index >= cur.length)
          return { ok: false, at: here, reason: `'${at}' has ${cur.length} element(s), no [${s.index}]` };
        cur = cur[s.index];
      } else if (s.kind === 'select') {
        const hit = cur.find(
          (e) =>
            e !== null && typeof e === 'object' && String((e as Record<string, unknown>)[s.key]) === s.value,
        );
        if (hit === undefined)
          return { ok: false, at: here, reason: `'${at}' has no element with ${s.key}=${s.value}` };
        cur = hit;
      } else {
        return { ok: false, at: here, reason: 'unexpected [*]' };
      }
    }
    at = here;
  }
  return { ok: true, value: cur };
}
