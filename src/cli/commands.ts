/**
 * The registry of command groups. Each group is a function that adds its commands to the root
 * program; add new groups here.
 */
import type { Command } from 'commander';
import { registerDemo } from './demo.js';
import { registerDetect } from './detect.js';
import { registerEval } from './eval.js';
import { registerEvalRun } from './eval-run.js';
import { registerPackage } from './package.js';
import { registerRegistry, registerUi } from './registry.js';
import { registerRuns } from './runs.js';
import { registerServe } from './serve.js';
import { registerSim } from './sim.js';
import { registerStore } from './store.js';
import { registerWorld } from './world.js';

/** Registers every command group on `program`. */
export function registerCommands(program: Command): void {
  void program;
  registerDemo(program);
  registerDetect(program);
  registerEval(program);
  registerEvalRun(program);
  registerPackage(program);
  registerStore(program);
  registerRuns(program);
  registerServe(program);
  registerRegistry(program);
  registerUi(program);
  registerWorld(program);
  registerSim(program);
}
