/**
 * OpenSCENARIO parameters: declarations, typed values, scopes (global, Story, Maneuver, entity), `$name`
 * references and the 1.1+ `${...}` expressions (+ - * / %, unary minus, parentheses, round, floor, ceil,
 * sqrt, pow, not, and, or).
 */
import { badInput } from '../../core/errors.js';
import type { ParamValue } from '../types.js';
import type { XNode } from './xml.js';
import { childrenNamed } from './xml.js';

/** A declared parameter as written. */
export interface ParamDecl {
  name: string;
  type: string;
  value: string;
  line: number;
}

/** Reads a ParameterDeclarations element (undefined = none). */
export function readDeclarations(node: XNode | undefined): ParamDecl[] {
  if (node === undefined) return [];
  return childrenNamed(node, 'ParameterDeclaration').map((d) => ({
    name: d.attrs['name'] ?? '',
    type: d.attrs['parameterType'] ?? 'string',
    value: d.attrs['value'] ?? '',
    line: d.line,
  }));
}

/** Where a value comes from, for messages. */
export interface Where {
  file: string;
  line: number;
  field: string;
}

/** Converts a textual value to the declared parameter type. */
export function coerce(type: string, raw: string | ParamValue, where: Where): ParamValue {
  if (typeof raw !== 'string') {
    if (type === 'boolean') return Boolean(raw);
    if (type === 'string' || type === 'dateTime') return String(raw);
    return checkNumber(type, Number(raw), String(raw), where);
  }
  switch (type) {
    case 'boolean':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw badInput('bad boolean parameter value', {
        ...where,
        expected: 'true or false',
        found: `'${raw}'`,
      });
    case 'string':
    case 'dateTime':
      return raw;
    default: {
      const n = raw.trim() === '' ? NaN : Number(raw);
      return checkNumber(type, n, raw, where);
    }
  }
}

function checkNumber(type: string, n: number, raw: string, where: Where): number {
  if (!Number.isFinite(n))
    throw badInput(`bad ${type} parameter value`, { ...where, expected: 'a number', found: `'${raw}'` });
  if (type === 'integer' || type === 'int' || type === 'unsignedInt' || type === 'unsignedShort') {
    if (!Number.isInteger(n))
      throw badInput(`bad ${type} parameter value`, { ...where, expected: 'an integer', found: raw });
    if (type.startsWith('unsigned') && n < 0)
      throw badInput(`bad ${type} parameter value`, { ...where, expected: '>= 0', found: raw });
  }
  return n;
}

/** A chain of parameter scopes; inner declarations shadow outer ones. */
export class ParamScope {
  private readonly values = new Map<string, ParamValue>();

  /** A scope whose lookups fall back to `parent`. */
  constructor(private readonly parent: ParamScope | null = null) {}

  /** Defines `name` in this scope. */
  set(name: string, value: ParamValue): void {
    this.values.set(name, value);
  }

  /** The value of `name` in this scope or an enclosing one. */
  get(name: string): ParamValue | undefined {
    return this.values.get(name) ?? this.parent?.get(name);
  }

  /**
   * A child scope with `decls` defined; a declaration whose name is in `overrides` takes that value
   * instead of its default. Declared values may themselves reference earlier parameters.
   */
  declare(
    decls: ParamDecl[],
    file: string,
    overrides: ReadonlyMap<string, ParamValue> = new Map(),
  ): ParamScope {
    const scope = new ParamScope(this);
    for (const d of decls) {
      const where = { file, line: d.line, field: `ParameterDeclaration ${d.name}` };
      const over = overrides.get(d.name);
      const raw =
        over !== undefined ? over : d.value.startsWith('$') ? scope.resolve(d.value, where) : d.value;
      scope.set(d.name, coerce(d.type, raw, where));
    }
    return scope;
  }

  /** Resolves an attribute value: `$name` -> the parameter, `${expr}` -> the expression, else the text. */
  resolve(raw: string, where: Where): ParamValue {
    if (!raw.startsWith('$')) return raw;
    if (raw.startsWith('${')) {
      if (!raw.endsWith('}'))
        throw badInput('unterminated expression', { ...where, expected: '${...}', found: raw });
      return evaluate(raw.slice(2, -1), this, where);
    }
    const name = raw.slice(1);
    const v = this.get(name);
    if (v === undefined) throw badInput(`reference to undeclared parameter $${name}`, where);
    return v;
  }
}

type Tok =
  { t: 'num'; v: number } | { t: 'ref'; v: string } | { t: 'id'; v: string } | { t: 'op'; v: string };

function tokenize(src: string, where: Where): Tok[] {
  const out: Tok[] = [];
  const re =
    /\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|\$([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*)|([-+*/%(),]))/y;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(src);
    if (m === null)
      throw badInput('bad expression', {
        ...where,
        expected: 'numbers, $parameters, + - * / % ( ) and functions',
        found: `'${src}'`,
      });
    pos = re.lastIndex;
    if (m[1] !== undefined) out.push({ t: 'num', v: Number(m[1]) });
    else if (m[2] !== undefined) out.push({ t: 'ref', v: m[2] });
    else if (m[3] !== undefined) out.push({ t: 'id', v: m[3] });
    else out.push({ t: 'op', v: m[4] ?? '' });
  }
  return out;
}

const FUNCS: Record<string, (args: number[]) => number> = {
  round: (a) => Math.round(a[0] ?? NaN),
  floor: (a) => Math.floor(a[0] ?? NaN),
  ceil: (a) => Math.ceil(a[0] ?? NaN),
  sqrt: (a) => Math.sqrt(a[0] ?? NaN),
  pow: (a) => Math.pow(a[0] ?? NaN, a[1] ?? NaN),
};

/** Evaluates an OpenSCENARIO 1.1+ expression body (without `${` `}`) to a number (or boolean for not/and/or). */
export function evaluate(src: string, scope: ParamScope, where: Where): number | boolean {
  const toks = tokenize(src, where);
  let i = 0;
  const fail = (msg: string): never => {
    throw badInput(`bad expression: ${msg}`, { ...where, found: `'${src}'` });
  };
  const peek = (): Tok | undefined => toks[i];
  const isOp = (v: string): boolean => {
    const t = toks[i];
    return t !== undefined && (t.t === 'op' || t.t === 'id') && t.v === v;
  };
  const num = (v: number | boolean): number => (typeof v === 'boolean' ? (v ? 1 : 0) : v);
  const orExpr = (): number | boolean => {
    let l = andExpr();
    while (isOp('or')) {
      i++;
      const r = andExpr();
      l = num(l) !== 0 || num(r) !== 0;
    }
    return l;
  };
  const andExpr = (): number | boolean => {
    let l = add();
    while (isOp('and')) {
      i++;
      const r = add();
      l = num(l) !== 0 && num(r) !== 0;
    }
    return l;
  };
  const add = (): number | boolean => {
    let l = mul();
    while (isOp('+') || isOp('-')) {
      const op = toks[i++]?.v;
      const r = num(mul());
      l = op === '+' ? num(l) + r : num(l) - r;
    }
    return l;
  };
  const mul = (): number | boolean => {
    let l = unary();
    while (isOp('*') || isOp('/') || isOp('%')) {
      const op = toks[i++]?.v;
      const r = num(unary());
      l = op === '*' ? num(l) * r : op === '/' ? num(l) / r : num(l) % r;
    }
    return l;
  };
  const unary = (): number | boolean => {
    if (isOp('-')) {
      i++;
      return -num(unary());
    }
    if (isOp('not')) {
      i++;
      return num(unary()) === 0;
    }
    return primary();
  };
  const primary = (): number | boolean => {
    const t = peek();
    if (t === undefined) return fail('unexpected end');
    i++;
    if (t.t === 'num') return t.v;
    if (t.t === 'ref') {
      const v = scope.get(t.v);
      if (v === undefined) return fail(`undeclared parameter $${t.v}`);
      if (typeof v === 'string') {
        const n = Number(v);
        if (!Number.isFinite(n)) return fail(`$${t.v} is not numeric ('${v}')`);
        return n;
      }
      return v;
    }
    if (t.t === 'op' && t.v === '(') {
      const v = orExpr();
      if (!isOp(')')) return fail("missing ')'");
      i++;
      return v;
    }
    if (t.t === 'id') {
      if (t.v === 'true') return true;
      if (t.v === 'false') return false;
      const f = FUNCS[t.v];
      if (f === undefined) return fail(`unknown function '${t.v}'`);
      if (!isOp('(')) return fail(`'${t.v}' needs arguments`);
      i++;
      const args: number[] = [num(orExpr())];
      while (isOp(',')) {
        i++;
        args.push(num(orExpr()));
      }
      if (!isOp(')')) return fail("missing ')'");
      i++;
      return f(args);
    }
    return fail(`unexpected '${t.v}'`);
  };
  const v = orExpr();
  if (i < toks.length) fail(`unexpected '${toks[i]?.v ?? ''}'`);
  if (typeof v === 'number' && !Number.isFinite(v)) fail('result is not finite');
  return v;
}
