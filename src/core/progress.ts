/**
 * Progress of workflow runs. The runner emits events (run_start, step_start, step_progress,
 * step_end, run_end); a sink shows them: on a terminal as one line per step rewritten with \r
 * (step name, n/total, a bar for sub-progress, elapsed time), otherwise as JSON lines on stderr.
 */

/** How a step ended. */
export type StepEndStatus = 'succeeded' | 'failed' | 'skipped-cached' | 'skipped-done';

/** A progress event. `index` is 1-based; `steps` is the number of steps in the workflow. */
export type ProgressEvent =
  | { event: 'run_start'; run: string; workflow: string; steps: number; resumed: boolean }
  | { event: 'step_start'; run: string; step: string; index: number; steps: number }
  | {
      event: 'step_progress';
      run: string;
      step: string;
      index: number;
      steps: number;
      done: number;
      total: number;
    }
  | {
      event: 'step_end';
      run: string;
      step: string;
      index: number;
      steps: number;
      status: StepEndStatus;
      durationMs: number;
      error?: { code: string; message: string };
    }
  | {
      event: 'run_end';
      run: string;
      workflow: string;
      status: 'succeeded' | 'failed';
      durationMs: number;
      error?: { code: string; message: string };
    };

/** Something that shows progress events. */
export interface ProgressSink {
  emit(event: ProgressEvent): void;
}

/** The output a sink writes to (a stream such as process.stderr). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** Options of createProgress. */
export interface ProgressOptions {
  /** Force JSON lines (--json); default: JSON lines unless the stream is a TTY. */
  json?: boolean;
  /** Where to write; default process.stderr. */
  stream?: ProgressStream;
  /** The clock, for tests. */
  now?: () => number;
  /** Minimum milliseconds between two step_progress outputs of a step (default 200 JSON, 100 TTY). */
  throttleMs?: number;
}

/** Picks the sink: a progress bar on a TTY, JSON lines otherwise (or with json). */
export function createProgress(options: ProgressOptions = {}): ProgressSink {
  const stream = options.stream ?? process.stderr;
  if (options.json !== true && stream.isTTY === true) return ttyProgress(stream, options);
  return jsonLinesProgress(stream, options);
}

/** A sink that shows nothing. */
export function silentProgress(): ProgressSink {
  return { emit: () => undefined };
}

/** Drops step_progress events that come less than `ms` after the previous one shown for that step. */
function throttle(ms: number, now: () => number): (e: ProgressEvent) => boolean {
  let last = -Infinity;
  return (e) => {
    if (e.event !== 'step_progress') {
      if (e.event === 'step_start') last = -Infinity;
      return true;
    }
    const t = now();
    if (e.done < e.total && t - last < ms) return false;
    last = t;
    return true;
  };
}

/** JSON lines: one object per event with a `time` field, for machines and logs. */
export function jsonLinesProgress(stream: ProgressStream, options: ProgressOptions = {}): ProgressSink {
  const now = options.now ?? Date.now;
  const pass = throttle(options.throttleMs ?? 200, now);
  return {
    emit(e) {
      if (!pass(e)) return;
      stream.write(JSON.stringify({ time: new Date(now()).toISOString(), ...e }) + '\n');
    },
  };
}

const BAR = 20;

function seconds(ms: number): string {
  return ms < 60_000
    ? `${(ms / 1000).toFixed(1)}s`
    : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

/** A terminal progress line per step, rewritten in place with \r, finished with a newline. */
export function ttyProgress(stream: ProgressStream, options: ProgressOptions = {}): ProgressSink {
  const now = options.now ?? Date.now;
  const pass = throttle(options.throttleMs ?? 100, now);
  let current: { label: string; started: number; done?: number; total?: number } | undefined;
  let ticker: NodeJS.Timeout | undefined;
  const draw = (): void => {
    if (current === undefined) return;
    let line = `${current.label}  ${seconds(now() - current.started)}`;
    if (current.done !== undefined && current.total !== undefined && current.total > 0) {
      const frac = Math.min(1, Math.max(0, current.done / current.total));
      const fill = Math.round(frac * BAR);
      line += `  [${'#'.repeat(fill)}${'-'.repeat(BAR - fill)}] ${current.done}/${current.total}`;
    }
    stream.write(`\r\x1b[K${line}`);
  };
  const stopTicker = (): void => {
    if (ticker !== undefined) clearInterval(ticker);
    ticker = undefined;
  };
  return {
    emit(e) {
      if (!pass(e)) return;
      switch (e.event) {
        case 'run_start':
          stream.write(`${e.resumed ? 'resuming' : 'run'} ${e.run} (${e.workflow}, ${e.steps} steps)\n`);
          return;
        case 'step_start':
          current = { label: `[${e.index}/${e.steps}] ${e.step}`, started: now() };
          draw();
          stopTicker();
          ticker = setInterval(draw, 1000);
          ticker.unref();
          return;
        case 'step_progress':
          if (current !== undefined) Object.assign(current, { done: e.done, total: e.total });
          draw();
          return;
        case 'step_end': {
          stopTicker();
          const mark =
            e.status === 'failed'
              ? `failed: ${e.error?.message ?? ''}`
              : e.status === 'succeeded'
                ? 'done'
                : e.status === 'skipped-cached'
                  ? 'cached'
                  : 'already done';
          stream.write(`\r\x1b[K[${e.index}/${e.steps}] ${e.step}  ${mark}  ${seconds(e.durationMs)}\n`);
          current = undefined;
          return;
        }
        case 'run_end':
          stopTicker();
          stream.write(
            `${e.status === 'succeeded' ? 'succeeded' : 'FAILED'} ${e.run} in ${seconds(e.durationMs)}\n`,
          );
          return;
      }
    },
  };
}
