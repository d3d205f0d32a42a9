/**
 * The registry of command groups. Each group is a function that adds its commands to the root
 * program; add new groups here. Groups load on demand: a command line naming a top-level command
 * loads only the group that defines it (a group's modules pull in onnxruntime, SQLite, the XSD
 * validator and so on, ~0.1-0.6 s each); anything else (no command, `help`, an unknown word) loads
 * them all, so root help and commander's suggestions see every command.
 */
import type { Command } from 'commander';

type Register = (program: Command) => void;

/** The command groups in help order: the top-level commands each defines, and how to load it. */
const GROUPS: ReadonlyArray<{ commands: readonly string[]; load: () => Promise<Register> }> = [
  { commands: ['demo'], load: async () => (await import('./demo.js')).registerDemo },
  { commands: ['detect'], load: async () => (await import('./detect.js')).registerDetect },
  {
    commands: ['eval'],
    load: async () => {
      const [tools, run] = await Promise.all([import('./eval.js'), import('./eval-run.js')]);
      return (p) => {
        tools.registerEval(p);
        run.registerEvalRun(p);
      };
    },
  },
  { commands: ['package'], load: async () => (await import('./package.js')).registerPackage },
  { commands: ['store'], load: async () => (await import('./store.js')).registerStore },
  { commands: ['runs'], load: async () => (await import('./runs.js')).registerRuns },
  { commands: ['serve', 'bench'], load: async () => (await import('./serve.js')).registerServe },
  {
    commands: ['registry', 'ui'],
    load: async () => {
      const m = await import('./registry.js');
      return (p) => {
        m.registerRegistry(p);
        m.registerUi(p);
      };
    },
  },
  { commands: ['world'], load: async () => (await import('./world.js')).registerWorld },
  { commands: ['sim'], load: async () => (await import('./sim.js')).registerSim },
];

/** The top-level command words every group together defines. */
export const TOP_LEVEL_COMMANDS: readonly string[] = GROUPS.flatMap((g) => g.commands);

/**
 * Registers the command groups on `program`: with `argv` (as process.argv) naming a top-level
 * command, only its group; otherwise every group, in help order.
 */
export async function registerCommands(program: Command, argv?: readonly string[]): Promise<void> {
  // The root's options (--version, --help) take no value, so the first word not starting with a
  // dash is the command.
  const first = argv?.slice(2).find((a) => !a.startsWith('-'));
  const own = GROUPS.filter((g) => first !== undefined && g.commands.includes(first));
  const registers = await Promise.all((own.length > 0 ? own : GROUPS).map((g) => g.load()));
  for (const register of registers) register(program);
}
