/**
 * `drivegate runs ...`: the workspace's run records. `runs list` lists runs newest first; `runs show`
 * prints one run's record (per step: status, timings, input/output digests, error).
 */
import type { Command } from 'commander';
import { listRuns, readRunRecord, summarizeRun } from '../core/runrecord.js';
import type { RunRecord, RunSummary } from '../core/runrecord.js';
import { parseIntOption } from './option-values.js';
import { addWorkspaceOptions, workspaceFromFlags } from './workspace-options.js';
import type { WorkspaceFlags } from './workspace-options.js';

interface ListFlags extends WorkspaceFlags {
  json?: boolean;
  limit?: string;
}

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

function duration(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}s`;
}

/** One line per run: id, workflow, status, steps done (cached), duration. */
export function formatRunList(runs: RunSummary[]): string {
  return runs
    .map((r) =>
      [
        r.id,
        r.workflow.padEnd(10),
        r.status.padEnd(11),
        `${r.steps.succeeded + r.steps.cached}/${r.steps.total} steps${r.steps.cached > 0 ? ` (${r.steps.cached} cached)` : ''}`,
        duration(r.durationMs),
      ].join('  '),
    )
    .join('\n');
}

/** A run record as readable text. */
export function formatRun(rec: RunRecord): string {
  const status = summarizeRun(rec).status;
  const lines = [
    `run ${rec.id}  workflow ${rec.workflow}  ${status}  ${duration(rec.durationMs)}`,
    `created ${rec.createdAt}${rec.resumedAt?.length ? `, resumed ${rec.resumedAt.join(', ')}` : ''}`,
    `args ${JSON.stringify(rec.args)}`,
  ];
  for (const s of rec.steps) {
    lines.push(
      `  ${s.status.padEnd(14)} ${s.name} (v${s.version})  ${duration(s.durationMs)}${s.cachedFrom ? `  from ${s.cachedFrom}` : ''}`,
    );
    if (s.inputDigest !== undefined) lines.push(`      inputs  ${s.inputDigest}`);
    for (const [name, out] of Object.entries(s.outputs ?? {})) {
      lines.push(`      output  ${name}  ${out.digest}  ${out.size} bytes`);
    }
    if (s.error !== undefined) lines.push(`      error   ${s.error.code}: ${s.error.message}`);
  }
  return lines.join('\n');
}

/** Registers `drivegate runs list|show`. */
export function registerRuns(program: Command): void {
  const runs = program
    .command('runs')
    .description('Workflow run records (runs/<run-id>/run.json in the workspace).');

  addWorkspaceOptions(
    runs
      .command('list')
      .description('List runs, newest first.')
      .option('--limit <n>', 'show at most n runs')
      .option('--json', 'print the list as JSON'),
  )
    .addHelpText(
      'after',
      `
Example:
  drivegate runs list --limit 5
  20261127T091500Z-3fa9c2  package     succeeded    6/6 steps (4 cached)  12.4s`,
    )
    .action(async (flags: ListFlags) => {
      const ws = workspaceFromFlags(flags);
      let list = await listRuns(ws.runsDir);
      if (flags.limit !== undefined) list = list.slice(0, parseIntOption('--limit', flags.limit, 1));
      if (flags.json) print(JSON.stringify(list));
      else if (list.length > 0) print(formatRunList(list));
    });

  addWorkspaceOptions(
    runs
      .command('show')
      .description('Show one run: per step status, timings, input and output digests, error.')
      .argument('<run-id>', 'the run id, e.g. 20261127T091500Z-3fa9c2')
      .option('--json', 'print the run record (run.json) as JSON'),
  )
    .addHelpText(
      'after',
      `
Example:
  drivegate runs show 20261127T091500Z-3fa9c2 --json`,
    )
    .action(async (id: string, flags: ListFlags) => {
      const ws = workspaceFromFlags(flags);
      const rec = await readRunRecord(ws.runsDir, id);
      print(flags.json ? JSON.stringify({ ...rec, status: summarizeRun(rec).status }) : formatRun(rec));
    });
}
