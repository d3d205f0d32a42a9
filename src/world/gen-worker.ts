/**
 * The generation worker: a worker thread (node:worker_threads) that exports the scenes the dataset
 * writer sends it, one at a time, and posts back each scene's result. Started by dataset.ts from the
 * compiled gen-worker.js, or from this .ts file under tsx.
 */
import { parentPort } from 'node:worker_threads';
import { exportScene } from './export-scene.js';
import type { SceneJob } from './export-scene.js';

/** A message from the dataset writer to a worker. */
export type WorkerRequest = { type: 'job'; job: SceneJob } | { type: 'stop' };

/** A message from a worker to the dataset writer. */
export type WorkerReply =
  | { type: 'result'; result: ReturnType<typeof exportScene> }
  | { type: 'error'; index: number; message: string; stack?: string };

const port = parentPort;
if (port !== null) {
  port.on('message', (msg: WorkerRequest) => {
    if (msg.type === 'stop') {
      port.close();
      return;
    }
    try {
      const reply: WorkerReply = { type: 'result', result: exportScene(msg.job) };
      port.postMessage(reply);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const reply: WorkerReply = {
        type: 'error',
        index: msg.job.index,
        message: e.message,
        ...(e.stack !== undefined ? { stack: e.stack } : {}),
      };
      port.postMessage(reply);
    }
  });
}
