/**
 * The worker-thread side of SimPool: keeps the scenario variants it was sent (by id), runs
 * `simulateRun` for each request (the engine caches each model's session in this thread) and answers with the RunResult (or {code, message}). Not imported
 * by anything; SimPool starts it as a Worker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { asDrivegateError } from '../../core/errors.js';
import { closeLoopDetectors, simulateRun } from '../engine/index.js';
import type { ScenarioVariant } from '../types.js';
import type { SweepReply, SweepRequest, SweepWorkerData } from './protocol.js';

const port = parentPort;
if (port === null) throw new Error('the sweep worker must run in a worker thread');
// The engine opens each model once per thread with one intra-op thread (one worker = one core).
void (workerData as SweepWorkerData);
const variants = new Map<string, ScenarioVariant>();
let inflight: Promise<void> = Promise.resolve();

port.on('message', (msg: SweepRequest) => {
  if (msg.type === 'close') {
    // Leave only after the run in progress: ending a thread inside onnxruntime aborts the process.
    void inflight.then(closeLoopDetectors).finally(() => process.exit(0));
    return;
  }
  // Requests queue up (the pool keeps the next one waiting here); runs go one after another, never
  // interleaved: the engine's per-thread model session and buffers serve one run at a time.
  inflight = inflight.then(async () => {
    let reply: SweepReply;
    try {
      if (msg.variant !== undefined) variants.set(msg.variantId, msg.variant);
      const variant = variants.get(msg.variantId);
      if (variant === undefined) throw new Error(`variant ${msg.variantId} was never sent to this worker`);
      const result = await simulateRun(variant, msg.options);
      reply = { type: 'result', id: msg.id, result };
    } catch (err) {
      const e = asDrivegateError(err);
      reply = { type: 'error', id: msg.id, code: e.code, message: e.message };
    }
    port.postMessage(reply);
  });
});
const ready: SweepReply = { type: 'ready' };
port.postMessage(ready);
