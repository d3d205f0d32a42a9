/**
 * For CLI tests: runs the drivegate command line as a real child process (from src under tsx, or
 * from dist when the tests run compiled) in a given workspace, and returns exit code and output.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../core/paths.js';

/** The result of one CLI invocation. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `drivegate ARGS` with DRIVEGATE_HOME=home (and no inherited DRIVEGATE_CONFIG/STORE), plus
 * `env`. `callerUrl` (the test's import.meta.url) decides between the .ts sources and dist/.
 */
export function runCliIn(
  callerUrl: string,
  home: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): CliResult {
  const root = packageRoot();
  const argv = callerUrl.endsWith('.ts')
    ? ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), ...args]
    : [join(root, 'dist', 'src', 'cli', 'main.js'), ...args];
  const r = spawnSync(process.execPath, argv, {
    cwd: root,
    encoding: 'utf8',
    env: {
      ...process.env,
      DRIVEGATE_CONFIG: '',
      DRIVEGATE_STORE: '',
      DRIVEGATE_RUNS_DIR: '',
      ...env,
      DRIVEGATE_HOME: home,
    },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
