/** The gate verdict as text for people: a table of rules, then the blocking report. */
import type { GateVerdict } from './engine.js';

const num = (v: number | null): string => (v === null ? '-' : String(+v.toFixed(Math.abs(v) >= 100 ? 2 : 4)));

/** Formats a verdict as lines of text. */
export function formatVerdict(v: GateVerdict): string {
  const lines: string[] = [];
  lines.push(
    `${v.status === 'pass' ? 'PASS' : v.status === 'fail' ? 'FAIL' : 'ERROR'}  ${v.summary}`,
    `candidate ${v.candidate.name}${v.candidate.version ? ' ' + v.candidate.version : ''}` +
      ` vs baseline ${v.baseline === null ? '(none)' : v.baseline.name + (v.baseline.version ? ' ' + v.baseline.version : '')}` +
      `; slice weights from ${v.slice_source}`,
    '',
  );
  const rows = v.rules.map((r) => [r.status.toUpperCase(), r.id, num(r.value), num(r.baseline), r.threshold]);
  const head = ['status', 'rule', 'value', 'baseline', 'threshold'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmtRow = (r: string[]): string =>
    r
      .map((c, i) => c.padEnd(width[i]!))
      .join('  ')
      .trimEnd();
  lines.push(fmtRow(head));
  for (const r of rows) lines.push(fmtRow(r));
  lines.push('');
  for (const r of v.rules) lines.push(`- ${r.id} [${r.status}]: ${r.rationale}`);
  if (v.waivers.applied.length + v.waivers.ignored.length > 0) {
    lines.push('', 'waivers:');
    for (const w of v.waivers.applied)
      lines.push(`  applied  ${w.rule} by ${w.approver} until ${w.expires} (${w.verification.reason})`);
    for (const w of v.waivers.ignored) lines.push(`  ignored  ${w.rule} by ${w.approver}: ${w.reason}`);
  }
  for (const n of v.notes) lines.push(`note: ${n}`);
  if (v.blocking !== undefined) {
    lines.push('', 'BLOCKING:');
    for (const r of v.blocking.failing_rules) lines.push(`  rule ${r.id}`);
    for (const s of v.blocking.failing_slices) {
      lines.push(
        `  slice ${s.name}${s.critical ? ' (critical)' : ''} ${JSON.stringify(s.filter)}: fails ${s.rules.join(', ')}`,
      );
    }
    lines.push('next actions:');
    for (const a of v.blocking.next_actions) lines.push(`  * ${a}`);
  }
  if (v.errors.length > 0) {
    lines.push('', 'errors:');
    for (const e of v.errors) lines.push(`  ${e}`);
  }
  return lines.join('\n');
}
