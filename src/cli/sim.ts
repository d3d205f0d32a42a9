/**
 * `drivegate sim ...`: closed-loop simulation (#17). `sim run` sweeps scenario variants x seeds with
 * a model (or pack, or ground truth) in the loop, optionally against a baseline on the same seeds,
 * writes the sweep's outputs and judges the Sim Gate; `sim list` prints the variants a folder and
 * filter give; `sim validate` checks scenario files against their OpenSCENARIO XSD and the subset.
 */
import type { Command } from 'commander';
import { DrivegateError } from '../core/errors.js';
import { formatVerdict, parseWaivers } from '../eval/gates/index.js';
import { readYamlSource } from '../eval/yaml.js';
import { validateScenarios } from '../sim/openscenario/index.js';
import {
  GROUND_TRUTH,
  groundTruth,
  modelFile,
  PACK_PRECISIONS,
  readSimGate,
  resolveModelRef,
  runSweep,
  sweepVariants,
} from '../sim/sweep/index.js';
import type { PackPrecision, ResolvedPerception, SweepResult } from '../sim/sweep/index.js';
import { badOptionValue, parseIntOption, parseNumberOption } from './option-values.js';
import { addWorkspaceOptions, storeOf, workspaceFromFlags } from './workspace-options.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
};

interface RunFlags {
  model?: string;
  pack?: string;
  baseline?: string;
  scenarios: string;
  filter: string[];
  seeds: string;
  workers?: string;
  gate?: string;
  waivers?: string;
  perception?: string;
  out: string;
  resume?: boolean;
  json?: boolean;
  dt?: string;
  perceptionHz?: string;
  precision: string;
  clips: string;
  config?: string;
}

/** Registers `drivegate sim run|list|validate`. */
export function registerSim(program: Command): void {
  const sim = program
    .command('sim')
    .description('Closed-loop simulation (#17): scenario sweeps with the model in the loop, and the Sim Gate')
    .addHelpText(
      'after',
      '\nExample:\n  drivegate sim run --model models/detector-v1.1.0.onnx --baseline models/detector-v1.0.0.onnx \\\n    --scenarios examples/scenarios --filter family=CCRs --seeds 5 --gate examples/sim-gate.yaml --out /tmp/sim',
    );

  addWorkspaceOptions(
    sim
      .command('run')
      .description(
        'Run a sweep: every scenario variant x seed, the candidate and the baseline on the same seeds',
      )
      .option('--model <onnx>', 'the candidate: an ONNX model with <name>.inference_config.json beside it')
      .option(
        '--pack <pack>',
        'the candidate: a sealed pack folder, or a pack manifest digest in the workspace store',
      )
      .option(
        '--precision <p>',
        `which model variant of the --pack drives perception: ${PACK_PRECISIONS.join('|')} (model.onnx, model.fp16.onnx, model.int8.onnx); its runs are labelled <name>@<version>:<p> unless fp32`,
        'fp32',
      )
      .option('--perception <mode>', `'${GROUND_TRUTH}': the candidate is perfect perception (no model)`)
      .option(
        '--baseline <ref>',
        `the baseline on the same seeds: an ONNX model, a pack folder or digest, or '${GROUND_TRUTH}'`,
      )
      .requiredOption(
        '--scenarios <path>',
        'a folder of .xosc scenarios, or one .xosc (scenario or parameter distribution)',
      )
      .option(
        '--filter <expr>',
        'key=value terms, e.g. family=CCRs,weather=fog (same key twice = or; repeat --filter for a union)',
        collect,
        [],
      )
      .option('--seeds <n>', 'seeds per variant (run k of variant v uses a seed derived from v and k)', '3')
      .option('--workers <k>', 'worker threads (default: every core)')
      .option('--gate <yaml>', 'Sim Gate criteria (e.g. examples/sim-gate.yaml); exit 1 when it fails')
      .option('--waivers <yaml>', 'waivers for Sim Gate rules (the eval gate format)')
      .option('--clips <n>', 'failure clips (animated GIF) to record at most', '12')
      .option('--dt <s>', 'physics step in seconds (engine default 0.01)')
      .option('--perception-hz <hz>', 'camera + perception rate (engine default 10)')
      .requiredOption(
        '--out <dir>',
        'output folder (its checkpoint lets --resume continue an interrupted sweep)',
      )
      .option(
        '--resume',
        'continue the interrupted sweep whose checkpoint is in --out (finished runs are kept)',
      )
      .option('--json', 'print the result as JSON on stdout'),
  )
    .addHelpText(
      'after',
      `
Outputs in --out: sim_summary.parquet (a row per run), scenarios/<family>.csv|json, sim_report.json,
violations_heatmap.svg|png, clips/*.gif (failing runs), sim_gate.json (verdict), sim_summary.md, and
sim_checkpoint.jsonl (progress; appended after every run).
Exit code 0 when the sweep ran and the gate (if any) passed, 1 when the gate failed, 2 on bad input
or a gate that cannot be evaluated, 3 on an internal error.

Examples:
  drivegate sim run --model models/detector-v1.1.0.onnx --baseline models/detector-v1.0.0.onnx \\
    --scenarios examples/scenarios --filter family=CCRs,family=CPNA,weather=fog,weather=clear \\
    --seeds 5 --gate examples/sim-gate.yaml --out /tmp/sim-v110
  drivegate sim run --model models/detector-v1.0.0.onnx --baseline ground-truth \\
    --scenarios examples/scenarios --gate examples/sim-gate.yaml --out /tmp/sim-v100-gt
  drivegate sim run --pack /tmp/det-pack --scenarios examples/scenarios --out /tmp/sim --resume
  drivegate sim run --pack /tmp/det-pack --precision int8 --baseline /tmp/det-pack \\
    --scenarios examples/scenarios --filter family=CCRs --out /tmp/sim-int8-vs-fp32`,
    )
    .action(async (f: RunFlags) => {
      const seeds = parseIntOption('--seeds', f.seeds, 1, 100_000);
      const workers = f.workers === undefined ? undefined : parseIntOption('--workers', f.workers, 1, 1024);
      const maxClips = parseIntOption('--clips', f.clips, 0, 10_000);
      const dt = f.dt === undefined ? undefined : parseNumberOption('--dt', f.dt, 0.001, 0.1);
      const perceptionHz =
        f.perceptionHz === undefined
          ? undefined
          : parseNumberOption('--perception-hz', f.perceptionHz, 0.1, 1000);
      const given = [f.model, f.pack, f.perception].filter((x) => x !== undefined).length;
      if (given !== 1) {
        throw new DrivegateError('USAGE', 'name the candidate once', {
          expected: `exactly one of --model, --pack, --perception ${GROUND_TRUTH}`,
          found: given === 0 ? 'none' : `${given} of them`,
        });
      }
      if (f.perception !== undefined && f.perception !== GROUND_TRUTH)
        throw badOptionValue('--perception', GROUND_TRUTH, f.perception);
      if (!(PACK_PRECISIONS as readonly string[]).includes(f.precision))
        throw badOptionValue('--precision', PACK_PRECISIONS.join(', '), f.precision);
      const precision = f.precision as PackPrecision;
      if (precision !== 'fp32' && f.pack === undefined) {
        throw new DrivegateError('USAGE', `--precision ${precision} selects a model variant of a pack`, {
          expected: '--pack with --precision (an .onnx model or ground truth has one precision)',
          found: f.model !== undefined ? '--model' : `--perception ${GROUND_TRUTH}`,
        });
      }
      const gate = f.gate === undefined ? null : await readSimGate(f.gate);
      const waivers = f.waivers === undefined ? [] : parseWaivers(await readYamlSource(f.waivers));
      const openStore = async (): Promise<{
        store: Awaited<ReturnType<typeof storeOf>>;
        cacheDir: string;
      }> => {
        const ws = workspaceFromFlags(f);
        return { store: await storeOf(ws), cacheDir: ws.cacheDir };
      };
      const candidate: ResolvedPerception =
        f.perception !== undefined
          ? groundTruth()
          : f.model !== undefined
            ? await modelFile(f.model)
            : await resolveModelRef(f.pack!, openStore, precision);
      const baseline = f.baseline === undefined ? null : await resolveModelRef(f.baseline, openStore);
      const progress = progressPrinter();
      const result = await runSweep({
        scenarios: f.scenarios,
        filters: f.filter,
        seeds,
        workers,
        candidate,
        baseline,
        gate,
        waivers,
        out: f.out,
        resume: f.resume === true,
        dt,
        perceptionHz,
        maxClips,
        onProgress: progress,
        onNote: (t) => process.stderr.write(`sim: ${t}\n`),
      });
      progress.end();
      if (f.json === true) out(JSON.stringify(resultJson(result), null, 2));
      else out(formatResult(result));
      const v = result.verdict;
      if (v?.status === 'error') {
        process.stderr.write(
          `drivegate: the Sim Gate could not be evaluated:\n${v.errors.map((e) => '  ' + e).join('\n')}\n`,
        );
        process.exitCode = 2;
      } else if (v?.status === 'fail') {
        process.stderr.write(`drivegate: ${v.summary}\n`);
        process.exitCode = new DrivegateError('GATE_FAILED', v.summary).exitCode;
      }
    });

  sim
    .command('list <scenarios>')
    .description('List the scenario variants of a folder or file (after --filter)')
    .option(
      '--filter <expr>',
      'key=value terms, e.g. family=CCRs,weather=fog (repeat for a union)',
      collect,
      [],
    )
    .option('--json', 'print the variants as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  drivegate sim list examples/scenarios --filter family=CPNA,time_of_day=night',
    )
    .action(async (path: string, f: { filter: string[]; json?: boolean }) => {
      const variants = await sweepVariants(path, f.filter);
      if (f.json === true) {
        out(
          JSON.stringify(
            variants.map((v) => ({
              id: v.id,
              family: v.family,
              category: v.category,
              file: v.file,
              parameters: v.parameters,
            })),
            null,
            2,
          ),
        );
        return;
      }
      for (const v of variants)
        out(`${v.id}\t${v.category}\t${v.scenario.environment.weather}/${v.scenario.environment.timeOfDay}`);
      process.stderr.write(`${variants.length} variant(s)\n`);
    });

  sim
    .command('validate <path>')
    .description('Validate .xosc files against their OpenSCENARIO XSD (1.0/1.1/1.3) and the supported subset')
    .option('--json', 'print one JSON entry per file')
    .addHelpText(
      'after',
      '\nExample:\n  drivegate sim validate examples/scenarios\n\nExit 2 naming the file, line and unsupported elements when a file is not valid.',
    )
    .action(async (path: string, f: { json?: boolean }) => {
      const files = await validateScenarios(path);
      if (f.json === true) out(JSON.stringify(files, null, 2));
      else
        for (const v of files)
          out(`ok  ${v.file}  OpenSCENARIO ${v.version} ${v.kind}, ${v.variants} variant(s)`);
    });
}

/** Progress on stderr: a line per 5% (or per run for short sweeps), with runs/s. */
function progressPrinter(): ((done: number, total: number) => void) & { end: () => void } {
  const t0 = performance.now();
  let last = -1;
  let first = -1;
  const fn = (done: number, total: number): void => {
    if (first < 0) first = done - 1;
    const step = Math.max(1, Math.floor(total / 20));
    if (done !== total && done - last < step) return;
    last = done;
    const s = (performance.now() - t0) / 1000;
    const rate = s > 0 ? (done - first) / s : 0;
    process.stderr.write(
      `sim: ${done}/${total} runs (${((done / total) * 100).toFixed(0)}%), ${rate.toFixed(2)} runs/s\n`,
    );
  };
  return Object.assign(fn, { end: () => undefined });
}

function resultJson(r: SweepResult): Record<string, unknown> {
  return {
    out: r.out,
    sweep: r.sweep,
    variants: r.variants,
    runs: r.runs,
    executed: r.executed,
    resumed: r.resumed,
    workers: r.workers,
    wall_s: r.wallS,
    candidate: { model: r.candidate.model, overall: r.candidate.overall },
    baseline: r.baseline === null ? null : { model: r.baseline.model, overall: r.baseline.overall },
    gate: r.verdict,
    clips: r.clips,
    files: r.files,
  };
}

function formatResult(r: SweepResult): string {
  const lines: string[] = [];
  const side = (rep: NonNullable<SweepResult['baseline']>): string => {
    const a = rep.overall;
    return `${rep.model.name}: ${a.runs} runs, ${a.collisions} collisions (${a.collisions_per_1000km === null ? '-' : a.collisions_per_1000km.toFixed(1)} per 1,000 km), ${a.near_misses} near misses (VRU ${a.vru_near_misses}), ${a.false_brake_events} false brakes, max decel p95 ${a.comfort.max_decel_mps2.p95?.toFixed(2) ?? '-'} m/s²`;
  };
  lines.push(
    `sweep ${r.sweep.slice(0, 12)}: ${r.variants} variant(s), ${r.runs} run(s) (${r.executed} executed, ${r.resumed} resumed), ${r.workers} worker(s), ${r.wallS.toFixed(1)} s`,
  );
  lines.push(`candidate ${side(r.candidate)}`);
  if (r.baseline !== null) lines.push(`baseline  ${side(r.baseline)}`);
  if (r.verdict !== null) lines.push('', formatVerdict(r.verdict));
  lines.push(
    '',
    `outputs in ${r.out} (${r.files.length} files${r.clips.length > 0 ? `, ${r.clips.length} failure clip(s)` : ''})`,
  );
  return lines.join('\n');
}
