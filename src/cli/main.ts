#!/usr/bin/env node
/**
 * The drivegate command line. Each command group lives in its own file under src/cli/ and registers
 * itself on the root program; this file wires them together and maps errors to exit codes
 * (0 ok, 1 a gate said no, 2 bad input or usage, 3 internal error).
 */
import { Command, CommanderError } from 'commander';
import { asDrivegateError } from '../core/errors.js';
import { registerCommands } from './commands.js';

/**
 * Builds the root program with the command groups `argv` needs registered (every group without
 * `argv`; see registerCommands).
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command('drivegate')
    .description('The release pipeline for driving-perception models: package, evaluate, simulate, promote.')
    .version('0.1.0')
    .showHelpAfterError()
    // Root options (the root's own --version) are recognized only before the subcommand, so that a
    // subcommand's options of the same name (`package --version X.Y.Z`) reach the subcommand.
    .enablePositionalOptions()
    .exitOverride();
  await registerCommands(program, argv);
  return program;
}

/** Runs the CLI with `argv` (as process.argv) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    const e = asDrivegateError(err);
    const wantsJson = argv.includes('--json');
    if (wantsJson) process.stdout.write(JSON.stringify({ error: e.toJSON() }) + '\n');
    process.stderr.write(`drivegate: ${e.code === 'INTERNAL' ? 'internal error: ' : ''}${e.message}\n`);
    if (e.code === 'INTERNAL' && process.env['DRIVEGATE_DEBUG'] && err instanceof Error && err.stack) {
      process.stderr.write(err.stack + '\n');
    }
    return e.exitCode;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`drivegate: internal error: ${String(err)}\n`);
    process.exitCode = 3;
  },
);
