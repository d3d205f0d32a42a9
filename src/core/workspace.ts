/**
 * The workspace: the folder ($DRIVEGATE_HOME, default ./.drivegate) that holds drivegate's state on
 * one machine: drivegate.yaml, the artifact store (store/), the registry database (registry.db), run
 * records (runs/<run-id>/run.json) and the step cache (cache/). Opening a workspace loads its config;
 * folders are created lazily by whoever writes into them.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from './config.js';
import type { DrivegateConfig } from './config.js';
import { workspaceHome } from './paths.js';

/** An opened workspace: its folder, effective config and the folders of its parts. */
export interface Workspace {
  /** The workspace folder (absolute). */
  home: string;
  /** The effective config (file + environment). */
  config: DrivegateConfig;
  /** Where run records live: <runsDir>/<run-id>/run.json. */
  runsDir: string;
  /** Where the step cache index lives. */
  cacheDir: string;
}

/** Options of openWorkspace. */
export interface OpenWorkspaceOptions {
  /** The workspace folder; default $DRIVEGATE_HOME or ./.drivegate. */
  home?: string | undefined;
  /** An explicit config file (--config). */
  configPath?: string | undefined;
  /** The environment; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The working directory; default process.cwd(). */
  cwd?: string;
}

/** Opens the workspace: resolves its folder and loads its config (nothing is created on disk). */
export function openWorkspace(options: OpenWorkspaceOptions = {}): Workspace {
  const env = options.env ?? process.env;
  const home = options.home ?? workspaceHome(env);
  const config = loadConfig({
    home,
    configPath: options.configPath,
    env,
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  });
  return { home: config.home, config, runsDir: config.runs.dir, cacheDir: join(config.home, 'cache') };
}

/** Creates the workspace folders that local parts write into (home, runs, cache). */
export async function ensureWorkspace(ws: Workspace): Promise<void> {
  await mkdir(ws.home, { recursive: true });
  await mkdir(ws.runsDir, { recursive: true });
  await mkdir(ws.cacheDir, { recursive: true });
}
