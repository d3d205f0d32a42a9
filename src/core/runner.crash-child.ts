/**
 * A child process for the runner's resume test (not part of the product): runs or resumes a
 * three-step workflow whose middle step blocks while a "block" file exists, so that a test can
 * SIGKILL it mid-run. Every step execution appends its name to a log file.
 *
 * Usage: node runner.crash-child.js HOME run DIR | resume DIR RUN_ID
 *   DIR holds input.txt, the log (executions.log) and the optional block file.
 */
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FsStore } from '../store/fs.js';
import { jsonLinesProgress } from './progress.js';
import { Runner } from './runner.js';
import type { Workflow } from './runner.js';

interface Args {
  dir: string;
}

const workflow: Workflow<Args> = {
  name: 'crashy',
  steps: [
    {
      name: 'prepare',
      inputs: (v) => ({ files: { input: join(v.args.dir, 'input.txt') } }),
      outputs: ['data.txt'],
      async run(ctx) {
        await appendFile(join(ctx.args.dir, 'executions.log'), 'prepare\n');
        const text = await readFile(ctx.inputs.files['input'] ?? '', 'utf8');
        await writeFile(ctx.out('data.txt'), text.toUpperCase());
      },
    },
    {
      name: 'slow',
      inputs: (v) => ({ files: { data: v.outputPath('prepare', 'data.txt') } }),
      outputs: ['length.txt'],
      async run(ctx) {
        await appendFile(join(ctx.args.dir, 'executions.log'), 'slow\n');
        while (existsSync(join(ctx.args.dir, 'block'))) await new Promise((r) => setTimeout(r, 20));
        const data = await readFile(ctx.inputs.files['data'] ?? '', 'utf8');
        await writeFile(ctx.out('length.txt'), String(data.length));
      },
    },
    {
      name: 'final',
      inputs: (v) => ({ files: { length: v.outputPath('slow', 'length.txt') } }),
      outputs: ['final.txt'],
      async run(ctx) {
        await appendFile(join(ctx.args.dir, 'executions.log'), 'final\n');
        const n = await readFile(ctx.inputs.files['length'] ?? '', 'utf8');
        await writeFile(ctx.out('final.txt'), `length=${n}\n`);
        return { length: Number(n) };
      },
    },
  ],
};

async function main(): Promise<void> {
  const [home, mode, dir, runId] = process.argv.slice(2);
  if (home === undefined || dir === undefined) throw new Error('usage: HOME run|resume DIR [RUN_ID]');
  const runner = new Runner({
    runsDir: join(home, 'runs'),
    cacheDir: join(home, 'cache'),
    store: new FsStore(join(home, 'store')),
    progress: jsonLinesProgress(process.stdout),
  });
  if (mode === 'resume' && runId !== undefined) await runner.resume(workflow, runId);
  else await runner.run(workflow, { dir });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
