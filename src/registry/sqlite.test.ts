/** The registry contract on SQLite (a fresh database file per test). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registryContract } from './contract.js';

registryContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dg-registry-sqlite-'));
  return { url: join(dir, 'registry.db'), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
