/**
 * A child process for the store's crash and concurrency tests (not part of the product): it writes
 * large blobs through the filesystem store and sets refs to them, printing a line after each step,
 * so that a test can SIGKILL it at chosen moments.
 *
 * Usage: node fs.crash-child.js STORE_DIR MODE SIZE_BYTES
 *   MODE loop:  forever: print "begin i", write blob i slowly, set refs crash/<i> and crash/latest, print "done i <digest>"
 *   MODE same:  write the blob of seed 0 once, set ref same/<pid>, print "done 0 <digest>", exit
 */
import { createCipheriv, createHash } from 'node:crypto';
import { FsStore } from './fs.js';

/** Deterministic pseudo-random bytes for seed `seed`, `size` bytes in 64 KiB chunks, yielding between chunks. */
async function* seededChunks(seed: number, size: number, pauseMs = 0): AsyncGenerator<Uint8Array> {
  const key = createHash('sha256').update(`seed-${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const chunk = 64 * 1024;
  for (let off = 0; off < size; off += chunk) {
    const n = Math.min(chunk, size - off);
    yield cipher.update(Buffer.alloc(n));
    await new Promise((r) => (pauseMs > 0 ? setTimeout(r, pauseMs) : setImmediate(r)));
  }
}

async function main(): Promise<void> {
  const [root, mode, sizeText] = process.argv.slice(2);
  if (root === undefined || mode === undefined || sizeText === undefined)
    throw new Error('usage: STORE MODE SIZE');
  const store = new FsStore(root);
  const size = Number(sizeText);
  if (mode === 'same') {
    const info = await store.putStream(seededChunks(0, size));
    await store.setRef(`same/${process.pid}`, info.digest);
    process.stdout.write(`done 0 ${info.digest}\n`);
    return;
  }
  for (let i = 0; ; i++) {
    process.stdout.write(`begin ${i}\n`);
    const info = await store.putStream(seededChunks(i, size, 1));
    await store.setRef(`crash/${i}`, info.digest);
    await store.setRef('crash/latest', info.digest);
    process.stdout.write(`done ${i} ${info.digest}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
