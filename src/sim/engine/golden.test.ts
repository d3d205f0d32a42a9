import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { packageRoot } from '../../core/paths.js';
import { loadVariants } from '../openscenario/index.js';
import type { PerceptionSpec, RunMetrics, ScenarioVariant } from '../types.js';
import { closeLoopDetectors } from './model.js';
import { simulateRun, type EngineOptions } from './run.js';

// Characterization of the engine: exact metrics of a few example runs, recorded from the engine
// whose results every later restructuring must reproduce bit for bit (a refactor that changes one
// of these numbers changed behaviour). An intended behaviour change regenerates the file:
//   DRIVEGATE_UPDATE_GOLDEN=1 node --import tsx --test src/sim/engine/golden.test.ts
const GOLDEN = join(packageRoot(), 'src', 'sim', 'engine', 'testdata', 'golden-example-runs.json');
const GT: PerceptionSpec = { kind: 'ground-truth' };
const MODEL: PerceptionSpec = {
  kind: 'model',
  modelPath: join(packageRoot(), 'models', 'detector-v1.1.0.onnx'),
  configPath: join(packageRoot(), 'models', 'detector-v1.1.0.inference_config.json'),
  label: 'detector-v1.1.0',
};

interface Golden {
  variant: string;
  seed: number;
  perception: string;
  /** Engine options beyond the defaults ('' when none). */
  engine: string;
  metrics: RunMetrics;
}

interface Case {
  v: ScenarioVariant;
  seed: number;
  p: PerceptionSpec;
  engine?: EngineOptions;
}

after(closeLoopDetectors);

/**
 * The runs: the first variant of each example family with ground truth, one model run (CPNA in fog)
 * and one collision (CCRs at 50 km/h with the AEB stages switched off).
 */
function cases(variants: ScenarioVariant[]): Case[] {
  const byFamily = new Map<string, ScenarioVariant>();
  for (const v of variants) if (!byFamily.has(v.family)) byFamily.set(v.family, v);
  const out: Case[] = [...byFamily.values()].map((v, i) => ({ v, seed: 11 + i, p: GT }));
  const find = (family: string, part: string): ScenarioVariant => {
    const v = variants.find((x) => x.family === family && x.id.includes(part));
    if (v === undefined) throw new Error(`no ${family} variant with ${part} among the examples`);
    return v;
  };
  out.push({ v: find('CPNA', 'ego_speed_kph=40,fog_visual_range=60,'), seed: 5, p: MODEL });
  out.push({
    v: find('CCRs', 'ego_speed_kph=50,fog_visual_range=100000,'),
    seed: 3,
    p: GT,
    engine: { controller: { fcwTtc: 0, partialTtc: 0, fullTtc: 0 } },
  });
  return out;
}

test('example runs reproduce their recorded metrics exactly (ground truth per family, a model run, a collision)', async () => {
  const variants = await loadVariants(join(packageRoot(), 'examples', 'scenarios'));
  const got: Golden[] = [];
  for (const c of cases(variants)) {
    const r = await simulateRun(c.v, { seed: c.seed, perception: c.p, ...c.engine });
    const engine = c.engine === undefined ? '' : JSON.stringify(c.engine);
    got.push({ variant: c.v.id, seed: c.seed, perception: r.model, engine, metrics: r.metrics });
  }
  if (process.env['DRIVEGATE_UPDATE_GOLDEN'] === '1') {
    writeFileSync(GOLDEN, JSON.stringify(got, null, 2) + '\n');
  }
  const want = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Golden[];
  assert.ok(want.length >= 9, 'the golden file covers every family, a model run and a collision');
  assert.ok(
    want.some((g) => g.metrics.collision) && want.some((g) => !g.metrics.collision),
    'the golden runs include a collision and a clean run',
  );
  assert.deepEqual(got, want);
});
