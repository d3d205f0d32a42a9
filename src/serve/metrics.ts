/**
 * Server metrics with Triton's names (nv_inference_*), labelled by model and version, plus a request
 * latency histogram, rendered in the Prometheus text exposition format 0.0.4.
 */

/** Histogram bucket upper bounds of the request latency, in seconds. */
export const LATENCY_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Counters of one model version. */
export interface ModelStats {
  requestSuccess: number;
  requestFailure: number;
  /** Inferences performed (a batch of 4 in one request counts 4). */
  inferenceCount: number;
  /** Model executions (one per batch sent to the model). */
  execCount: number;
  requestDurationUs: number;
  queueDurationUs: number;
  computeInferDurationUs: number;
  /** Cumulative bucket counts of the request latency (per LATENCY_BUCKETS_S, then +Inf). */
  latencyBuckets: number[];
  latencySumS: number;
}

function emptyStats(): ModelStats {
  return {
    requestSuccess: 0,
    requestFailure: 0,
    inferenceCount: 0,
    execCount: 0,
    requestDurationUs: 0,
    queueDurationUs: 0,
    computeInferDurationUs: 0,
    latencyBuckets: new Array<number>(LATENCY_BUCKETS_S.length + 1).fill(0),
    latencySumS: 0,
  };
}

/** The metrics of a server: one ModelStats per (model, version). */
export class ServerMetrics {
  private readonly byModel = new Map<string, { model: string; version: string; stats: ModelStats }>();

  /** The stats of a model version (created on first use). */
  stats(model: string, version: string): ModelStats {
    const key = `${model}\u0000${version}`;
    let e = this.byModel.get(key);
    if (e === undefined) {
      e = { model, version, stats: emptyStats() };
      this.byModel.set(key, e);
    }
    return e.stats;
  }

  /** Records a finished request: its outcome, total duration and (on success) queue/compute time. */
  recordRequest(
    model: string,
    version: string,
    ok: boolean,
    durationUs: number,
    queueUs = 0,
    computeUs = 0,
  ): void {
    const s = this.stats(model, version);
    if (!ok) {
      s.requestFailure++;
      return;
    }
    s.requestSuccess++;
    s.requestDurationUs += durationUs;
    s.queueDurationUs += queueUs;
    s.computeInferDurationUs += computeUs;
    const sec = durationUs / 1e6;
    s.latencySumS += sec;
    for (let i = 0; i < LATENCY_BUCKETS_S.length; i++)
      if (sec <= LATENCY_BUCKETS_S[i]!) s.latencyBuckets[i]!++;
    s.latencyBuckets[LATENCY_BUCKETS_S.length]!++;
  }

  /** Records one model execution of `batch` inferences. */
  recordExecution(model: string, version: string, batch: number): void {
    const s = this.stats(model, version);
    s.execCount++;
    s.inferenceCount += batch;
  }

  /**
   * The Prometheus text exposition (format 0.0.4). `pending` gives the requests waiting in a model
   * version's queue (nv_inference_pending_request_count).
   */
  render(pending?: (model: string, version: string) => number): string {
    const entries = [...this.byModel.values()].sort((a, b) =>
      (a.model + a.version).localeCompare(b.model + b.version),
    );
    const lbl = (e: { model: string; version: string }): string =>
      `model="${esc(e.model)}",version="${esc(e.version)}"`;
    const lines: string[] = [];
    const counter = (name: string, help: string, get: (s: ModelStats) => number): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const e of entries) lines.push(`${name}{${lbl(e)}} ${get(e.stats)}`);
    };
    counter(
      'nv_inference_request_success',
      'Number of successful inference requests, all batch sizes',
      (s) => s.requestSuccess,
    );
    counter(
      'nv_inference_request_failure',
      'Number of failed inference requests, all batch sizes',
      (s) => s.requestFailure,
    );
    counter(
      'nv_inference_count',
      'Number of inferences performed (does not include cached requests)',
      (s) => s.inferenceCount,
    );
    counter(
      'nv_inference_exec_count',
      'Number of model executions performed (does not include cached requests)',
      (s) => s.execCount,
    );
    counter(
      'nv_inference_request_duration_us',
      'Cumulative inference request duration in microseconds (includes cached requests)',
      (s) => Math.round(s.requestDurationUs),
    );
    counter(
      'nv_inference_queue_duration_us',
      'Cumulative inference queuing duration in microseconds (includes cached requests)',
      (s) => Math.round(s.queueDurationUs),
    );
    counter(
      'nv_inference_compute_infer_duration_us',
      'Cumulative compute inference duration in microseconds (does not include cached requests)',
      (s) => Math.round(s.computeInferDurationUs),
    );
    if (pending !== undefined) {
      const g = 'nv_inference_pending_request_count';
      lines.push(
        `# HELP ${g} Instantaneous number of pending requests awaiting execution per-model.`,
        `# TYPE ${g} gauge`,
      );
      for (const e of entries) lines.push(`${g}{${lbl(e)}} ${pending(e.model, e.version)}`);
    }
    const h = 'drivegate_inference_request_duration_seconds';
    lines.push(
      `# HELP ${h} Latency of successful inference requests, from the request's arrival to its response`,
      `# TYPE ${h} histogram`,
    );
    for (const e of entries) {
      LATENCY_BUCKETS_S.forEach((b, i) =>
        lines.push(`${h}_bucket{${lbl(e)},le="${b}"} ${e.stats.latencyBuckets[i]}`),
      );
      lines.push(`${h}_bucket{${lbl(e)},le="+Inf"} ${e.stats.latencyBuckets[LATENCY_BUCKETS_S.length]}`);
      lines.push(`${h}_sum{${lbl(e)}} ${e.stats.latencySumS}`);
      lines.push(`${h}_count{${lbl(e)}} ${e.stats.latencyBuckets[LATENCY_BUCKETS_S.length]}`);
    }
    return lines.join('\n') + '\n';
  }
}

function esc(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Reads one sample's value out of a Prometheus text exposition (for tests and the contract smoke). */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    const close = line.indexOf('}');
    const got = line.slice(name.length + 1, close).split(',');
    if (want.every((w) => got.includes(w))) return Number(line.slice(close + 1).trim());
  }
  return undefined;
}
