import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsStore } from '../store/fs.js';
import { DrivegateError, badInput } from './errors.js';
import { jsonLinesProgress, ttyProgress } from './progress.js';
import type { ProgressEvent, ProgressSink } from './progress.js';
import { listRuns, readRunRecord, validateRunId, newRunId } from './runrecord.js';
import { Runner, runWorkDir } from './runner.js';
import type { Workflow } from './runner.js';
import { startChildScript } from './testing.js';

interface Fixture {
  home: string;
  dir: string;
  store: FsStore;
  runner(progress?: ProgressSink): Runner;
  cleanup(): Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const home = await mkdtemp(join(tmpdir(), 'dg-runner-'));
  const dir = join(home, 'data');
  await mkdir(dir);
  const store = new FsStore(join(home, 'store'));
  return {
    home,
    dir,
    store,
    runner: (progress) =>
      new Runner({
        runsDir: join(home, 'runs'),
        cacheDir: join(home, 'cache'),
        store,
        ...(progress ? { progress } : {}),
      }),
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
}

interface Args {
  input: string;
  factor: number;
}

/** A two-step workflow: `load` copies the input upper-cased; `scale` writes a folder of results. */
function twoSteps(calls: string[], version = 1): Workflow<Args> {
  return {
    name: 'demo',
    steps: [
      {
        name: 'load',
        version,
        inputs: (v) => ({ files: { input: v.args.input } }),
        outputs: ['loaded.txt'],
        async run(ctx) {
          calls.push('load');
          const text = await readFile(ctx.inputs.files['input'] ?? '', 'utf8');
          for (let i = 1; i <= 3; i++) ctx.progress(i, 3);
          await writeFile(ctx.out('loaded.txt'), text.toUpperCase());
          return { chars: text.length };
        },
      },
      {
        name: 'scale',
        inputs: (v) => ({
          files: { loaded: v.outputPath('load', 'loaded.txt') },
          values: { factor: v.args.factor },
        }),
        outputs: ['report/', 'summary.json'],
        async run(ctx) {
          calls.push('scale');
          const text = await readFile(ctx.inputs.files['loaded'] ?? '', 'utf8');
          await mkdir(ctx.out('report/parts'), { recursive: true });
          await writeFile(ctx.out('report/parts/a.txt'), text.repeat(ctx.args.factor));
          await writeFile(ctx.out('report/index.txt'), 'index');
          await writeFile(ctx.out('summary.json'), JSON.stringify({ n: text.length * ctx.args.factor }));
          return { chars: ctx.result<{ chars: number }>('load')?.chars };
        },
      },
    ],
  };
}

test('a second run with unchanged inputs skips every step and restores its outputs from the store', async () => {
  const f = await fixture();
  try {
    const input = join(f.dir, 'in.txt');
    await writeFile(input, 'abc');
    const calls: string[] = [];
    const first = await f.runner().run(twoSteps(calls), { input, factor: 2 });
    assert.equal(first.status, 'succeeded');
    assert.deepEqual(calls, ['load', 'scale']);
    const second = await f.runner().run(twoSteps(calls), { input, factor: 2 });
    assert.deepEqual(calls, ['load', 'scale'], 'nothing executed the second time');
    assert.deepEqual(
      second.steps.map((s) => s.status),
      ['skipped-cached', 'skipped-cached'],
    );
    assert.equal(second.steps[0]?.cachedFrom, first.id);
    assert.deepEqual(second.steps[1]?.result, { chars: 3 });
    assert.deepEqual(second.steps[1]?.outputs, first.steps[1]?.outputs);
    const work = (step: string, name: string): string =>
      join(runWorkDir(join(f.home, 'runs'), second.id, step), name);
    assert.equal(await readFile(work('load', 'loaded.txt'), 'utf8'), 'ABC');
    assert.equal(await readFile(work('scale', 'report/parts/a.txt'), 'utf8'), 'ABCABC');
    assert.equal(await readFile(work('scale', 'report/index.txt'), 'utf8'), 'index');
    assert.deepEqual(JSON.parse(await readFile(work('scale', 'summary.json'), 'utf8')), { n: 6 });
  } finally {
    await f.cleanup();
  }
});

test('re-runs a step whose input file, input value or version changed, and only that', async () => {
  const f = await fixture();
  try {
    const input = join(f.dir, 'in.txt');
    await writeFile(input, 'abc');
    const calls: string[] = [];
    await f.runner().run(twoSteps(calls), { input, factor: 2 });
    calls.length = 0;
    const value = await f.runner().run(twoSteps(calls), { input, factor: 3 });
    assert.deepEqual(calls, ['scale']);
    assert.deepEqual(
      value.steps.map((s) => s.status),
      ['skipped-cached', 'succeeded'],
    );
    calls.length = 0;
    await writeFile(input, 'abcd');
    const file = await f.runner().run(twoSteps(calls), { input, factor: 3 });
    assert.deepEqual(calls, ['load', 'scale']);
    assert.notEqual(file.steps[0]?.inputs?.files['input'], value.steps[0]?.inputs?.files['input']);
    calls.length = 0;
    await f.runner().run(twoSteps(calls, 2), { input, factor: 3 });
    assert.deepEqual(
      calls,
      ['load'],
      'a new version of load re-runs it; its identical output keeps scale cached',
    );
  } finally {
    await f.cleanup();
  }
});

test('a failed step records its error, stops the run and throws with its code', async () => {
  const f = await fixture();
  try {
    const calls: string[] = [];
    const wf: Workflow<null> = {
      name: 'failing',
      steps: [
        { name: 'ok', run: () => void calls.push('ok') },
        {
          name: 'bad',
          run: () => {
            calls.push('bad');
            throw badInput('score is not a number', { file: 'dt.json', field: 'score' });
          },
        },
        { name: 'never', run: () => void calls.push('never') },
      ],
    };
    await assert.rejects(f.runner().run(wf, null), (e: unknown) => {
      assert.ok(e instanceof DrivegateError);
      assert.equal(e.code, 'BAD_INPUT');
      assert.equal(e.exitCode, 2);
      return true;
    });
    assert.deepEqual(calls, ['ok', 'bad']);
    const [summary] = await listRuns(join(f.home, 'runs'));
    assert.ok(summary !== undefined);
    const rec = await readRunRecord(join(f.home, 'runs'), summary.id);
    assert.equal(rec.status, 'failed');
    assert.deepEqual(
      rec.steps.map((s) => s.status),
      ['succeeded', 'failed', 'pending'],
    );
    assert.equal(rec.steps[1]?.error?.code, 'BAD_INPUT');
    assert.match(rec.steps[1]?.error?.message ?? '', /dt\.json, field 'score': score is not a number/);
    assert.deepEqual(rec.error, { step: 'bad', code: 'BAD_INPUT', message: rec.steps[1]?.error?.message });
    assert.ok(typeof rec.steps[1]?.durationMs === 'number');
  } finally {
    await f.cleanup();
  }
});

test('an unexpected exception is recorded as INTERNAL, and a missing declared output fails the step', async () => {
  const f = await fixture();
  try {
    const boom: Workflow<null> = {
      name: 'boom',
      steps: [
        {
          name: 'explode',
          run: () => {
            throw new Error('kaput');
          },
        },
      ],
    };
    await assert.rejects(
      f.runner().run(boom, null),
      (e: unknown) => e instanceof DrivegateError && e.code === 'INTERNAL',
    );
    const lazy: Workflow<null> = {
      name: 'lazy',
      steps: [{ name: 'forgets', outputs: ['x.bin'], run: () => undefined }],
    };
    await assert.rejects(
      f.runner().run(lazy, null),
      (e: unknown) =>
        e instanceof DrivegateError && /did not produce its declared output x\.bin/.test(e.message),
    );
  } finally {
    await f.cleanup();
  }
});

test('a missing declared input file fails the step with BAD_INPUT naming it', async () => {
  const f = await fixture();
  try {
    const wf: Workflow<null> = {
      name: 'missing',
      steps: [
        { name: 'read', inputs: { files: { model: join(f.dir, 'absent.onnx') } }, run: () => undefined },
      ],
    };
    await assert.rejects(f.runner().run(wf, null), (e: unknown) => {
      assert.ok(e instanceof DrivegateError);
      assert.equal(e.code, 'BAD_INPUT');
      assert.equal(e.location.file, join(f.dir, 'absent.onnx'));
      return true;
    });
  } finally {
    await f.cleanup();
  }
});

test('emits JSON-lines progress events of the documented shape', async () => {
  const f = await fixture();
  try {
    const input = join(f.dir, 'in.txt');
    await writeFile(input, 'xyz');
    const lines: string[] = [];
    const sink = jsonLinesProgress({ write: (s: string) => lines.push(s) }, { throttleMs: 0 });
    const rec = await f.runner(sink).run(twoSteps([]), { input, factor: 1 });
    assert.ok(lines.every((l) => l.endsWith('\n')));
    const events = lines.map((l) => JSON.parse(l) as ProgressEvent & { time: string });
    assert.ok(events.every((e) => !Number.isNaN(Date.parse(e.time)) && e.run === rec.id));
    assert.deepEqual(
      events.map((e) => e.event),
      [
        'run_start',
        'step_start',
        'step_progress',
        'step_progress',
        'step_progress',
        'step_end',
        'step_start',
        'step_end',
        'run_end',
      ],
    );
    assert.deepEqual(
      { ...events[0], time: undefined },
      { event: 'run_start', run: rec.id, workflow: 'demo', steps: 2, resumed: false, time: undefined },
    );
    const progress = events[4];
    assert.ok(progress?.event === 'step_progress');
    assert.deepEqual(
      [progress.step, progress.index, progress.steps, progress.done, progress.total],
      ['load', 1, 2, 3, 3],
    );
    const end = events[5];
    assert.ok(end?.event === 'step_end');
    assert.equal(end.status, 'succeeded');
    assert.equal(typeof end.durationMs, 'number');
    const last = events[8];
    assert.ok(last?.event === 'run_end');
    assert.equal(last.status, 'succeeded');
  } finally {
    await f.cleanup();
  }
});

test('on a TTY, progress is one line per step rewritten with \\r, naming the step and n/total', () => {
  let out = '';
  let t = 0;
  const sink = ttyProgress(
    { write: (s: string) => (out += s), isTTY: true },
    { now: () => t, throttleMs: 0 },
  );
  sink.emit({ event: 'run_start', run: 'r', workflow: 'demo', steps: 2, resumed: false });
  sink.emit({ event: 'step_start', run: 'r', step: 'export', index: 1, steps: 2 });
  t = 1500;
  sink.emit({ event: 'step_progress', run: 'r', step: 'export', index: 1, steps: 2, done: 5, total: 10 });
  sink.emit({
    event: 'step_end',
    run: 'r',
    step: 'export',
    index: 1,
    steps: 2,
    status: 'succeeded',
    durationMs: 1500,
  });
  const lines = out.split('\n');
  assert.equal(lines[0], 'run r (demo, 2 steps)');
  const redraws = (lines[1] ?? '').split('\r\x1b[K');
  assert.deepEqual(redraws, [
    '',
    '[1/2] export  0.0s',
    '[1/2] export  1.5s  [##########----------] 5/10',
    '[1/2] export  done  1.5s',
  ]);
});

test('run ids are time-sortable and validated', () => {
  const a = newRunId(new Date('2026-11-27T09:15:00.123Z'));
  assert.match(a, /^20261127T091500Z-[0-9a-f]{6}$/);
  assert.ok(newRunId(new Date('2026-11-27T09:15:01Z')) > a);
  assert.throws(
    () => validateRunId('../../etc'),
    (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT',
  );
});

test('the record is rewritten as the run goes: a later step sees earlier steps recorded as succeeded', async () => {
  const f = await fixture();
  try {
    let seen: string[] = [];
    const wf: Workflow<null> = {
      name: 'observe',
      steps: [
        { name: 'one', run: () => 1 },
        {
          name: 'two',
          cache: false,
          run: async (ctx) => {
            const rec = await readRunRecord(join(f.home, 'runs'), ctx.runId);
            seen = rec.steps.map((s) => s.status);
          },
        },
      ],
    };
    await f.runner().run(wf, null);
    assert.deepEqual(seen, ['succeeded', 'running']);
  } finally {
    await f.cleanup();
  }
});

test('resumes a run whose process was SIGKILLed, without re-executing the steps that finished', async () => {
  const f = await fixture();
  try {
    await writeFile(join(f.dir, 'input.txt'), 'hello world');
    await writeFile(join(f.dir, 'block'), '');
    const log = async (): Promise<string[]> =>
      (await readFile(join(f.dir, 'executions.log'), 'utf8')).trim().split('\n');
    const child = startChildScript(import.meta.url, 'runner.crash-child', [f.home, 'run', f.dir]);
    // Wait until the middle step is executing (it blocks on the block file), then kill the process.
    const deadline = Date.now() + 15_000;
    try {
      for (;;) {
        const executed = await log().catch((): string[] => []);
        if (executed.includes('slow')) break;
        assert.ok(Date.now() < deadline, `the child never reached the slow step: ${child.stderr()}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      child.kill();
    }
    assert.equal(await child.exited, null);
    const runs = await listRuns(join(f.home, 'runs'));
    assert.equal(runs.length, 1);
    const runId = runs[0]?.id ?? '';
    assert.equal(runs[0]?.status, 'interrupted');
    const killed = await readRunRecord(join(f.home, 'runs'), runId);
    assert.deepEqual(
      killed.steps.map((s) => s.status),
      ['succeeded', 'running', 'pending'],
    );

    await rm(join(f.dir, 'block'));
    const resumed = startChildScript(import.meta.url, 'runner.crash-child', [f.home, 'resume', f.dir, runId]);
    assert.equal(await resumed.exited, 0, resumed.stderr());
    assert.deepEqual(await log(), ['prepare', 'slow', 'slow', 'final'], 'prepare ran once');
    const done = await readRunRecord(join(f.home, 'runs'), runId);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.resumedAt?.length, 1);
    assert.deepEqual(
      done.steps.map((s) => s.status),
      ['succeeded', 'succeeded', 'succeeded'],
    );
    assert.deepEqual(done.steps[2]?.result, { length: 11 });
    const endEvents = resumed.lines
      .map((l) => JSON.parse(l) as ProgressEvent)
      .filter((e) => e.event === 'step_end');
    assert.deepEqual(
      endEvents.map((e) => (e.event === 'step_end' ? e.status : '')),
      ['skipped-done', 'succeeded', 'succeeded'],
    );

    const again = startChildScript(import.meta.url, 'runner.crash-child', [f.home, 'run', f.dir]);
    assert.equal(await again.exited, 0, again.stderr());
    assert.deepEqual(await log(), ['prepare', 'slow', 'slow', 'final'], 'a new run is fully cached');
    const latest = (await listRuns(join(f.home, 'runs')))[0];
    assert.deepEqual(latest?.steps, { total: 3, succeeded: 0, cached: 3, failed: 0 });
  } finally {
    await f.cleanup();
  }
});

test('resume of a finished run changes nothing; resume under another workflow is refused', async () => {
  const f = await fixture();
  try {
    const calls: string[] = [];
    const wf: Workflow<null> = { name: 'tiny', steps: [{ name: 'a', run: () => void calls.push('a') }] };
    const rec = await f.runner().run(wf, null);
    const again = await f.runner().resume(wf, rec.id);
    assert.deepEqual(calls, ['a']);
    assert.equal(again.updatedAt, rec.updatedAt);
    await assert.rejects(
      f.runner().resume({ ...wf, name: 'other' }, rec.id),
      (e: unknown) => e instanceof DrivegateError && e.code === 'BAD_INPUT',
    );
    await assert.rejects(
      f.runner().resume(wf, '20200101T000000Z-000000'),
      (e: unknown) => e instanceof DrivegateError && e.code === 'NOT_FOUND',
    );
  } finally {
    await f.cleanup();
  }
});
