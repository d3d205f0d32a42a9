/**
 * `drivegate store ...`: the workspace's content-addressed artifact store. `put` stores a file (and
 * optionally names it with a ref), `get` writes a blob out (verified), `refs` lists refs, `fsck`
 * checks (and repairs) the store.
 */
import type { Command } from 'commander';
import { DrivegateError } from '../core/errors.js';
import { resolveBlob } from '../store/resolve.js';
import type { FsckReport } from '../store/types.js';
import { addWorkspaceOptions, storeOf, workspaceFromFlags } from './workspace-options.js';
import type { WorkspaceFlags } from './workspace-options.js';

interface PutFlags extends WorkspaceFlags {
  ref?: string;
  json?: boolean;
}

interface GetFlags extends WorkspaceFlags {
  out: string;
  json?: boolean;
}

interface JsonFlags extends WorkspaceFlags {
  json?: boolean;
}

interface FsckFlags extends JsonFlags {
  repair?: boolean;
  verify?: boolean;
}

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

/** The text report of fsck. */
export function formatFsck(r: FsckReport): string {
  const lines = [
    `${r.blobs} blobs (${r.bytes} bytes), ${r.refs} refs: ${r.ok ? 'ok' : 'PROBLEMS'}`,
    ...r.corrupt.map((c) => `corrupt blob ${c.digest || '?'} at ${c.location}: ${c.reason}`),
    ...r.dangling.map((d) => `dangling ref ${d.name} -> ${d.digest} (blob missing)`),
    ...r.badRefs.map((b) => `bad ref ${b.name}: ${b.reason}`),
    ...r.strayTemps.map(
      (t) => `stray temp ${t.location} (${t.bytes} bytes)${r.repaired.removedTemps > 0 ? ' removed' : ''}`,
    ),
    ...r.repaired.quarantined.map((q) => `quarantined ${q}`),
  ];
  return lines.join('\n');
}

/** Registers `drivegate store put|get|refs|fsck`. */
export function registerStore(program: Command): void {
  const store = program
    .command('store')
    .description('The content-addressed artifact store (sha256 blobs, named refs), verified on every read.');

  addWorkspaceOptions(
    store
      .command('put')
      .description('Store a file (or - for stdin); print its digest and size.')
      .argument('<file>', 'the file to store, or - for stdin')
      .option('--ref <name>', 'also point this ref at it, e.g. models/det/1.0.0/model.onnx')
      .option('--json', 'print {digest, size, ref} as JSON'),
  )
    .addHelpText(
      'after',
      `
Example:
  drivegate store put model.onnx --ref models/det/1.0.0/model.onnx
  sha256:9f86d08...  1843201  models/det/1.0.0/model.onnx`,
    )
    .action(async (file: string, flags: PutFlags) => {
      const s = await storeOf(workspaceFromFlags(flags));
      const info = file === '-' ? await s.putStream(process.stdin) : await s.putFile(file);
      if (flags.ref !== undefined) await s.setRef(flags.ref, info.digest);
      if (flags.json)
        print(JSON.stringify({ ...info, ...(flags.ref !== undefined ? { ref: flags.ref } : {}) }));
      else
        print([info.digest, String(info.size), ...(flags.ref !== undefined ? [flags.ref] : [])].join('  '));
    });

  addWorkspaceOptions(
    store
      .command('get')
      .description('Write a blob, named by digest or ref, to a file (verified first; - for stdout).')
      .argument('<digest-or-ref>', 'sha256:<hex> or a ref name')
      .requiredOption('--out <file>', 'where to write it (- for stdout)')
      .option('--json', 'print {digest, size, out} as JSON'),
  )
    .addHelpText(
      'after',
      `
Example:
  drivegate store get models/det/1.0.0/model.onnx --out /tmp/model.onnx
  drivegate store get sha256:9f86d08... --out - | sha256sum`,
    )
    .action(async (name: string, flags: GetFlags) => {
      const s = await storeOf(workspaceFromFlags(flags));
      const digest = await resolveBlob(s, name);
      if (flags.out === '-') {
        for await (const chunk of await s.getStream(digest)) {
          if (!process.stdout.write(chunk as Buffer))
            await new Promise((r) => process.stdout.once('drain', r));
        }
        return;
      }
      const info = await s.getToFile(digest, flags.out);
      if (flags.json) print(JSON.stringify({ ...info, out: flags.out }));
      else print(`${info.digest}  ${info.size}  ${flags.out}`);
    });

  addWorkspaceOptions(
    store
      .command('refs')
      .description('List refs (optionally those starting with PREFIX), sorted by name.')
      .argument('[prefix]', 'only refs whose name starts with this', '')
      .option('--json', 'print [{name, digest}] as JSON'),
  )
    .addHelpText(
      'after',
      `
Example:
  drivegate store refs models/det/
  models/det/1.0.0/model.onnx  sha256:9f86d08...`,
    )
    .action(async (prefix: string, flags: JsonFlags) => {
      const s = await storeOf(workspaceFromFlags(flags));
      const refs = await s.listRefs(prefix);
      if (flags.json) print(JSON.stringify(refs));
      else if (refs.length > 0) print(refs.map((r) => `${r.name}  ${r.digest}`).join('\n'));
    });

  addWorkspaceOptions(
    store
      .command('fsck')
      .description(
        'Check the store: re-hash every blob, find dangling refs and stray temp files. Exits 2 when something is corrupt or dangling.',
      )
      .option('--repair', 'remove stray temp files and move corrupt blobs to quarantine/')
      .option('--no-verify', 'skip re-hashing blobs (structure only)')
      .option('--json', 'print the report as JSON'),
  )
    .addHelpText(
      'after',
      `
Example:
  drivegate store fsck --repair
  12 blobs (48213 bytes), 5 refs: ok`,
    )
    .action(async (flags: FsckFlags) => {
      const s = await storeOf(workspaceFromFlags(flags));
      const report = await s.fsck({ repair: flags.repair === true, verify: flags.verify !== false });
      print(flags.json ? JSON.stringify(report) : formatFsck(report));
      if (!report.ok) {
        process.exitCode = new DrivegateError('INTEGRITY', 'store has problems').exitCode;
      }
    });
}
