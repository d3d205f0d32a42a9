/**
 * Benchmark of the filesystem artifact store and the step cache.
 *
 * (1) putFile (one pass: stream, hash, fsync, rename) of a large file against the obvious
 *     alternative, hashing the file and then fs.copyFile-ing it to its digest name (two passes, no
 *     fsync), and against a bare copyFile (no hash at all): the price of content addressing and
 *     crash safety;
 * (2) getToFile (verified read, atomic write) against fs.copyFile out of the store;
 * (3) a workflow whose step hashes the big file again, run fresh and then skipped-cached: the
 *     saving of the step cache.
 *
 *   node --import tsx bench/store.ts [MiB]        (default 256)
 */
import { createCipheriv } from 'node:crypto';
import { copyFile, mkdtemp, rm, writeFile, mkdir, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sha256File } from '../src/core/digest.js';
import { Runner } from '../src/core/runner.js';
import type { Workflow } from '../src/core/runner.js';
import { FsStore } from '../src/store/fs.js';

const mib = Number(process.argv[2] ?? 256);

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [(performance.now() - t0) / 1000, v];
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dg-bench-store-'));
  try {
    const src = join(dir, 'big.bin');
    const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16));
    const handle = await open(src, 'w');
    for (let i = 0; i < mib; i++) await handle.write(cipher.update(Buffer.alloc(1 << 20)));
    await handle.close();
    const store = new FsStore(join(dir, 'store'));
    await mkdir(join(dir, 'copies'));

    const [copyIn] = await timed(() => copyFile(src, join(dir, 'copies', 'in.bin')));
    const [naive] = await timed(async () => {
      const d = await sha256File(src);
      await copyFile(src, join(dir, 'copies', d.sha256));
    });
    const [put, info] = await timed(() => store.putFile(src));
    const [copyOut] = await timed(() =>
      copyFile(store.blobPath(info.digest), join(dir, 'copies', 'out.bin')),
    );
    const [get] = await timed(() => store.getToFile(info.digest, join(dir, 'out.bin')));
    const rate = (s: number): string => `${(mib / s).toFixed(0)} MiB/s`;
    console.log(`store ${mib} MiB file`);
    console.log(
      `  put (one pass: hash while writing, fsync, rename) ${put.toFixed(2)} s (${rate(put)})` +
        ` vs hash-then-copyFile (two passes, no fsync) ${naive.toFixed(2)} s: ratio ${(put / naive).toFixed(2)}x;` +
        ` vs bare copyFile ${copyIn.toFixed(2)} s: ratio ${(put / copyIn).toFixed(2)}x`,
    );
    console.log(
      `  get (verified, atomic)  ${get.toFixed(2)} s (${rate(get)}) vs copyFile ${copyOut.toFixed(2)} s (${rate(copyOut)}): ratio ${(get / copyOut).toFixed(2)}x`,
    );

    const wf: Workflow<{ file: string }> = {
      name: 'bench',
      steps: [
        {
          name: 'digest',
          inputs: (v) => ({ files: { file: v.args.file } }),
          outputs: ['digest.txt'],
          async run(ctx) {
            // Stands in for real work over the file: hash it twice.
            await sha256File(ctx.args.file);
            const d = await sha256File(ctx.args.file);
            await writeFile(ctx.out('digest.txt'), d.sha256);
          },
        },
      ],
    };
    const runner = new Runner({ runsDir: join(dir, 'runs'), cacheDir: join(dir, 'cache'), store });
    const [fresh] = await timed(() => runner.run(wf, { file: src }));
    const [cached, rec] = await timed(() => runner.run(wf, { file: src }));
    console.log(
      `  step cache: fresh run ${fresh.toFixed(2)} s, cached run ${cached.toFixed(2)} s (${rec.steps[0]?.status}; the input is still hashed once): ratio ${(fresh / cached).toFixed(2)}x`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
