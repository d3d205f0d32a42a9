/**
 * A sweep: every scenario variant x seed, for the candidate and (when given) the baseline on the
 * same seeds, run on the worker pool with a checkpoint after every run; then the aggregates, the
 * Sim Gate, failure clips (failing candidate runs re-run with recording, deterministically) and the
 * outputs. Inputs are all checked before anything is written: a bad model, scenario folder, filter
 * or gate leaves the output folder untouched.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { digestOf, sha256 } from '../../core/digest.js';
import { DrivegateError } from '../../core/errors.js';
import type { GatePolicy, GateVerdict, Waiver } from '../../eval/gates/index.js';
import { applyFilter, loadVariants, parseFilter } from '../openscenario/index.js';
import type { RunOptions, RunResult, ScenarioVariant } from '../types.js';
import { simReport, variantInfo } from './aggregate.js';
import type { SimReport, SweepRun, VariantInfo } from './aggregate.js';
import { CHECKPOINT_FILE, Checkpoint } from './checkpoint.js';
import { clipGif } from './clip.js';
import { evaluateSimGate } from './gate.js';
import type { ResolvedPerception } from './models.js';
import { writeSweepOutputs } from './outputs.js';
import type { Clip } from './outputs.js';
import { SimPool } from './pool.js';
import { runIdOf, runSeed } from './seeds.js';
import type { RunRole } from './seeds.js';

/** Options of a sweep. */
export interface SweepOptions {
  /** A scenario folder or file (.xosc, or a ParameterValueDistribution .xosc). */
  scenarios: string;
  /** `--filter` texts (comma-separated key=value terms; several: the union); none for every variant. */
  filters?: readonly string[] | undefined;
  /** Seeds per variant (>= 1). */
  seeds: number;
  /** Worker threads (default: every core). */
  workers?: number | undefined;
  candidate: ResolvedPerception;
  baseline: ResolvedPerception | null;
  gate?: GatePolicy | null | undefined;
  waivers?: Waiver[] | undefined;
  out: string;
  resume: boolean;
  /** Physics step and perception rate (engine defaults when undefined). */
  dt?: number | undefined;
  perceptionHz?: number | undefined;
  /** Failure clips to write at most (default 12); 0 for none. */
  maxClips?: number | undefined;
  /** Progress: called after each run (done, total) and for notes. */
  onProgress?: ((done: number, total: number, run: SweepRun) => void) | undefined;
  onNote?: ((text: string) => void) | undefined;
  now?: Date | undefined;
}

/** What a sweep produced. */
export interface SweepResult {
  out: string;
  sweep: string;
  variants: number;
  runs: number;
  /** Runs executed by this process, and runs found done in the checkpoint. */
  executed: number;
  resumed: number;
  workers: number;
  wallS: number;
  /** Wall seconds of the runs alone (after the workers started; no clips or outputs). */
  runWallS: number;
  /** Simulated seconds of the runs executed now, for real-time factors. */
  simS: number;
  candidate: SimReport;
  baseline: SimReport | null;
  verdict: GateVerdict | null;
  clips: string[];
  files: string[];
}

/** A run to do. */
interface Job {
  runId: string;
  role: RunRole;
  k: number;
  variant: ScenarioVariant;
  seed: number;
}

/**
 * Loads the variants a sweep runs. Each filter selects variants (terms of one key are alternatives,
 * different keys must all match); several filters select the union (e.g. the fog variants and the
 * night variants). Filters are parsed and their keys checked by the scenario loader's rules.
 */
export async function sweepVariants(
  scenarios: string,
  filters: readonly string[] = [],
): Promise<ScenarioVariant[]> {
  const parsed = filters.map((f) => parseFilter(f));
  const loaded = await loadVariants(scenarios);
  let variants = loaded;
  if (parsed.length > 0) {
    const keep = new Set<string>();
    for (const f of parsed) for (const v of applyFilter(loaded, f)) keep.add(v.id);
    variants = loaded.filter((v) => keep.has(v.id));
  }
  if (variants.length === 0) {
    throw new DrivegateError('BAD_INPUT', 'no scenario variant to run', {
      file: scenarios,
      expected:
        filters.length > 0
          ? `variants matching --filter ${filters.join(' --filter ')}`
          : 'one or more .xosc scenarios',
      found: 'none',
    });
  }
  return variants;
}

/**
 * Checks before the sweep that the gate can be judged on what will run: a rule comparing against
 * the baseline needs one (unless `no_baseline: skip`), and a rule that selects a category or family
 * by name needs variants of it. USAGE errors naming the gate file, rule and line.
 */
export function checkGateApplies(
  gate: GatePolicy,
  variants: readonly ScenarioVariant[],
  hasBaseline: boolean,
): void {
  for (const r of gate.rules) {
    const where = { file: gate.file, record: r.id, ...(r.line !== undefined ? { line: r.line } : {}) };
    if (r.kind !== 'threshold' && !hasBaseline && r.no_baseline !== 'skip') {
      throw new DrivegateError('USAGE', 'the Sim Gate compares against a baseline and none was given', {
        ...where,
        expected: '--baseline MODEL|PACK|ground-truth (or no_baseline: skip on the rule)',
        found: 'no --baseline',
      });
    }
    const [first, second] = r.path.segments;
    const names =
      first?.kind === 'key' && first.key === 'categories'
        ? new Set(variants.map((v) => v.category))
        : first?.kind === 'key' && first.key === 'families'
          ? new Set(variants.map((v) => v.family))
          : null;
    const wanted: string[] = [];
    if (names !== null && second?.kind === 'select' && second.key === 'name') wanted.push(second.value);
    if (names !== null && r.where !== undefined && typeof r.where['name'] === 'string' && !r.allow_empty)
      wanted.push(r.where['name']);
    for (const w of wanted) {
      if (!names!.has(w)) {
        throw new DrivegateError(
          'USAGE',
          `the Sim Gate judges ${first?.kind === 'key' ? first.key : ''} '${w}' and the sweep runs none`,
          {
            ...where,
            expected: `scenarios of ${w} (the sweep has ${[...names!].sort().join(', ')})`,
            found: 'none selected',
          },
        );
      }
    }
  }
}

/**
 * A digest of the engine's code (its module files, tests excluded), so that a sweep resumed after the
 * engine changed is refused instead of mixing results of two engines.
 */
export function engineDigest(): string {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'engine');
  const files = readdirSync(dir)
    .filter((f) => /\.(ts|js)$/.test(f) && !/\.test\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
    .sort();
  return digestOf(files.map((f) => [f, sha256(readFileSync(join(dir, f)))]));
}

/** The identity of a sweep: what decides its results (the checkpoint refuses to mix two). */
function sweepIdentity(o: SweepOptions, variants: readonly ScenarioVariant[]): Record<string, unknown> {
  const side = (p: ResolvedPerception | null): unknown =>
    p === null ? null : { label: p.label, digest: p.digest };
  return {
    candidate: side(o.candidate),
    baseline: side(o.baseline),
    engine: engineDigest(),
    seeds: o.seeds,
    dt: o.dt ?? null,
    perception_hz: o.perceptionHz ?? null,
    variants: variants.map((v) => ({ id: v.id, scenario: digestOf(v.scenario) })),
  };
}

/** Runs a sweep and writes its outputs into `o.out`. */
export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  const t0 = performance.now();
  const variants = await sweepVariants(o.scenarios, o.filters ?? []);
  if (o.gate) checkGateApplies(o.gate, variants, o.baseline !== null);
  const identity = sweepIdentity(o, variants);
  const out = resolve(o.out);
  const checkpoint = Checkpoint.open(join(out, CHECKPOINT_FILE), identity, o.resume);
  const sweep = digestOf(identity);
  const infos = new Map<string, VariantInfo>(variants.map((v) => [v.id, variantInfo(v)]));
  const sides: Array<[RunRole, ResolvedPerception]> = [['candidate', o.candidate]];
  if (o.baseline !== null) sides.push(['baseline', o.baseline]);
  const all: Job[] = [];
  for (const v of variants)
    for (let k = 0; k < o.seeds; k++)
      for (const [role] of sides)
        all.push({ runId: runIdOf(role, v.id, k), role, k, variant: v, seed: runSeed(v.id, k) });
  const jobs = all.filter((j) => !checkpoint.done.has(j.runId));
  const resumed = all.length - jobs.length;
  if (resumed > 0)
    o.onNote?.(`resuming sweep ${sweep.slice(0, 12)}: ${resumed} of ${all.length} run(s) already done`);
  const perceptionOf = (role: RunRole): ResolvedPerception =>
    role === 'candidate' ? o.candidate : o.baseline!;
  const optionsOf = (j: Job, record: boolean): RunOptions => ({
    seed: j.seed,
    perception: perceptionOf(j.role).spec,
    ...(o.dt !== undefined ? { dt: o.dt } : {}),
    ...(o.perceptionHz !== undefined ? { perceptionHz: o.perceptionHz } : {}),
    ...(record ? { record: true } : {}),
  });
  const results = new Map<string, RunResult>();
  for (const [id, e] of checkpoint.done) results.set(id, e.result);
  const workers = Math.max(1, Math.min(o.workers ?? availableParallelism(), Math.max(1, jobs.length)));
  let simS = 0;
  const toRun = (j: Job, r: RunResult): SweepRun => ({
    runId: j.runId,
    role: j.role,
    k: j.k,
    variant: infos.get(j.variant.id)!,
    result: r,
  });
  const wantClips = o.maxClips ?? 12;
  let pool: SimPool | null = null;
  const clips: Clip[] = [];
  try {
    if (jobs.length > 0 || wantClips > 0) pool = await SimPool.open(workers);
    const tRun = performance.now();
    let done = resumed;
    // A run counts as done once its checkpoint line is on disk; the workers move on meanwhile.
    const writes: Promise<void>[] = [];
    let failed: unknown = null;
    if (jobs.length > 0) {
      await pool!
        .runMany(
          jobs.map((j) => ({ variant: j.variant, options: optionsOf(j, false) })),
          (i, r, json) => {
            const j = jobs[i]!;
            writes.push(
              checkpoint.append({ run_id: j.runId, role: j.role, k: j.k, result: r }, json).then(() => {
                results.set(j.runId, r);
                simS += r.simS;
                done++;
                o.onProgress?.(done, all.length, toRun(j, r));
              }),
            );
          },
        )
        .catch((err: unknown) => {
          failed = err;
        });
    }
    await Promise.all(writes);
    if (failed !== null) throw failed;
    const runWallS = (performance.now() - tRun) / 1000;
    checkpoint.close();

    const runs = all.map((j) => toRun(j, results.get(j.runId)!));
    const sweepInfo = { variants: variants.length, seeds: o.seeds, filter: filterText(o.filters) };
    const report = (role: RunRole): SimReport => {
      const p = perceptionOf(role);
      return simReport(
        runs.filter((r) => r.role === role),
        { name: p.label, ...(p.digest !== null ? { digest: p.digest } : {}) },
        p.spec.kind === 'ground-truth' ? 'ground-truth' : 'model',
        sweepInfo,
      );
    };
    const candidate = report('candidate');
    const baseline = o.baseline === null ? null : report('baseline');
    const verdict = o.gate
      ? evaluateSimGate({
          policy: o.gate,
          candidate,
          baseline,
          waivers: o.waivers ?? [],
          now: o.now ?? new Date(),
        })
      : null;

    // Failure clips: collisions first (fastest impact first), then near misses (closest first).
    const failing = all
      .filter((j) => j.role === 'candidate')
      .map((j) => ({ j, m: results.get(j.runId)!.metrics }))
      .filter((x) => x.m.collision || x.m.nearMiss)
      .sort((a, b) =>
        a.m.collision !== b.m.collision
          ? a.m.collision
            ? -1
            : 1
          : a.m.collision
            ? b.m.impactSpeedMps - a.m.impactSpeedMps
            : a.m.minDistanceM - b.m.minDistanceM,
      )
      .slice(0, wantClips);
    if (failing.length > 0) {
      o.onNote?.(`recording ${failing.length} failure clip(s)`);
      let at = 0;
      const clipLane = async (): Promise<void> => {
        while (at < failing.length) {
          const { j, m } = failing[at++]!;
          const r = await pool!.run({ variant: j.variant, options: optionsOf(j, true) });
          if (digestOf(r.metrics) !== digestOf(m)) {
            o.onNote?.(
              `warning: ${j.runId} recorded for its clip did not repeat its metrics (the engine is not deterministic here)`,
            );
          }
          const gif = clipGif(r.frames ?? [], j.variant.scenario.road, j.variant.scenario.ego);
          if (gif === null) continue;
          clips.push({
            runId: j.runId,
            gif,
            reason: m.collision
              ? `collision with ${m.collisionEntity ?? '?'} (${m.collisionClass ?? '?'}) at ${m.impactSpeedMps.toFixed(1)} m/s`
              : `near miss (min distance ${m.minDistanceM.toFixed(2)} m, min TTC ${m.minTtcS === null ? '-' : m.minTtcS.toFixed(2) + ' s'})`,
          });
        }
      };
      await Promise.all(Array.from({ length: pool!.size }, clipLane));
      clips.sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
    }
    await pool?.close();
    pool = null;

    const wallS = (performance.now() - t0) / 1000;
    const info = {
      scenarios: o.scenarios,
      filter: filterText(o.filters),
      seeds: o.seeds,
      workers,
      sweep,
      engine: String(identity['engine']),
      wall_s: wallS,
      executed: jobs.length,
      resumed,
    };
    const files = await writeSweepOutputs(out, { runs, candidate, baseline, verdict, clips, info });
    return {
      out,
      sweep,
      variants: variants.length,
      runs: all.length,
      executed: jobs.length,
      resumed,
      workers,
      wallS,
      runWallS,
      simS,
      candidate,
      baseline,
      verdict,
      clips: clips.map((c) => c.runId),
      files,
    };
  } finally {
    checkpoint.close();
    await pool?.close();
  }
}

function filterText(filters: readonly string[] | undefined): string | null {
  return filters === undefined || filters.length === 0 ? null : filters.join(' | ');
}
