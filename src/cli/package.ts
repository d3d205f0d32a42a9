/**
 * `drivegate package`: packs a trained ONNX model by a recipe into a sealed model pack (workflow
 * #15) and prints its digest; `drivegate package verify DIR|DIGEST` re-hashes a pack.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { DrivegateError } from '../core/errors.js';
import { ensureWorkspace } from '../core/workspace.js';
import { packageWorkflow, preparePackage, verifyPack } from '../package/index.js';
import type { PackageArgs, SealResult } from '../package/index.js';
import {
  addRunOptions,
  addWorkspaceOptions,
  runWorkflowFromCli,
  storeOf,
  workspaceFromFlags,
} from './workspace-options.js';
import type { RunFlags, WorkspaceFlags } from './workspace-options.js';

interface PackageFlags extends RunFlags {
  model?: string;
  recipe?: string;
  version?: string;
  out?: string;
  calibration?: string;
}

/** Registers `drivegate package` and `drivegate package verify`. */
export function registerPackage(program: Command): void {
  const cmd = addRunOptions(
    program
      .command('package')
      .description(
        'Pack a model by a recipe: graph checks, sanity smoke, FP16 and INT8 variants (calibration shard), ' +
          'Triton model repository, equivalence, microbenchmark, sealed manifest. Prints the pack digest ' +
          '(sha256 of manifest.json).',
      )
      .option(
        '--model <file>',
        'ONNX model, or PyTorch .pt/.pth/.ts exported via tools/export_onnx.py (its inference config is ' +
          '<name>.inference_config.json beside it)',
      )
      .option('--recipe <file>', 'packaging recipe YAML (see examples/recipe.yaml)')
      .option('--version <semver>', "pack version (default: the inference config's model.version)")
      .option('--out <dir>', 'pack folder (default: <workspace>/packs/<task>/<name>/<version>)')
      .option(
        '--calibration <manifest>',
        "calibration manifest (JSON lines) overriding the recipe's shard source",
      ),
  ).addHelpText(
    'after',
    `
Examples:
  drivegate package --model models/detector-v1.0.0.onnx --recipe examples/recipe.yaml --out /tmp/det-pack
  drivegate package --model models/detector-v1.0.0.onnx --recipe examples/recipe.yaml --version 1.0.1 --json
  drivegate package --model m.onnx --recipe examples/recipe.yaml --calibration data/golden_train.manifest
  drivegate package --model detector.pt --recipe examples/recipe.yaml --out /tmp/pt-pack
  drivegate package verify /tmp/det-pack
  drivegate package verify sha256:<manifest digest>`,
  );
  cmd.action(async (flags: PackageFlags) => {
    if (flags.resume === undefined && (flags.model === undefined || flags.recipe === undefined)) {
      throw new DrivegateError('USAGE', 'package needs --model and --recipe', {
        expected: '--model FILE --recipe FILE',
        found: [
          flags.model === undefined ? 'no --model' : '',
          flags.recipe === undefined ? 'no --recipe' : '',
        ]
          .filter((s) => s !== '')
          .join(', '),
      });
    }
    const ws = workspaceFromFlags(flags);
    await ensureWorkspace(ws);
    const store = await storeOf(ws);
    const args: PackageArgs =
      flags.resume !== undefined
        ? ({} as PackageArgs)
        : await preparePackage({
            model: flags.model ?? '',
            recipe: flags.recipe ?? '',
            version: flags.version,
            out: flags.out,
            packsDir: join(ws.home, 'packs'),
            calibration: flags.calibration,
            worldsDir: join(ws.home, 'worlds'),
            exportsDir: join(ws.home, 'exports'),
            log: (m) => process.stderr.write(`${m}\n`),
          });
    const record = await runWorkflowFromCli(packageWorkflow(store), args, flags);
    const seal = record.steps.find((s) => s.name === 'seal')?.result as SealResult | undefined;
    if (seal === undefined) throw new DrivegateError('INTERNAL', 'the seal step left no result');
    if (flags.json) {
      process.stdout.write(
        JSON.stringify({ digest: seal.digest, path: seal.path, run: record.id, refs: seal.refs }) + '\n',
      );
    } else {
      process.stdout.write(`${seal.digest}\n`);
      process.stderr.write(
        `pack: ${seal.path} (${seal.files} files; store refs ${seal.refs}; run ${record.id})\n`,
      );
    }
  });

  addWorkspaceOptions(
    cmd
      .command('verify <pack>')
      .description('Re-hash a pack (a folder, or sha256:<manifest digest> in the store) against its manifest')
      .option('--json', 'machine output'),
  )
    .addHelpText(
      'after',
      `
Examples:
  drivegate package verify /tmp/det-pack
  drivegate package verify sha256:3b1f...  --json`,
    )
    .action(async (target: string, flags: WorkspaceFlags & { json?: boolean }) => {
      const ws = workspaceFromFlags(flags);
      const store = await storeOf(ws);
      const r = await verifyPack(target, store);
      if (flags.json) {
        process.stdout.write(
          JSON.stringify({
            ok: r.ok,
            digest: r.digest,
            source: r.source,
            files: r.files,
            problems: r.problems,
          }) + '\n',
        );
      }
      const first = r.problems[0];
      if (first !== undefined) {
        throw new DrivegateError('INTEGRITY', `pack file ${first.path} does not match the manifest`, {
          file: first.path,
          record: r.digest,
          expected: first.expected,
          found: first.found,
          details: { problems: r.problems },
        });
      }
      if (!flags.json) process.stdout.write(`ok ${r.digest}: ${r.files} files (${r.bytes} bytes) match\n`);
    });
}
