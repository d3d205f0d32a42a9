/**
 * The worker-thread side of SimPool: keeps the scenario variants it was sent (by id), runs
 * `simulateRun` for each queued job, one after another (the engine caches each model's session in
 * this thread), and answers with the outcomes (RunResult, or {code, message}) in batches: the
 * finished runs go out when its queue is empty or `resultBatchMs` passed since its last message, so
 * a sweep of millisecond runs costs one message per batch, while a long run is reported as soon as
 * it ends. A result goes as its JSON text unless it has recorded frames (see SweepOutcome). Not
 * imported by anything; SimPool starts it as a Worker.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { asDrivegateError } from '../../core/errors.js';
import { closeLoopDetectors, simulateRun } from '../engine/index.js';
import type { ScenarioVariant } from '../types.js';
import type { SweepJob, SweepOutcome, SweepReply, SweepRequest, SweepWorkerData } from './protocol.js';

const port = parentPort;
if (port === null) throw new Error('the sweep worker must run in a worker thread');
// The engine opens each model once per thread with one intra-op thread (one worker = one core).
const data = workerData as SweepWorkerData;
const batchMs = data.resultBatchMs;
const variants = new Map<string, ScenarioVariant>();
const queue: SweepJob[] = [];
let head = 0;
let running = false;
let closing = false;
let outcomes: SweepOutcome[] = [];
let lastPost = performance.now();

function post(): void {
  if (outcomes.length === 0) return;
  const reply: SweepReply = { type: 'results', outcomes };
  outcomes = [];
  lastPost = performance.now();
  port!.postMessage(reply);
}

function leave(): void {
  // Leave only after the runs in progress: ending a thread inside onnxruntime aborts the process.
  void closeLoopDetectors().finally(() => process.exit(0));
}

/** Runs the queued jobs in order (never interleaved: the engine's per-thread session serves one run at a time). */
async function drain(): Promise<void> {
  running = true;
  while (head < queue.length) {
    const job = queue[head]!;
    queue[head++] = undefined as unknown as SweepJob;
    try {
      if (job.variant !== undefined) variants.set(job.variantId, job.variant);
      const variant = variants.get(job.variantId);
      if (variant === undefined) throw new Error(`variant ${job.variantId} was never sent to this worker`);
      const result = await simulateRun(variant, job.options);
      outcomes.push(
        result.frames === undefined ? { id: job.id, json: JSON.stringify(result) } : { id: job.id, result },
      );
    } catch (err) {
      const e = asDrivegateError(err);
      outcomes.push({ id: job.id, error: { code: e.code, message: e.message } });
    }
    if (head === queue.length || performance.now() - lastPost >= batchMs) post();
  }
  queue.length = 0;
  head = 0;
  running = false;
  if (closing) leave();
}

port.on('message', (msg: SweepRequest) => {
  if (msg.type === 'close') {
    closing = true;
    if (!running) leave();
    return;
  }
  for (const j of msg.jobs) queue.push(j);
  if (!running) void drain();
});
const ready: SweepReply = { type: 'ready' };
port.postMessage(ready);
