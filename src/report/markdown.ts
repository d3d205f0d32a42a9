/**
 * Markdown building blocks for human-readable reports (GitHub-flavoured Markdown): headings,
 * bullet lists, aligned tables with escaped cells, number formatting (fixed decimals, percentages,
 * signed deltas with arrows), and the `evaluation_summary.md` document builder whose sections
 * ("What improved", "What regressed", "Next actions", ...) are plain data.
 *
 * Strings passed as text (headings, bullets, paragraphs) are Markdown: callers may use **bold** or
 * `code()`; use `escapeMarkdown()` for text that must appear literally. Table cells are escaped for
 * the table syntax (pipes, line breaks) only.
 */
import { badInput } from '../core/errors.js';

/** What a table cell may hold: text (Markdown), a number (printed as is), or nothing (shown as —). */
export type MarkdownCell = string | number | null | undefined;

/** Column alignment in a Markdown table. */
export type MarkdownAlign = 'left' | 'right' | 'center';

/** A table: header cells, then rows of cells (every row as long as the header). */
export interface MarkdownTable {
  /** Header cells. */
  headers: readonly string[];
  /** Body rows. */
  rows: readonly (readonly MarkdownCell[])[];
  /** Per-column alignment; by default numbers-only columns are right-aligned, others left. */
  align?: readonly MarkdownAlign[];
}

/** The text shown for a missing value. */
export const MISSING = '—';

/** Display width of a string in a monospace editor (code points; good enough for tables). */
function width(s: string): number {
  return [...s].length;
}

/** Escapes characters that Markdown would otherwise interpret, so `text` shows literally. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]<>()#+\-.!|~]/g, (c) => `\\${c}`);
}

/** A code span: `text` in backticks (a longer fence when the text itself has backticks). */
export function code(text: string): string {
  const runs = text.match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** Escapes one table cell: pipes become `\|`, line breaks `<br>`; missing values become —. */
export function escapeCell(cell: MarkdownCell): string {
  if (cell === null || cell === undefined) return MISSING;
  const text = typeof cell === 'number' ? String(cell) : cell;
  return text
    .replace(/\r\n|\r|\n/g, '<br>')
    .replace(/\\\|/g, '\\\\|')
    .replace(/\|/g, '\\|');
}

/** A heading line (`#` x level). Line breaks in the text are folded into spaces. */
export function heading(level: 1 | 2 | 3 | 4 | 5 | 6, text: string): string {
  return `${'#'.repeat(level)} ${text.replace(/\s*[\r\n]+\s*/g, ' ').trim()}`;
}

/** An item of a bullet list: Markdown text, or text with nested items. */
export type BulletItem = string | { text: string; children: readonly BulletItem[] };

/** A bullet list (`-`), or a numbered one with `ordered`; nested items are indented. */
export function bulletList(items: readonly BulletItem[], options: { ordered?: boolean } = {}): string {
  const lines: string[] = [];
  const walk = (list: readonly BulletItem[], indent: string, ordered: boolean): void => {
    list.forEach((item, i) => {
      const marker = ordered ? `${i + 1}.` : '-';
      const text = typeof item === 'string' ? item : item.text;
      const [first, ...rest] = text.split(/\r\n|\r|\n/);
      lines.push(`${indent}${marker} ${first ?? ''}`);
      const cont = indent + ' '.repeat(marker.length + 1);
      for (const line of rest) lines.push(line === '' ? '' : `${cont}${line}`);
      if (typeof item !== 'string') walk(item.children, cont, false);
    });
  };
  walk(items, '', options.ordered ?? false);
  return lines.join('\n');
}

/**
 * An aligned Markdown table: every column padded to its widest cell, pipes in cells escaped.
 * BAD_INPUT when a row's length differs from the header's.
 */
export function table(t: MarkdownTable): string {
  const n = t.headers.length;
  if (n === 0) throw badInput('a table needs at least one column', { field: 'headers' });
  t.rows.forEach((row, i) => {
    if (row.length !== n) {
      throw badInput('table row has the wrong number of cells', {
        record: i,
        expected: `${n} cells`,
        found: `${row.length}`,
      });
    }
  });
  const align: MarkdownAlign[] = t.headers.map((_, c) => {
    const given = t.align?.[c];
    if (given !== undefined) return given;
    const values = t.rows.map((r) => r[c]).filter((v) => v !== null && v !== undefined);
    return values.length > 0 && values.every((v) => typeof v === 'number') ? 'right' : 'left';
  });
  const head = t.headers.map((h) => escapeCell(h));
  const body = t.rows.map((r) => r.map((cell) => escapeCell(cell)));
  const widths = head.map((h, c) => Math.max(3, width(h), ...body.map((r) => width(r[c] ?? ''))));
  const pad = (s: string, c: number): string => {
    const w = widths[c] ?? 0;
    const gap = w - width(s);
    switch (align[c]) {
      case 'right':
        return ' '.repeat(gap) + s;
      case 'center': {
        const left = Math.floor(gap / 2);
        return ' '.repeat(left) + s + ' '.repeat(gap - left);
      }
      default:
        return s + ' '.repeat(gap);
    }
  };
  const line = (cells: string[]): string => `| ${cells.map((s, c) => pad(s, c)).join(' | ')} |`;
  const rule = widths.map((w, c) => {
    switch (align[c]) {
      case 'right':
        return '-'.repeat(w - 1) + ':';
      case 'center':
        return ':' + '-'.repeat(w - 2) + ':';
      default:
        return '-'.repeat(w);
    }
  });
  return [line(head), `| ${rule.join(' | ')} |`, ...body.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Numbers

function special(x: number | null | undefined): string | undefined {
  if (x === null || x === undefined) return MISSING;
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '-∞';
  return undefined;
}

/** A number with fixed decimals (default 3); null/undefined as —; never "-0.000". */
export function fmtFixed(x: number | null | undefined, digits = 3): string {
  const s = special(x);
  if (s !== undefined) return s;
  const out = (x as number).toFixed(digits);
  return /^-0(\.0*)?$/.test(out) ? out.slice(1) : out;
}

/** A fraction as a percentage with fixed decimals (default 1): 0.1234 -> "12.3%". */
export function fmtPercent(x: number | null | undefined, digits = 1): string {
  const s = special(x);
  if (s !== undefined) return s;
  return `${fmtFixed((x as number) * 100, digits)}%`;
}

/** An integer with thousands separators: 1234567 -> "1,234,567". */
export function fmtInt(x: number | bigint | null | undefined): string {
  if (typeof x === 'bigint') return x.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const s = special(x);
  if (s !== undefined) return s;
  return Math.round(x as number)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** How fmtDelta marks the direction of a change. */
export type DeltaStyle = 'arrow' | 'sign';

/**
 * A signed difference with fixed decimals: "+0.040 ▲", "-0.060 ▼", "±0.000" (style 'arrow', the
 * default) or "+0.040", "-0.060", "±0.000" (style 'sign'). A change that rounds to zero is ±.
 * With `percent`, the value is a fraction shown in percentage points ("+1.5 pp").
 */
export function fmtDelta(
  delta: number | null | undefined,
  options: { digits?: number; style?: DeltaStyle; percent?: boolean } = {},
): string {
  const s = special(delta);
  if (s !== undefined) return s;
  const digits = options.digits ?? (options.percent === true ? 1 : 3);
  const scaled = options.percent === true ? (delta as number) * 100 : (delta as number);
  const abs = Math.abs(scaled).toFixed(digits);
  const unit = options.percent === true ? ' pp' : '';
  if (Number(abs) === 0) return `±${abs}${unit}`;
  const sign = scaled > 0 ? '+' : '-';
  const arrow = options.style === 'sign' ? '' : scaled > 0 ? ' ▲' : ' ▼';
  return `${sign}${abs}${unit}${arrow}`;
}

/** Whether a change is an improvement, a regression or neither, given which way is better. */
export function deltaDirection(
  delta: number | null | undefined,
  options: { higherIsBetter?: boolean; tolerance?: number } = {},
): 'improved' | 'regressed' | 'unchanged' {
  if (delta === null || delta === undefined || Number.isNaN(delta)) return 'unchanged';
  const tol = options.tolerance ?? 0;
  if (Math.abs(delta) <= tol) return 'unchanged';
  const up = delta > 0;
  return up === (options.higherIsBetter ?? true) ? 'improved' : 'regressed';
}

// ---------------------------------------------------------------------------------------------
// evaluation_summary.md

/** One section of a summary document. Blocks are printed in this order: text, bullets, table, images. */
export interface SummarySection {
  /** Section heading, e.g. "What improved". */
  title: string;
  /** A paragraph (Markdown). */
  text?: string;
  /** Bullet items (Markdown). */
  bullets?: readonly BulletItem[];
  /** A table. */
  table?: MarkdownTable;
  /** Images (charts), linked relative to the document: `![alt](path)`. */
  images?: readonly { alt: string; path: string }[];
  /** Shown when the section has no content at all (default "_None._"). */
  emptyText?: string;
}

/** The data of an evaluation_summary.md-style document. */
export interface SummaryDocument {
  /** Document title (level-1 heading). */
  title: string;
  /** The verdict line: passed (green) or not (red), with a reason. */
  verdict?: { passed: boolean; text: string };
  /** Key facts listed under the title as "**key:** value" (model, baseline, dataset, run...). */
  facts?: readonly (readonly [string, MarkdownCell])[];
  /** The sections, in order (level-2 headings). */
  sections: readonly SummarySection[];
  /** A closing line in small print, e.g. "Generated by drivegate 0.1.0 at ...". */
  footer?: string;
}

/** A link target that survives Markdown: spaces and parentheses percent-encoded. */
function linkTarget(path: string): string {
  return encodeURI(path).replace(/\(/g, '%28').replace(/\)/g, '%29');
}

/** The standard section titles of an evaluation summary. */
export const SUMMARY_SECTIONS = {
  improved: 'What improved',
  regressed: 'What regressed',
  next: 'Next actions',
} as const;

/**
 * Renders a summary document (evaluation_summary.md and its kin) from data: title, verdict,
 * facts table, then each section with its text, bullets, table and images. Ends with a newline.
 */
export function summaryMarkdown(doc: SummaryDocument): string {
  const blocks: string[] = [heading(1, doc.title)];
  if (doc.verdict !== undefined) {
    const badge = doc.verdict.passed ? '🟢 **PASS**' : '🔴 **FAIL**';
    blocks.push(`${badge}: ${doc.verdict.text}`);
  }
  if (doc.facts !== undefined && doc.facts.length > 0) {
    blocks.push(
      bulletList(
        doc.facts.map(([k, v]) => `**${k}:** ${v === null || v === undefined ? MISSING : String(v)}`),
      ),
    );
  }
  for (const s of doc.sections) {
    blocks.push(heading(2, s.title));
    let any = false;
    if (s.text !== undefined && s.text.trim() !== '') {
      blocks.push(s.text.trim());
      any = true;
    }
    if (s.bullets !== undefined && s.bullets.length > 0) {
      blocks.push(bulletList(s.bullets));
      any = true;
    }
    if (s.table !== undefined && s.table.rows.length > 0) {
      blocks.push(table(s.table));
      any = true;
    }
    if (s.images !== undefined && s.images.length > 0) {
      blocks.push(s.images.map((im) => `![${escapeMarkdown(im.alt)}](${linkTarget(im.path)})`).join('\n\n'));
      any = true;
    }
    if (!any) blocks.push(s.emptyText ?? '_None._');
  }
  if (doc.footer !== undefined) blocks.push(`<sub>${doc.footer}</sub>`);
  return blocks.join('\n\n') + '\n';
}
