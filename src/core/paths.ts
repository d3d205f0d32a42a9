/** Where drivegate's own files are: the package root (models/, examples/, fixtures) and the workspace. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The drivegate package root (the folder holding package.json), found from this module's location. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('drivegate package root not found');
    dir = up;
  }
}

/** The workspace folder: $DRIVEGATE_HOME, default ./.drivegate (relative to the working directory). */
export function workspaceHome(env: NodeJS.ProcessEnv = process.env): string {
  const home = env['DRIVEGATE_HOME'];
  return resolve(home !== undefined && home !== '' ? home : '.drivegate');
}

/** The shared fixtures folder beside the checkout (../shared/fixtures), when present. */
export function sharedFixtures(): string {
  return join(packageRoot(), '..', 'shared', 'fixtures');
}

/**
 * The OpenSCENARIO XSD folder: $DRIVEGATE_SCHEMAS when set, else the shared schemas beside the checkout
 * (../shared/schemas). The ASAM XSDs are read from there rather than copied into the repository.
 */
export function sharedSchemas(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env['DRIVEGATE_SCHEMAS'];
  return dir !== undefined && dir !== '' ? resolve(dir) : join(packageRoot(), '..', 'shared', 'schemas');
}
