/**
 * Registry REST API benchmark: on SQLite in a temp workspace, a registry server on loopback serves
 * an open-loop load of 1,000 reads/s (GET a version) and 100 writes/s (tag a version: a serialized
 * transaction with its audit entry) for a bounded duration, then prints the achieved rates and the
 * p50/p99 latencies of each, against the target (p99 < 50 ms), and the HTTP overhead relative to
 * calling the service directly.
 *
 * Usage: node --import tsx bench/registry-api.ts [SECONDS=5]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../src/core/paths.js';
import { makePack } from '../src/registry/contract.js';
import { openRegistryDb } from '../src/registry/db.js';
import { RegistryService } from '../src/registry/service.js';
import { openFsStore } from '../src/store/fs.js';

const seconds = Math.min(30, Math.max(1, Number(process.argv[2] ?? 5) || 5));
const READS_PER_S = 1000;
const WRITES_PER_S = 100;

/** The server process's user+system CPU time in ms (Linux /proc), or undefined elsewhere. */
function serverCpuMs(pid: number | undefined): number | undefined {
  try {
    const fields =
      readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
        .split(') ')[1]
        ?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

const dir = await mkdtemp(join(tmpdir(), 'dg-bench-registry-'));
// Setup in-process, then the server runs in its own process (`drivegate registry serve`), so that the
// load generator does not share its event loop.
let token = '';
{
  const db0 = await openRegistryDb(join(dir, 'registry.db'));
  const s0 = new RegistryService(db0, { store: await openFsStore(join(dir, 'store')) });
  token = (await s0.createToken('bootstrap', 'bench', 'technical')).token;
  const tech0 = await s0.localPrincipal('bench');
  for (let i = 0; i < 20; i++) {
    const folder = await makePack(dir, 'det', `1.${i}.0`);
    await s0.register(tech0, { manifest: await readFile(join(folder, 'manifest.json')), file: 'm', folder });
  }
  await db0.close();
}
const db = await openRegistryDb(join(dir, 'registry.db'));
const service = new RegistryService(db, { store: await openFsStore(join(dir, 'store')) });
const ts = import.meta.url.endsWith('.ts');
const main = ts
  ? ['--import', 'tsx', join(packageRoot(), 'src/cli/main.ts')]
  : [join(packageRoot(), 'dist/src/cli/main.js')];
const server = spawn(process.execPath, [...main, 'registry', 'serve', '--port', '0'], {
  cwd: packageRoot(),
  env: {
    ...process.env,
    DRIVEGATE_HOME: dir,
    DRIVEGATE_CONFIG: '',
    DRIVEGATE_DB: '',
    DRIVEGATE_STORE: '',
    DRIVEGATE_LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const base = await new Promise<string>((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /listening on (\S+)/.exec(out);
    if (m?.[1] !== undefined) resolve(`${m[1]}/api/v1`);
  });
  server.once('exit', (c) => reject(new Error(`registry serve exited ${String(c)}`)));
});
try {
  const tech = await service.localPrincipal('bench');
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const reads: number[] = [];
  const writes: number[] = [];
  let errors = 0;
  let n = 0;
  // node:http with a keep-alive agent: a cheaper client than fetch, so the generator's own cost
  // does not dominate on a small machine.
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const url = new URL(base);
  const request = (method: string, path: string, body?: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: url.hostname, port: url.port, method, path: url.pathname + path, agent, headers },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const one = async (write: boolean): Promise<void> => {
    const i = n++;
    const v = `1.${i % 20}.0`;
    const t0 = performance.now();
    const status = write
      ? await request('POST', `/models/det/versions/${v}/tags`, JSON.stringify({ tag: `t${i}` }))
      : await request('GET', `/models/det/versions/${v}`);
    if (status !== 200) errors++;
    (write ? writes : reads).push(performance.now() - t0);
  };
  // Warm-up, then the open-loop load: every 10 ms, 10 reads and (every 10 ms on average) 1 write.
  await Promise.all(Array.from({ length: 50 }, (_, i) => one(i % 10 === 0)));
  reads.length = 0;
  writes.length = 0;
  const inflight: Promise<void>[] = [];
  const cpu0 = serverCpuMs(server.pid);
  const start = performance.now();
  let sentR = 0;
  let sentW = 0;
  while (performance.now() - start < seconds * 1000) {
    const elapsed = (performance.now() - start) / 1000;
    while (sentR < elapsed * READS_PER_S) {
      inflight.push(one(false));
      sentR++;
    }
    while (sentW < elapsed * WRITES_PER_S) {
      inflight.push(one(true));
      sentW++;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(inflight);
  const wall = (performance.now() - start) / 1000;
  const cpu1 = serverCpuMs(server.pid);
  // The alternative: the same reads through the service directly (no HTTP, no auth).
  const t0 = performance.now();
  for (let i = 0; i < 500; i++) await service.showVersion(tech, 'det', `1.${i % 20}.0`);
  const direct = (performance.now() - t0) / 500;
  const r99 = pct(reads, 99);
  const w99 = pct(writes, 99);
  console.log(
    `registry REST API on SQLite, ${seconds} s open-loop load, loopback (${wall.toFixed(1)} s incl. drain)`,
  );
  console.log(
    `  reads : ${(reads.length / wall).toFixed(0)}/s achieved (target ${READS_PER_S}/s)  p50 ${pct(reads, 50).toFixed(2)} ms  p99 ${r99.toFixed(2)} ms`,
  );
  console.log(
    `  writes: ${(writes.length / wall).toFixed(0)}/s achieved (target ${WRITES_PER_S}/s)  p50 ${pct(writes, 50).toFixed(2)} ms  p99 ${w99.toFixed(2)} ms`,
  );
  console.log(`  errors: ${errors}`);
  if (cpu0 !== undefined && cpu1 !== undefined) {
    const perReq = (cpu1 - cpu0) / (reads.length + writes.length);
    console.log(
      `  server CPU: ${perReq.toFixed(3)} ms per request (${((cpu1 - cpu0) / 10 / wall).toFixed(0)}% of a core)`,
    );
  }
  console.log(
    `  machine load average at the end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} (${availableParallelism()} CPUs)`,
  );
  console.log(
    `  p99 vs the 50 ms budget: reads ${(r99 / 50).toFixed(2)}x, writes ${(w99 / 50).toFixed(2)}x (${r99 < 50 && w99 < 50 ? 'MET' : 'MISSED'})`,
  );
  console.log(
    `  direct service read (no HTTP): ${direct.toFixed(2)} ms mean; HTTP read p50 is ${(pct(reads, 50) / direct).toFixed(1)}x that`,
  );
} finally {
  server.kill('SIGTERM');
  await db.close();
  await rm(dir, { recursive: true, force: true });
}
