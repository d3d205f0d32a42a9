/**
 * A small reader and writer for the protobuf text format, as Triton's config.pbtxt uses it: fields
 * `name: value` or `name { ... }` (also `<...>`), repeated fields as repeated entries or `[a, b]`
 * lists, double/single-quoted strings, numbers, bare identifiers (enums, booleans) and `#` comments.
 * The result is a generic, order-preserving tree; model-config.ts gives it meaning.
 */
import { badInput } from '../core/errors.js';

/** One value of the text format. */
export type PbValue =
  | { kind: 'string'; value: string }
  | { kind: 'number'; text: string }
  | { kind: 'ident'; value: string }
  | { kind: 'message'; fields: PbField[] };

/** One field entry (a repeated field has one entry per element). */
export interface PbField {
  name: string;
  value: PbValue;
  /** The 1-based line the field started on (0 when built in code). */
  line: number;
}

/** A message: its fields in order. */
export type PbMessage = PbField[];

interface Token {
  t: 'ident' | 'string' | 'number' | 'punct';
  v: string;
  line: number;
}

function tokenize(text: string, file: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if ('{}[]<>:,;'.includes(c)) {
      out.push({ t: 'punct', v: c, line });
      i++;
    } else if (c === '"' || c === "'") {
      const start = line;
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length || text[i] === '\n') {
          throw badInput('unterminated string', {
            file,
            line: start,
            expected: `a closing ${c}`,
            found: 'end of line',
          });
        }
        const d = text[i]!;
        if (d === c) {
          i++;
          break;
        }
        if (d === '\\') {
          const e = text[i + 1];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" };
          if (e !== undefined && e in map) {
            s += map[e]!;
            i += 2;
            continue;
          }
          throw badInput('unsupported escape in string', {
            file,
            line,
            expected: '\\n \\t \\r \\\\ \\" or \\\'',
            found: `\\${e ?? ''}`,
          });
        }
        s += d;
        i++;
      }
      out.push({ t: 'string', v: s, line: start });
    } else if (/[-+0-9.]/.test(c)) {
      const m = /^[-+]?(0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?[fF]?|inf|nan)/.exec(
        text.slice(i),
      );
      if (m === null || m[0] === '' || m[0] === '-' || m[0] === '+') {
        throw badInput('bad number', {
          file,
          line,
          expected: 'a number',
          found: JSON.stringify(text.slice(i, i + 12)),
        });
      }
      out.push({ t: 'number', v: m[0], line });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i))!;
      out.push({ t: 'ident', v: m[0], line });
      i += m[0].length;
    } else {
      throw badInput('unexpected character', {
        file,
        line,
        expected: 'a field, value or punctuation',
        found: JSON.stringify(c),
      });
    }
  }
  return out;
}

/**
 * Parses protobuf text format into a field tree. Syntax errors are BAD_INPUT naming the file and
 * line; semantics (which fields exist) are the caller's business.
 */
export function parsePbtxt(text: string, file = '<pbtxt>'): PbMessage {
  const toks = tokenize(text, file);
  let p = 0;
  const peek = (): Token | undefined => toks[p];
  const lastLine = (): number => toks[toks.length - 1]?.line ?? 1;
  const fail = (msg: string, expected: string): never => {
    const t = peek();
    throw badInput(msg, {
      file,
      line: t?.line ?? lastLine(),
      expected,
      found: t === undefined ? 'end of file' : JSON.stringify(t.v),
    });
  };
  const isPunct = (v: string): boolean => peek()?.t === 'punct' && peek()!.v === v;

  const parseScalar = (): PbValue => {
    const t = peek();
    if (t === undefined || t.t === 'punct') return fail('bad value', 'a string, number or identifier');
    p++;
    if (t.t === 'string') {
      let v = t.v;
      while (peek()?.t === 'string') v += toks[p++]!.v;
      return { kind: 'string', value: v };
    }
    if (t.t === 'number') return { kind: 'number', text: t.v };
    return { kind: 'ident', value: t.v };
  };

  const parseMessage = (close: string | undefined): PbMessage => {
    const fields: PbMessage = [];
    for (;;) {
      const t = peek();
      if (t === undefined) {
        if (close === undefined) return fields;
        return fail('unterminated message', `'${close}'`);
      }
      if (close !== undefined && isPunct(close)) {
        p++;
        return fields;
      }
      if (t.t !== 'ident') return fail('bad field', 'a field name');
      p++;
      const name = t.v;
      let colon = false;
      if (isPunct(':')) {
        p++;
        colon = true;
      }
      const values: PbValue[] = [];
      const one = (): PbValue => {
        if (isPunct('{')) {
          p++;
          return { kind: 'message', fields: parseMessage('}') };
        }
        if (isPunct('<')) {
          p++;
          return { kind: 'message', fields: parseMessage('>') };
        }
        if (!colon) return fail(`field '${name}' needs ':' before a scalar value`, "':' or '{'");
        return parseScalar();
      };
      if (isPunct('[')) {
        p++;
        colon = true;
        if (isPunct(']')) p++;
        else
          for (;;) {
            values.push(one());
            if (isPunct(',')) {
              p++;
              continue;
            }
            if (isPunct(']')) {
              p++;
              break;
            }
            fail(`bad list for field '${name}'`, "',' or ']'");
          }
      } else {
        values.push(one());
      }
      for (const value of values) fields.push({ name, value, line: t.line });
      if (isPunct(',') || isPunct(';')) p++;
    }
  };
  return parseMessage(undefined);
}

function quote(s: string): string {
  return (
    '"' +
    s
      .replace(/\\/g, '\\\\')
      .replace(/"/g, '\\"')
      .replace(/\n/g, '\\n')
      .replace(/\t/g, '\\t')
      .replace(/\r/g, '\\r') +
    '"'
  );
}

/** Writes a field tree as protobuf text format (two-space indent, one field per line). */
export function writePbtxt(msg: PbMessage, indent = ''): string {
  let out = '';
  for (const f of msg) {
    const v = f.value;
    if (v.kind === 'message') {
      if (v.fields.length === 0) out += `${indent}${f.name} {}\n`;
      else out += `${indent}${f.name} {\n${writePbtxt(v.fields, indent + '  ')}${indent}}\n`;
    } else if (v.kind === 'string') out += `${indent}${f.name}: ${quote(v.value)}\n`;
    else if (v.kind === 'number') out += `${indent}${f.name}: ${v.text}\n`;
    else out += `${indent}${f.name}: ${v.value}\n`;
  }
  return out;
}
