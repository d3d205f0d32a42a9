/**
 * A pull-style JSON reader over bytes, built for large COCO files: it reads the file in chunks
 * (synchronously, bounded memory) and lets the caller pull keys and values one at a time, so records
 * can go straight into typed arrays without building a JavaScript object per record.
 *
 * Restartable units: a caller parses one record inside `unit(fn)`. When a record crosses the end of
 * the bytes read so far, the reader throws an internal signal, reads more (keeping the record's bytes)
 * and runs `fn` again from the record's start. `fn` must therefore only commit its effects at its end.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { badInput } from '../../../core/errors.js';

const NEED_MORE: unique symbol = Symbol('json-scan: need more bytes');

/** The kind of the next JSON value. */
export type JsonKind = 'object' | 'array' | 'string' | 'number' | 'true' | 'false' | 'null';

const POW10 = [
  1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
  1e20, 1e21, 1e22,
];

/** Where the bytes come from: a file read in chunks, or bytes already in memory. */
export type JsonSource = { path: string } | { bytes: Uint8Array; name: string };

/**
 * Reads JSON from a file (chunked) or from memory. Errors are BAD_INPUT naming the file, line and byte.
 */
export class JsonScanner {
  /** The name used in error messages (the file path). */
  readonly file: string;
  private buf: Buffer;
  private pos = 0;
  private end = 0;
  private eof: boolean;
  private fd: number | null;
  private consumed = 0; // bytes dropped from the front of buf so far
  private linesDropped = 0; // newlines in the dropped bytes
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(source: JsonSource, chunkBytes = 1 << 22) {
    if ('path' in source) {
      this.file = source.path;
      this.fd = openSync(source.path, 'r');
      this.buf = Buffer.allocUnsafe(chunkBytes);
      this.eof = false;
    } else {
      this.file = source.name;
      this.fd = null;
      this.buf = Buffer.from(source.bytes.buffer, source.bytes.byteOffset, source.bytes.length);
      this.end = source.bytes.length;
      this.eof = true;
    }
  }

  /** Closes the file (safe to call twice). */
  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }

  /**
   * Runs `fn` as a restartable unit: if it runs out of bytes, more are read and `fn` runs again from
   * the same position. At the end of the input, a unit that still needs bytes is a syntax error.
   */
  unit<T>(fn: () => T): T {
    for (;;) {
      const start = this.pos;
      try {
        return fn();
      } catch (e) {
        if (e !== NEED_MORE) throw e;
        this.pos = start;
        this.refill();
      }
    }
  }

  private refill(): void {
    if (this.eof || this.fd === null) throw this.syntax('unexpected end of file');
    const keep = this.pos;
    if (keep > 0) {
      for (let p = 0; p < keep; p++) if (this.buf[p] === 10) this.linesDropped++;
      this.buf.copyWithin(0, keep, this.end);
      this.end -= keep;
      this.pos = 0;
      this.consumed += keep;
    }
    if (this.end === this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      bigger.set(this.buf.subarray(0, this.end));
      this.buf = bigger;
    }
    const n = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, null);
    if (n === 0) this.eof = true;
    this.end += n;
  }

  /** A BAD_INPUT error at the current position. */
  syntax(message: string): Error {
    let line = this.linesDropped + 1;
    const upto = Math.min(this.pos, this.end);
    for (let p = 0; p < upto; p++) if (this.buf[p] === 10) line++;
    return badInput(`malformed JSON: ${message} (byte ${this.consumed + this.pos})`, {
      file: this.file,
      line,
    });
  }

  /** The byte at the current position after whitespace, or -1 at the end of the input. */
  peek(): number {
    const buf = this.buf;
    let p = this.pos;
    for (;;) {
      if (p >= this.end) {
        this.pos = p;
        if (this.eof) return -1;
        throw NEED_MORE;
      }
      const c = buf[p]!;
      if (c === 32 || c === 10 || c === 13 || c === 9) p++;
      else {
        this.pos = p;
        return c;
      }
    }
  }

  /** The kind of the next value (after whitespace). */
  kind(): JsonKind {
    const c = this.peek();
    switch (c) {
      case 123:
        return 'object';
      case 91:
        return 'array';
      case 34:
        return 'string';
      case 116:
        return 'true';
      case 102:
        return 'false';
      case 110:
        return 'null';
      default:
        // NaN and Infinity are not JSON, but Python's json module writes them; read them as numbers
        // so that validation can name the record and field.
        if (c === 45 || (c >= 48 && c <= 57) || c === 78 || c === 73) return 'number';
        throw c === -1 ? this.syntax('unexpected end of file') : this.syntax(`unexpected ${describe(c)}`);
    }
  }

  /** Consumes the byte `c` (after whitespace) or fails. */
  expect(c: number): void {
    const got = this.peek();
    if (got !== c) {
      throw this.syntax(
        `expected '${String.fromCharCode(c)}', found ${got === -1 ? 'end of file' : describe(got)}`,
      );
    }
    this.pos++;
  }

  /** Checks that only whitespace remains. */
  expectEnd(): void {
    this.unit(() => {
      const c = this.peek();
      if (c !== -1) throw this.syntax(`unexpected ${describe(c)} after the end of the JSON value`);
    });
  }

  /**
   * After '{' or a member value: returns true when another member follows (consuming ',' when needed),
   * false at '}' (consumed). `first` says whether this is the first call for this object.
   */
  nextMember(first: boolean): boolean {
    const c = this.peek();
    if (c === 125) {
      this.pos++;
      return false;
    }
    if (!first) {
      if (c !== 44) throw this.syntax(`expected ',' or '}', found ${c === -1 ? 'end of file' : describe(c)}`);
      this.pos++;
    }
    return true;
  }

  /** Like nextMember, for arrays (']' ends). */
  nextElement(first: boolean): boolean {
    const c = this.peek();
    if (c === 93) {
      this.pos++;
      return false;
    }
    if (!first) {
      if (c !== 44) throw this.syntax(`expected ',' or ']', found ${c === -1 ? 'end of file' : describe(c)}`);
      this.pos++;
    }
    return true;
  }

  /**
   * Reads a member key and the ':' after it, returning the index of the key in `known` (byte-compared,
   * no string made) or -1 for any other key.
   */
  key(known: readonly Uint8Array[]): number {
    if (this.peek() !== 34) throw this.syntax(`expected a member name, found ${describe(this.peek())}`);
    const buf = this.buf;
    const start = this.pos + 1;
    let p = start;
    let escaped = false;
    for (;;) {
      if (p >= this.end) throw this.eof ? this.syntax('unterminated string') : NEED_MORE;
      const c = buf[p]!;
      if (c === 34) break;
      if (c === 92) {
        escaped = true;
        p += 2;
      } else p++;
    }
    let found = -1;
    if (!escaped) {
      const len = p - start;
      for (let k = 0; k < known.length; k++) {
        const name = known[k]!;
        if (name.length !== len) continue;
        let same = true;
        for (let j = 0; j < len; j++) {
          if (buf[start + j] !== name[j]) {
            same = false;
            break;
          }
        }
        if (same) {
          found = k;
          break;
        }
      }
      this.pos = p + 1;
    } else {
      const s = this.string();
      const enc = new TextEncoder().encode(s);
      for (let k = 0; k < known.length; k++) if (Buffer.compare(known[k]!, enc) === 0) found = k;
    }
    this.expect(58);
    return found;
  }

  /** Reads a string value. */
  string(): string {
    if (this.peek() !== 34) throw this.syntax(`expected a string, found ${describe(this.peek())}`);
    const buf = this.buf;
    const start = this.pos + 1;
    let p = start;
    let ascii = true;
    let escaped = false;
    for (;;) {
      if (p >= this.end) throw this.eof ? this.syntax('unterminated string') : NEED_MORE;
      const c = buf[p]!;
      if (c === 34) break;
      if (c === 92) {
        escaped = true;
        p += 2;
        continue;
      }
      if (c < 32) throw this.syntax('control character in a string');
      if (c >= 128) ascii = false;
      p++;
    }
    if (p >= this.end) throw this.eof ? this.syntax('unterminated string') : NEED_MORE;
    this.pos = p + 1;
    if (!escaped) {
      return buf.toString(ascii ? 'latin1' : 'utf8', start, p);
    }
    const raw = this.decoder.decode(buf.subarray(start - 1, p + 1));
    try {
      return JSON.parse(raw) as string;
    } catch {
      this.pos = start - 1;
      throw this.syntax('bad escape in a string');
    }
  }

  /**
   * Reads a string value and returns where its bytes are in `bytes()` (between the quotes), valid until
   * the next read; `escapes` counts backslash escapes, `onlyBackslashEscapes` says all are "\\".
   */
  stringRange(): { start: number; end: number; escapes: number; onlyBackslashEscapes: boolean } {
    if (this.peek() !== 34) throw this.syntax(`expected a string, found ${describe(this.peek())}`);
    const buf = this.buf;
    const start = this.pos + 1;
    let p = start;
    let escapes = 0;
    let onlyBackslash = true;
    for (;;) {
      if (p >= this.end) throw this.eof ? this.syntax('unterminated string') : NEED_MORE;
      const c = buf[p]!;
      if (c === 34) break;
      if (c === 92) {
        if (p + 1 >= this.end) throw this.eof ? this.syntax('unterminated string') : NEED_MORE;
        escapes++;
        if (buf[p + 1] !== 92) onlyBackslash = false;
        p += 2;
        continue;
      }
      if (c < 32) throw this.syntax('control character in a string');
      p++;
    }
    this.pos = p + 1;
    return { start, end: p, escapes, onlyBackslashEscapes: onlyBackslash };
  }

  /** The bytes read so far (see stringRange). */
  bytes(): Uint8Array {
    return this.buf;
  }

  /** Decodes the string at a range returned by stringRange (escapes resolved). */
  decodeString(range: { start: number; end: number }): string {
    const raw = this.buf.toString('utf8', range.start - 1, range.end + 1);
    try {
      return JSON.parse(raw) as string;
    } catch {
      throw this.syntax('bad escape in a string');
    }
  }

  /** Reads a number value. Exact: falls back to the platform parser beyond the fast exact path. */
  number(): number {
    const c0 = this.peek();
    if (c0 === 78) return this.word('NaN', NaN);
    if (c0 === 73) return this.word('Infinity', Infinity);
    if (c0 === 45 && this.pos + 1 < this.end && this.buf[this.pos + 1] === 73) {
      this.pos++;
      return -this.word('Infinity', Infinity);
    }
    if (c0 !== 45 && (c0 < 48 || c0 > 57)) {
      throw this.syntax(`expected a number, found ${c0 === -1 ? 'end of file' : describe(c0)}`);
    }
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    const neg = c0 === 45;
    if (neg) p++;
    let mant = 0;
    let digits = 0;
    let exp10 = 0;
    let intDigits = 0;
    let c = -1;
    // integer part
    for (;;) {
      if (p >= this.end) {
        if (!this.eof) throw NEED_MORE;
        c = -1;
        break;
      }
      c = buf[p]!;
      if (c < 48 || c > 57) break;
      if (digits > 0 || c !== 48) {
        mant = mant * 10 + (c - 48);
        digits++;
      }
      intDigits++;
      p++;
    }
    if (intDigits === 0) throw this.syntax('bad number');
    if (c === 46) {
      p++;
      let frac = 0;
      for (;;) {
        if (p >= this.end) {
          if (!this.eof) throw NEED_MORE;
          c = -1;
          break;
        }
        c = buf[p]!;
        if (c < 48 || c > 57) break;
        if (digits > 0 || c !== 48) {
          mant = mant * 10 + (c - 48);
          digits++;
        }
        exp10--;
        frac++;
        p++;
      }
      if (frac === 0) throw this.syntax('bad number');
    }
    if (c === 101 || c === 69) {
      p++;
      if (p >= this.end && !this.eof) throw NEED_MORE;
      let esign = 1;
      if (buf[p] === 43 || buf[p] === 45) {
        if (buf[p] === 45) esign = -1;
        p++;
      }
      let e = 0;
      let ed = 0;
      for (;;) {
        if (p >= this.end) {
          if (!this.eof) throw NEED_MORE;
          break;
        }
        const d = buf[p]!;
        if (d < 48 || d > 57) break;
        e = e * 10 + (d - 48);
        ed++;
        p++;
      }
      if (ed === 0) throw this.syntax('bad number');
      exp10 += esign * e;
    }
    this.pos = p;
    if (digits <= 15 && exp10 >= -22 && exp10 <= 22) {
      // mant < 2^53 and 10^|exp10| exact: one correctly rounded operation.
      const v = exp10 < 0 ? mant / POW10[-exp10]! : mant * POW10[exp10]!;
      return neg ? -v : v;
    }
    return Number(buf.toString('latin1', start, p));
  }

  private word(text: string, value: number): number {
    for (let i = 0; i < text.length; i++) {
      const p = this.pos + i;
      if (p >= this.end) throw this.eof ? this.syntax('unexpected end of file') : NEED_MORE;
      if (this.buf[p] !== text.charCodeAt(i)) throw this.syntax(`bad literal, expected ${text}`);
    }
    this.pos += text.length;
    return value;
  }

  /** Skips one value of any kind. */
  skip(): void {
    const k = this.kind();
    switch (k) {
      case 'object': {
        this.pos++;
        let first = true;
        while (this.nextMember(first)) {
          first = false;
          this.string();
          this.expect(58);
          this.skip();
        }
        return;
      }
      case 'array': {
        this.pos++;
        let first = true;
        while (this.nextElement(first)) {
          first = false;
          this.skip();
        }
        return;
      }
      case 'string':
        this.string();
        return;
      case 'number':
        this.number();
        return;
      default:
        this.literal(k);
    }
  }

  /** Reads true/false/null, returning its value. */
  literal(k: 'true' | 'false' | 'null'): boolean | null {
    const text = k;
    for (let i = 0; i < text.length; i++) {
      const p = this.pos + i;
      if (p >= this.end) throw this.eof ? this.syntax('unexpected end of file') : NEED_MORE;
      if (this.buf[p] !== text.charCodeAt(i)) throw this.syntax(`bad literal, expected ${text}`);
    }
    this.pos += text.length;
    return k === 'true' ? true : k === 'false' ? false : null;
  }

  /** Reads any value into a plain JavaScript value (for small parts such as a category entry). */
  value(): unknown {
    const k = this.kind();
    switch (k) {
      case 'object': {
        this.pos++;
        const out: Record<string, unknown> = {};
        let first = true;
        while (this.nextMember(first)) {
          first = false;
          const name = this.string();
          this.expect(58);
          out[name] = this.value();
        }
        return out;
      }
      case 'array': {
        this.pos++;
        const out: unknown[] = [];
        let first = true;
        while (this.nextElement(first)) {
          first = false;
          out.push(this.value());
        }
        return out;
      }
      case 'string':
        return this.string();
      case 'number':
        return this.number();
      default:
        return this.literal(k);
    }
  }
}

function describe(c: number): string {
  if (c === -1) return 'end of file';
  if (c >= 32 && c < 127) return `'${String.fromCharCode(c)}'`;
  return `byte 0x${c.toString(16).padStart(2, '0')}`;
}

/** Encodes member names once, for `JsonScanner.key`. */
export function keyTable(names: readonly string[]): Uint8Array[] {
  const enc = new TextEncoder();
  return names.map((n) => enc.encode(n));
}
