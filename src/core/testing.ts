/**
 * Helpers for tests: run real child processes (crash and concurrency tests: start a sibling script
 * of the calling test under the same runtime, tsx for .ts sources or plain node for dist/, read its
 * stdout line by line, wait for a line, SIGKILL it), and assert that a call throws, or a promise
 * rejects, with a DrivegateError of a given code.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DrivegateError } from './errors.js';
import type { ErrorCode } from './errors.js';
import { packageRoot } from './paths.js';

/** A running child script. */
export interface ChildScript {
  /** Stdout lines so far. */
  readonly lines: string[];
  /** Resolves when a stdout line starting with `prefix` has appeared; rejects if the child exits first. */
  waitFor(prefix: string): Promise<void>;
  /** SIGKILLs the child. */
  kill(): void;
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Stderr so far. */
  stderr(): string;
}

/**
 * Starts `<folder of callerUrl>/<baseName><ext>` with node, where ext is the caller's own extension
 * (.ts under tsx, .js when compiled), so a test and its child script always run the same build.
 */
export function startChildScript(callerUrl: string, baseName: string, args: string[]): ChildScript {
  const caller = fileURLToPath(callerUrl);
  const ext = extname(caller);
  const script = join(dirname(caller), `${baseName}${ext}`);
  const argv = [...(ext === '.ts' ? ['--import', 'tsx'] : []), script, ...args];
  const proc = spawn(process.execPath, argv, { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: { prefix: string; resolve: () => void }[] = [];
  let buf = '';
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      for (const w of waiters) if (line.startsWith(w.prefix)) w.resolve();
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    lines,
    waitFor: (prefix) =>
      lines.some((l) => l.startsWith(prefix))
        ? Promise.resolve()
        : Promise.race([
            new Promise<void>((resolve) => waiters.push({ prefix, resolve })),
            exited.then((code) => {
              throw new Error(`child exited (${String(code)}) before a line "${prefix}": ${err}`);
            }),
          ]),
    kill: () => proc.kill('SIGKILL'),
    exited,
    stderr: () => err,
  };
}

/** Asserts that `p` rejects with a DrivegateError of `code`; returns the error. */
export async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<DrivegateError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DrivegateError, `expected DrivegateError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected a ${code} error`);
}

/** Asserts that `fn()` throws a DrivegateError of `code`; returns the error. */
export function throwsWith(fn: () => unknown, code: ErrorCode): DrivegateError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DrivegateError, `expected DrivegateError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected a ${code} error`);
}
