/**
 * Writing a finished sweep's outputs. Everything is written into a staging folder inside the
 * output folder first, then each file is renamed into place (sim_gate.json last), so a reader never
 * sees half a file and an interrupted sweep leaves only its checkpoint.
 *
 *   sim_summary.parquet          one row per run (candidate and baseline), see table.ts
 *   scenarios/<family>.csv|json  the same rows per scenario family
 *   sim_report.json              the candidate's and the baseline's SimReport (aggregates)
 *   violations_heatmap.vl.json|svg|png   violation types by scenario x parameter (candidate)
 *   clips/<run>.gif              the last seconds of each failing candidate run
 *   sim_gate.json                the Sim Gate verdict (kind: sim; the registry reads its status)
 *   sim_summary.md               a short summary for people
 */
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fsyncDir } from '../../core/fsutil.js';
import type { GateVerdict } from '../../eval/gates/index.js';
import { writeChart } from '../../report/charts.js';
import { bulletList, fmtFixed, heading, table } from '../../report/markdown.js';
import { writeParquet } from '../../report/parquet.js';
import { violationCells } from './aggregate.js';
import type { SimReport, SweepAggregates, SweepRun } from './aggregate.js';
import { violationHeatmapSpec } from './heatmap.js';
import { runTable, toCsv } from './table.js';

/** The summary table file. */
export const SUMMARY_PARQUET = 'sim_summary.parquet';
/** The verdict file. */
export const GATE_FILE = 'sim_gate.json';

/** A failure clip to write. */
export interface Clip {
  runId: string;
  gif: Uint8Array;
  reason: string;
}

/** Everything the outputs are made of. */
export interface SweepOutputs {
  runs: readonly SweepRun[];
  candidate: SimReport;
  baseline: SimReport | null;
  verdict: GateVerdict | null;
  clips: readonly Clip[];
  /** How the sweep was run (recorded in the reports). */
  info: {
    scenarios: string;
    filter: string | null;
    seeds: number;
    workers: number;
    sweep: string;
    /** Digest of the engine's code the runs were made with. */
    engine: string;
    wall_s: number;
    executed: number;
    resumed: number;
  };
}

/** A file name for a run id (letters, digits, '.', '_', '-', '='; others become '_'). */
export function fileNameOf(runId: string): string {
  return runId.replace(/[^A-Za-z0-9._=-]+/g, '_');
}

function safeFamily(f: string): string {
  return f.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** Writes every output into `outDir` (see the module comment); returns the paths written, relative. */
export async function writeSweepOutputs(outDir: string, o: SweepOutputs): Promise<string[]> {
  const stage = join(outDir, `.staging-${process.pid}`);
  await rm(stage, { recursive: true, force: true });
  await mkdir(join(stage, 'scenarios'), { recursive: true });
  const { schema, rows } = runTable(o.runs);
  await writeParquet(join(stage, SUMMARY_PARQUET), schema, rows, {
    metadata: {
      sweep: o.info.sweep,
      candidate: o.candidate.model.name,
      baseline: o.baseline?.model.name ?? '',
    },
  });
  const families = [...new Set(o.runs.map((r) => r.variant.family))].sort();
  for (const fam of families) {
    const famRows = rows.filter((r) => r['family'] === fam);
    await writeFile(join(stage, 'scenarios', `${safeFamily(fam)}.csv`), toCsv(schema, famRows));
    await writeFile(
      join(stage, 'scenarios', `${safeFamily(fam)}.json`),
      JSON.stringify(famRows, null, 1) + '\n',
    );
  }
  await writeFile(
    join(stage, 'sim_report.json'),
    JSON.stringify(
      { schema_version: 1, kind: 'sim-report', sweep: o.info, candidate: o.candidate, baseline: o.baseline },
      null,
      2,
    ) + '\n',
  );
  const cand = o.runs.filter((r) => r.role === 'candidate');
  await writeChart(
    violationHeatmapSpec(
      violationCells(cand),
      `Violations of ${o.candidate.model.name} by scenario x parameter`,
    ),
    join(stage, 'violations_heatmap'),
    { scale: 1.5 },
  );
  if (o.clips.length > 0) {
    await mkdir(join(stage, 'clips'), { recursive: true });
    for (const c of o.clips) await writeFile(join(stage, 'clips', `${fileNameOf(c.runId)}.gif`), c.gif);
  }
  await writeFile(join(stage, 'sim_summary.md'), summaryMarkdown(o));
  await writeFile(join(stage, GATE_FILE), JSON.stringify(gateDocument(o), null, 2) + '\n');

  // Move into place: folders' files one by one, the verdict last.
  const written: string[] = [];
  const move = async (rel: string): Promise<void> => {
    await mkdir(join(outDir, rel, '..'), { recursive: true });
    await rename(join(stage, rel), join(outDir, rel));
    written.push(rel);
  };
  const walk = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) out.push(...(await walk(p)));
      else out.push(relative(stage, p));
    }
    return out;
  };
  const all = (await walk(stage)).sort();
  for (const rel of all.filter((r) => r !== GATE_FILE && r !== 'sim_summary.md')) await move(rel);
  await move('sim_summary.md');
  await move(GATE_FILE);
  await rm(stage, { recursive: true, force: true });
  await fsyncDir(outDir);
  return written;
}

/** The sim_gate.json document: the verdict (or none), the headline aggregates, and the sweep. */
export function gateDocument(o: SweepOutputs): Record<string, unknown> {
  return {
    kind: 'sim',
    schema_version: 1,
    status: o.verdict?.status ?? 'none',
    candidate: o.candidate.model,
    baseline: o.baseline?.model ?? null,
    sweep: o.info,
    summary: {
      candidate: headline(o.candidate.overall),
      baseline: o.baseline === null ? null : headline(o.baseline.overall),
    },
    gate: o.verdict,
  };
}

function headline(a: SweepAggregates): Record<string, unknown> {
  return {
    runs: a.runs,
    collisions: a.collisions,
    collisions_per_1000km: a.collisions_per_1000km,
    near_misses: a.near_misses,
    vru_conflicts: a.vru_conflicts,
    false_brake_events: a.false_brake_events,
    max_decel_p95_mps2: a.comfort.max_decel_mps2.p95,
    max_jerk_p95_mps3: a.comfort.max_jerk_mps3.p95,
  };
}

const f = (v: number | null, d = 2): string => fmtFixed(v, d);

function summaryMarkdown(o: SweepOutputs): string {
  const parts: string[] = [];
  const c = o.candidate;
  const b = o.baseline;
  parts.push(heading(1, `Simulation sweep: ${c.model.name}${b ? ` vs ${b.model.name}` : ''}`));
  parts.push(
    bulletList([
      `Scenarios: ${o.info.scenarios}${o.info.filter ? ` (filter ${o.info.filter})` : ''}; ${c.sweep.variants} variant(s) x ${o.info.seeds} seed(s); ${c.sweep.runs} run(s) per model.`,
      `Sweep ${o.info.sweep.slice(0, 12)}; ${o.info.executed} run(s) executed now, ${o.info.resumed} resumed from the checkpoint; ${o.info.workers} worker(s), ${o.info.wall_s.toFixed(1)} s.`,
      o.verdict === null
        ? 'No Sim Gate was given.'
        : `Sim Gate: **${o.verdict.status.toUpperCase()}** — ${o.verdict.summary}.`,
    ]),
  );
  const row = (name: string, get: (a: SweepAggregates) => string): (string | number)[] => [
    name,
    get(c.overall),
    ...(b ? [get(b.overall)] : []),
  ];
  parts.push(heading(2, 'Overall'));
  parts.push(
    table({
      headers: ['metric', c.model.name, ...(b ? [b.model.name] : [])],
      rows: [
        row('runs', (a) => String(a.runs)),
        row('collisions', (a) => String(a.collisions)),
        row('collisions per 1,000 km', (a) => f(a.collisions_per_1000km, 1)),
        row('near misses', (a) => String(a.near_misses)),
        row('VRU near misses / collisions', (a) => `${a.vru_near_misses} / ${a.vru_collisions}`),
        row('false braking events', (a) => String(a.false_brake_events)),
        row(
          'max decel p50 / p95 (m/s²)',
          (a) => `${f(a.comfort.max_decel_mps2.p50)} / ${f(a.comfort.max_decel_mps2.p95)}`,
        ),
        row(
          'max jerk p50 / p95 (m/s³)',
          (a) => `${f(a.comfort.max_jerk_mps3.p50, 1)} / ${f(a.comfort.max_jerk_mps3.p95, 1)}`,
        ),
        row('mean impact speed (m/s)', (a) => f(a.mean_impact_speed_mps)),
      ],
    }),
  );
  parts.push(heading(2, 'Per family'));
  parts.push(
    table({
      headers: [
        'family',
        'category',
        'runs',
        `collisions ${c.model.name}`,
        ...(b ? [`collisions ${b.model.name}`] : []),
        'near misses',
        'false brakes',
      ],
      rows: c.families.map((fam) => [
        fam.name,
        fam.category,
        fam.runs,
        fam.collisions,
        ...(b ? [b.families.find((x) => x.name === fam.name)?.collisions ?? '—'] : []),
        fam.near_misses,
        fam.false_brake_events,
      ]),
    }),
  );
  if (o.verdict !== null) {
    parts.push(heading(2, 'Sim Gate'));
    parts.push(
      bulletList(o.verdict.rules.map((r) => `**${r.status.toUpperCase()}** \`${r.id}\`: ${r.rationale}`)),
    );
    if (o.verdict.errors.length > 0) parts.push(bulletList(o.verdict.errors.map((e) => `error: ${e}`)));
  }
  if (o.clips.length > 0) {
    parts.push(heading(2, 'Failure clips'));
    parts.push(
      bulletList(o.clips.map((cl) => `[${cl.runId}](clips/${fileNameOf(cl.runId)}.gif): ${cl.reason}`)),
    );
  }
  parts.push(heading(2, 'Files'));
  parts.push(
    bulletList([
      '`sim_summary.parquet`: one row per run; `scenarios/<family>.csv|json`: the same rows per family',
      '`sim_report.json`: aggregates per sweep, category and family; `sim_gate.json`: the verdict',
      '`violations_heatmap.svg|png`: violation types by scenario x parameter',
    ]),
  );
  return parts.join('\n\n') + '\n';
}
