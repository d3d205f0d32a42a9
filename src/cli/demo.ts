/**
 * `drivegate demo`: the whole pipeline on the reference world, in one go, ending with a summary of
 * what it made and where.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { DEMO_DEFAULTS, DEMO_SIM, demoWorkflow } from '../demo/index.js';
import type { DemoArgs, DemoEvalResult, DemoSimResult } from '../demo/index.js';
import type { DemoRelease } from '../demo/release.js';
import { DrivegateError } from '../core/errors.js';
import { runWorkDir } from '../core/runner.js';
import { addRunOptions, runWorkflowFromCli, workspaceFromFlags } from './workspace-options.js';
import type { RunFlags } from './workspace-options.js';

interface DemoFlags extends RunFlags {
  scenes: string;
  framesPerScene: string;
  seed: string;
  workers: string;
}

function int(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new DrivegateError('USAGE', `bad value for ${name}`, {
      expected: `an integer >= ${min}`,
      found: text,
    });
  }
  return n;
}

/** Registers `drivegate demo`. */
export function registerDemo(program: Command): void {
  addRunOptions(
    program
      .command('demo')
      .description('run every workflow on the reference world and summarise what it made and where')
      .option('--scenes <n>', 'scenes of the demo world', String(DEMO_DEFAULTS.scenes))
      .option('--frames-per-scene <k>', 'frames per scene', String(DEMO_DEFAULTS.framesPerScene))
      .option('--seed <s>', 'world seed', String(DEMO_DEFAULTS.seed))
      .option('--workers <n>', 'runtime worker threads for evaluation', String(DEMO_DEFAULTS.workers)),
  )
    .addHelpText(
      'after',
      '\nExample:\n  $ drivegate demo                 # about 2-2.5 minutes on 2 cores; state in ./.drivegate\n' +
        '  $ DRIVEGATE_HOME=/tmp/dg drivegate demo --scenes 60 --json\n',
    )
    .action(async (flags: DemoFlags) => {
      const args: DemoArgs = {
        scenes: int('--scenes', flags.scenes, 1),
        framesPerScene: int('--frames-per-scene', flags.framesPerScene, 1),
        seed: int('--seed', flags.seed, 0),
        workers: int('--workers', flags.workers, 0),
        ...(flags.config !== undefined ? { config: flags.config } : {}),
      };
      const started = Date.now();
      const record = await runWorkflowFromCli(demoWorkflow, args, flags);
      const ws = workspaceFromFlags(flags);
      const work = (step: string, name: string): string =>
        join(runWorkDir(ws.runsDir, record.id, step), name);
      const evals = record.steps
        .filter((s) => s.name.startsWith('eval-'))
        .map((s) => ({ step: s.name, result: s.result as DemoEvalResult | undefined, status: s.status }));
      const packs =
        (record.steps.find((s) => s.name === 'package')?.result as
          Array<{ version: string; digest: string; folder: string }> | undefined) ?? [];
      const simRec = record.steps.find((s) => s.name.startsWith('sim-'));
      const sim = simRec?.result as DemoSimResult | undefined;
      const simDir = simRec === undefined ? '' : work(simRec.name, 'sim');
      const release = record.steps.find((s) => s.name === 'release')?.result as DemoRelease | undefined;
      const seconds = (Date.now() - started) / 1000;
      if (flags.json) {
        process.stdout.write(
          JSON.stringify({
            run: record.id,
            seconds,
            world: work('world', 'world'),
            validation: work('validate', 'validation.json'),
            evaluations: evals.map((e) => ({ ...e.result, report: work(e.step, 'report') })),
            simulation:
              sim === undefined ? null : { ...sim, out: simDir, gate_file: join(simDir, 'sim_gate.json') },
            packs: packs.map((p) => ({ ...p, path: work('package', join('packs', p.folder)) })),
            release,
          }) + '\n',
        );
        return;
      }
      const lines = [
        '',
        `drivegate demo finished in ${seconds.toFixed(1)} s (run ${record.id})`,
        '',
        `  world       ${work('world', 'world')}`,
        `              COCO (golden_{train,val,test}.json), manifests, slices.yaml, images, masks, 3D boxes`,
        `  validation  ${work('validate', 'validation.json')}  (schema, expectations, leakage: passed)`,
        '',
        '  evaluations on golden_test (gate: examples/gates.yaml against production v1.0.0)',
      ];
      for (const e of evals) {
        const r = e.result;
        if (r === undefined) continue;
        const map = r.map === null ? 'n/a' : r.map.toFixed(3);
        const why = r.failed_rules.length > 0 ? `  failed: ${r.failed_rules.join(', ')}` : '';
        lines.push(
          `    v${r.version.padEnd(6)} ${r.role.padEnd(22)} mAP ${map}  ${r.verdict}${why}`,
          `            ${work(e.step, 'report')}  (eval_report.json, evaluation_summary.md, slice_metrics.parquet, charts/)`,
        );
      }
      if (sim !== undefined) {
        const vs = (k: 'collisions' | 'vru_conflicts' | 'false_brake_events'): string =>
          `${sim[k].candidate} vs ${sim[k].baseline}`;
        lines.push(
          '',
          `  simulation  v${sim.candidate} against production v${sim.baseline} on the same seeds (gate: ${DEMO_SIM.gate})`,
          `    ${sim.variants} variants of ${DEMO_SIM.scenarios} (${DEMO_SIM.subset}) x ${DEMO_SIM.seeds} seed, ${sim.runs} runs`,
          `    collisions ${vs('collisions')}, VRU conflicts ${vs('vru_conflicts')}, false brakes ${vs('false_brake_events')}`,
          `    Sim Gate: ${sim.verdict.toUpperCase()}  (${sim.summary})` +
            (sim.failed_rules.length > 0 ? `  failed: ${sim.failed_rules.join(', ')}` : ''),
          `            ${simDir}  (sim_gate.json, sim_summary.md, sim_summary.parquet, violations heatmap, clips/)`,
        );
      }
      lines.push('', '  packs (drivegate package; verify with drivegate package verify DIR)');
      for (const p of packs) {
        lines.push(`    v${p.version.padEnd(6)} ${p.digest}  ${work('package', join('packs', p.folder))}`);
      }
      if (release !== undefined) {
        lines.push(
          '',
          `  registry    ${release.registry}  (policy examples/policy.yaml: eval and sim reports must pass)`,
          ...release.moves.map((m) => `    ${m}`),
          `    production is now v${release.production ?? '(none)'}`,
        );
        for (const r of release.refused) {
          lines.push(`    v${r.version} -> ${r.stage} refused by the policy:`);
          for (const f of r.failed) lines.push(`      ${f}`);
        }
        lines.push(
          '    (drivegate registry show detector --user tina; drivegate registry audit verify --user sec)',
        );
      }
      lines.push(
        '',
        `  run record  ${join(ws.runsDir, record.id, 'run.json')}   (drivegate runs show ${record.id})`,
        `  store       every output above is content-addressed in the workspace store (drivegate store fsck)`,
        '',
      );
      process.stdout.write(lines.join('\n') + '\n');
    });
}
