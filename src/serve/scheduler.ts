/**
 * The scheduler of one model version: requests queue here and go to the model's instances (a
 * Runner, normally a SessionPool of instance_group-count worker threads) at most `instances` at a
 * time. With dynamic batching, requests whose non-batch shapes agree are merged along the batch dim
 * (up to the largest preferred batch size or max_batch_size, waiting at most
 * max_queue_delay_microseconds for more), run as one execution, and the outputs are split back.
 */
import { DrivegateError } from '../core/errors.js';
import type { RunTiming } from '../runtime/protocol.js';
import type { Runner } from '../runtime/session.js';
import type { TensorArray, TensorData, TensorMap } from '../runtime/tensor.js';

/** Settings of a scheduler. */
export interface SchedulerOptions {
  /** Executions in flight at once (the instance count). */
  instances: number;
  /** The config's max_batch_size (0 = the model has no batch dim; no merging). */
  maxBatchSize: number;
  /** Dynamic batching; undefined = every request runs alone. */
  batching?: { preferredBatchSize: number[]; maxQueueDelayMicroseconds: number };
  /** Requests waiting longer than this in the queue fail as UNAVAILABLE (0/undefined = no limit). */
  queueTimeoutMs?: number;
  /** More queued requests than this are refused as UNAVAILABLE (0/undefined = unbounded). */
  maxQueueSize?: number;
  /** Called once per model execution with its batch size. */
  onExecution?: (batch: number) => void;
}

/** What a request gets back: its outputs and where its time went. */
export interface ScheduledResult {
  outputs: TensorMap;
  queueUs: number;
  computeUs: number;
  /** The batch size of the execution the request ran in. */
  executionBatch: number;
  /** Where the execution's time went, when the runner tells (a SessionPool does). */
  timing?: RunTiming;
}

/** A runner that also tells where a run's time went (SessionPool). */
interface TimedRunner extends Runner {
  runTimed(feeds: TensorMap): Promise<{ outputs: TensorMap; timing: RunTiming }>;
}

function isTimed(r: Runner): r is TimedRunner {
  return typeof (r as Partial<TimedRunner>).runTimed === 'function';
}

interface Pending {
  feeds: TensorMap;
  batch: number;
  key: string;
  enqueuedMs: number;
  timer: NodeJS.Timeout | undefined;
  resolve: (r: ScheduledResult) => void;
  reject: (e: Error) => void;
}

const nowMs = (): number => performance.now();

/** Queues requests for one model version and runs them, batched when configured. */
export class Scheduler {
  private readonly queue: Pending[] = [];
  private inflight = 0;
  /** Requests in the executions in flight. */
  private inflightRequests = 0;
  private delayTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly runner: Runner,
    private readonly opts: SchedulerOptions,
  ) {}

  /** Requests waiting in the queue. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Queues one request of `batch` samples (its feeds carry the batch as dim 0 when max_batch_size > 0).
   * The feeds' buffers may be transferred to a worker thread.
   */
  submit(feeds: TensorMap, batch: number): Promise<ScheduledResult> {
    if (this.closed) return Promise.reject(new DrivegateError('UNAVAILABLE', 'the model is being unloaded'));
    const max = this.opts.maxQueueSize ?? 0;
    if (max > 0 && this.queue.length >= max) {
      return Promise.reject(new DrivegateError('UNAVAILABLE', `exceeds maximum queue size (${max})`));
    }
    return new Promise<ScheduledResult>((resolve, reject) => {
      const p: Pending = {
        feeds,
        batch,
        key: shapeKey(feeds),
        enqueuedMs: nowMs(),
        timer: undefined,
        resolve,
        reject,
      };
      this.queue.push(p);
      this.pump();
      // Most requests go out at once (an instance is free): only one left waiting gets a timeout timer.
      const t = this.opts.queueTimeoutMs ?? 0;
      if (t > 0 && this.queue[this.queue.length - 1] === p) {
        p.timer = setTimeout(() => {
          const i = this.queue.indexOf(p);
          if (i >= 0) {
            this.queue.splice(i, 1);
            reject(new DrivegateError('UNAVAILABLE', `request timeout expired: waited ${t} ms in the queue`));
          }
        }, t);
      }
    });
  }

  /** Fails every queued request; running executions finish. */
  close(): void {
    this.closed = true;
    if (this.delayTimer !== undefined) clearTimeout(this.delayTimer);
    for (const p of this.queue.splice(0)) {
      if (p.timer !== undefined) clearTimeout(p.timer);
      p.reject(new DrivegateError('UNAVAILABLE', 'the model is being unloaded'));
    }
  }

  /**
   * Starts executions while an instance is free. Without batching each request runs alone. With
   * batching, a request is held for more (up to max_queue_delay) only while there are more requests
   * outstanding (queued + executing) than instances: then some would wait for an instance anyway and
   * merging them is the gain. With an instance free for every outstanding request, holding would only
   * add latency and pile the work onto one instance while the others idle, so the queue goes out at
   * once, spread over the idle instances (each batch at most ceil(queued / idle) samples).
   */
  private pump(): void {
    const b = this.opts.batching;
    while (this.inflight < this.opts.instances && this.queue.length > 0) {
      if (b === undefined || this.opts.maxBatchSize <= 0) {
        this.execute([this.queue.shift()!]);
        continue;
      }
      const idle = this.opts.instances - this.inflight;
      const head = this.queue[0]!;
      let sameKey = 0;
      for (const p of this.queue) if (p.key === head.key) sameKey += p.batch;
      const target = this.target;
      const waitedMs = nowMs() - head.enqueuedMs;
      const delayMs = b.maxQueueDelayMicroseconds / 1000;
      const pressure = this.queue.length + this.inflightRequests > this.opts.instances;
      if (sameKey < target && pressure && waitedMs < delayMs) {
        if (this.delayTimer === undefined) {
          this.delayTimer = setTimeout(
            () => {
              this.delayTimer = undefined;
              if (!this.closed) this.pump();
            },
            Math.max(0, delayMs - waitedMs),
          );
        }
        return;
      }
      const limit = Math.min(target, Math.max(1, Math.ceil(sameKey / idle)));
      const picked: Pending[] = [];
      let total = 0;
      for (let i = 0; i < this.queue.length && total < limit;) {
        const p = this.queue[i]!;
        if (p.key === head.key && (picked.length === 0 || total + p.batch <= limit)) {
          // The head always goes, even when it alone is larger than the limit.
          picked.push(p);
          total += p.batch;
          this.queue.splice(i, 1);
        } else i++;
      }
      this.execute(picked);
    }
    if (this.queue.length === 0 && this.delayTimer !== undefined) {
      clearTimeout(this.delayTimer);
      this.delayTimer = undefined;
    }
  }

  /** The batch size batching aims at: the largest preferred size within max_batch_size, else max_batch_size. */
  private get target(): number {
    const max = this.opts.maxBatchSize;
    const preferred = (this.opts.batching?.preferredBatchSize ?? []).filter((s) => s <= max);
    return preferred.length > 0 ? Math.max(...preferred) : max;
  }

  private execute(group: Pending[]): void {
    this.inflight++;
    this.inflightRequests += group.length;
    for (const p of group) if (p.timer !== undefined) clearTimeout(p.timer);
    const start = nowMs();
    const total = group.reduce((a, p) => a + p.batch, 0);
    const feeds = group.length === 1 ? group[0]!.feeds : mergeFeeds(group.map((p) => p.feeds));
    const run = isTimed(this.runner)
      ? this.runner.runTimed(feeds)
      : this.runner.run(feeds).then((outputs) => ({ outputs, timing: undefined }));
    run.then(
      ({ outputs, timing }) => {
        const end = nowMs();
        this.opts.onExecution?.(total);
        const computeUs = (end - start) * 1000;
        try {
          const parts =
            group.length === 1
              ? [outputs]
              : splitOutputs(
                  outputs,
                  group.map((p) => p.batch),
                );
          group.forEach((p, i) =>
            p.resolve({
              outputs: parts[i]!,
              queueUs: (start - p.enqueuedMs) * 1000,
              computeUs,
              executionBatch: total,
              ...(timing !== undefined ? { timing } : {}),
            }),
          );
        } catch (err) {
          for (const p of group) p.reject(err as Error);
        }
        this.done(group.length);
      },
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        for (const p of group) p.reject(e);
        this.done(group.length);
      },
    );
  }

  private done(requests: number): void {
    this.inflight--;
    this.inflightRequests -= requests;
    if (!this.closed) this.pump();
  }
}

function shapeKey(feeds: TensorMap): string {
  return Object.keys(feeds)
    .sort()
    .map((k) => `${k}:${feeds[k]!.type}:${feeds[k]!.dims.slice(1).join('x')}`)
    .join('|');
}

/** Concatenates the feeds of several requests along dim 0 (their other dims agree). */
export function mergeFeeds(parts: TensorMap[]): TensorMap {
  const out: TensorMap = {};
  for (const name of Object.keys(parts[0]!)) {
    const ts = parts.map((p) => p[name]!);
    const first = ts[0]!;
    const len = ts.reduce((a, t) => a + t.data.length, 0);
    const Ctor = first.data.constructor as new (n: number) => TensorArray;
    const data = new Ctor(len);
    let off = 0;
    for (const t of ts) {
      (data as Float32Array).set(t.data as Float32Array, off);
      off += t.data.length;
    }
    out[name] = {
      type: first.type,
      data,
      dims: [ts.reduce((a, t) => a + (t.dims[0] ?? 0), 0), ...first.dims.slice(1)],
    };
  }
  return out;
}

/** Splits batched outputs back into one TensorMap per request (views, no copies). */
export function splitOutputs(outputs: TensorMap, batches: number[]): TensorMap[] {
  const total = batches.reduce((a, b) => a + b, 0);
  const res: TensorMap[] = batches.map(() => ({}));
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims[0] !== total) {
      throw new DrivegateError(
        'INTERNAL',
        `output '${name}' has batch dim ${t.dims[0]} but the merged batch was ${total}`,
      );
    }
    const per = t.data.length / total;
    let off = 0;
    batches.forEach((b, i) => {
      const part: TensorData = {
        type: t.type,
        data: t.data.subarray(off * per, (off + b) * per) as TensorArray,
        dims: [b, ...t.dims.slice(1)],
      };
      res[i]![name] = part;
      off += b;
    });
  }
  return res;
}
