/**
 * XML with line numbers: fast-xml-parser (order preserved, start offsets captured) turned into a small
 * element tree whose every element and attribute knows its 1-based line in the source text.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { badInput } from '../../core/errors.js';

/** One XML element with its attributes, child elements and source lines. */
export interface XNode {
  name: string;
  attrs: Record<string, string>;
  /** Line of each attribute (falls back to the element's line). */
  attrLines: Record<string, number>;
  children: XNode[];
  /** 1-based line of the element's start tag. */
  line: number;
}

type Raw = Record<string, unknown>;

const META = XMLParser.getMetaDataSymbol() as unknown as symbol;

const parser = new XMLParser({
  preserveOrder: true,
  captureMetaData: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: true,
});

/** Offsets of line starts, for offset -> line lookups by binary search. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function lineOf(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/**
 * Parses XML text into an element tree with line numbers. Text content and comments are dropped
 * (OpenSCENARIO and OpenDRIVE carry their data in attributes). Malformed XML is BAD_INPUT naming the line.
 */
export function parseXml(text: string, file: string): XNode {
  const ok = XMLValidator.validate(text);
  if (ok !== true) {
    throw badInput(`not well-formed XML: ${ok.err.msg}`, { file, line: ok.err.line });
  }
  const starts = lineStarts(text);
  const raw = parser.parse(text) as Raw[];
  const roots = raw.map((r) => convert(r, text, starts)).filter((n): n is XNode => n !== null);
  const root = roots[0];
  if (root === undefined) throw badInput('no root element', { file, line: 1 });
  return root;
}

function convert(raw: Raw, text: string, starts: number[]): XNode | null {
  const name = Object.keys(raw).find((k) => k !== ':@' && k !== '#text' && !k.startsWith('?'));
  if (name === undefined) return null;
  const meta = (raw as Record<symbol, { startIndex?: number } | undefined>)[META];
  const start = meta?.startIndex ?? 0;
  const line = lineOf(starts, start);
  const attrs: Record<string, string> = {};
  const attrLines: Record<string, number> = {};
  const rawAttrs = raw[':@'] as Record<string, unknown> | undefined;
  if (rawAttrs !== undefined) {
    const tagEnd = text.indexOf('>', start);
    const tag = text.slice(start, tagEnd === -1 ? undefined : tagEnd);
    for (const [k, v] of Object.entries(rawAttrs)) {
      attrs[k] = String(v);
      const at = new RegExp(`\\s${k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*=`).exec(tag);
      attrLines[k] = at === null ? line : lineOf(starts, start + at.index + 1);
    }
  }
  const kids = raw[name];
  const children: XNode[] = [];
  if (Array.isArray(kids)) {
    for (const k of kids as Raw[]) {
      const c = convert(k, text, starts);
      if (c !== null) children.push(c);
    }
  }
  return { name, attrs, attrLines, children, line };
}

/** The child elements of `node` named `name`. */
export function childrenNamed(node: XNode, name: string): XNode[] {
  return node.children.filter((c) => c.name === name);
}

/** The first child element named `name`, or undefined. */
export function child(node: XNode, name: string): XNode | undefined {
  return node.children.find((c) => c.name === name);
}
