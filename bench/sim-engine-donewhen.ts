/**
 * The engine's check of issue #6's "done when" on the example scenarios: runs the fog and night
 * variants of CCRs and CPNA (examples/scenarios) with ground truth, detector-v1.0.0 and
 * detector-v1.1.0 on the same seeds, prints one line per variant and seed, then collisions, false
 * braking events and near misses per model and environment, and the totals.
 * (The sweep CLI, `drivegate sim run`, does the same at scale with outputs and the Sim Gate.)
 * Run: node --import tsx bench/sim-engine-donewhen.ts [filter] [seeds]
 *   e.g. bench/sim-engine-donewhen.ts 'family=CCRs,family=CPNA,ego_speed_kph=20,ego_speed_kph=40' 2
 */
import { join } from 'node:path';
import { packageRoot } from '../src/core/paths.js';
import { closeLoopDetectors, simulateRun } from '../src/sim/engine/index.js';
import { loadVariants, parseFilter } from '../src/sim/openscenario/index.js';
import type { PerceptionSpec } from '../src/sim/types.js';

const filter = process.argv[2] ?? 'family=CCRs,family=CPNA';
const seeds = Number(process.argv[3] ?? 1);
const root = packageRoot();
const models: Array<[string, PerceptionSpec]> = [
  ['ground-truth', { kind: 'ground-truth' }],
  ...['v1.0.0', 'v1.1.0'].map((v): [string, PerceptionSpec] => [
    v,
    {
      kind: 'model',
      modelPath: join(root, 'models', `detector-${v}.onnx`),
      configPath: join(root, 'models', `detector-${v}.inference_config.json`),
      label: `detector-${v}`,
    },
  ]),
];
const variants = (await loadVariants(join(root, 'examples', 'scenarios'), parseFilter(filter))).filter(
  (v) => v.scenario.environment.weather === 'fog' || v.scenario.environment.timeOfDay === 'night',
);
console.log(`${variants.length} fog/night variants x ${seeds} seed(s) x ${models.length} perception modes`);
const tally = new Map<
  string,
  { runs: number; collisions: number; falseBrakes: number; nearMisses: number }
>();
const add = (key: string, m: { collision: boolean; falseBrakeEvents: number; nearMiss: boolean }): void => {
  const t = tally.get(key) ?? { runs: 0, collisions: 0, falseBrakes: 0, nearMisses: 0 };
  t.runs++;
  if (m.collision) t.collisions++;
  t.falseBrakes += m.falseBrakeEvents;
  if (m.nearMiss) t.nearMisses++;
  tally.set(key, t);
};
const t0 = Date.now();
for (const v of variants) {
  for (let seed = 1; seed <= seeds; seed++) {
    const line = [v.id, `seed=${seed}`];
    for (const [name, perception] of models) {
      const m = (await simulateRun(v, { seed, perception })).metrics;
      const env = `${v.scenario.environment.weather}/${v.scenario.environment.timeOfDay}`;
      add(`${name} ${v.family} ${env}`, m);
      add(`${name} total`, m);
      line.push(
        `${name}:${m.collision ? `COLLISION(${m.impactSpeedMps.toFixed(1)} m/s)` : 'ok'}` +
          (m.falseBrakeEvents > 0 ? `,false-brakes=${m.falseBrakeEvents}` : ''),
      );
    }
    console.log(line.join(' '));
  }
}
console.log('\nmodel family weather/time: runs, collisions, false braking events, near misses');
for (const [k, t] of [...tally.entries()].sort()) {
  console.log(`${k.padEnd(36)} ${t.runs} ${t.collisions} ${t.falseBrakes} ${t.nearMisses}`);
}
const c = (name: string): number => tally.get(`${name} total`)?.collisions ?? 0;
console.log(
  `\ncollisions: ground truth ${c('ground-truth')}, v1.0.0 ${c('v1.0.0')}, v1.1.0 ${c('v1.1.0')}; ` +
    `v1.1.0 fewer than v1.0.0: ${c('v1.1.0') < c('v1.0.0') ? 'yes' : 'NO'}; ` +
    `ground truth fewer than v1.0.0: ${c('ground-truth') < c('v1.0.0') ? 'yes' : 'NO'} ` +
    `(${((Date.now() - t0) / 1000).toFixed(0)} s)`,
);
await closeLoopDetectors();
