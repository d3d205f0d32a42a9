/**
 * `drivegate world ...`: the reference world. `world generate` writes a synthetic driving dataset
 * (PNG images, semantic masks, COCO files, manifests, slices, per-scene 3D boxes, lanes and
 * trajectories) from a seed.
 */
import type { Command } from 'commander';
import { DrivegateError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { generateDataset } from '../world/dataset.js';
import type { DatasetSummary } from '../world/dataset.js';
import { SPLITS } from '../world/splits.js';
import type { SplitRatios } from '../world/splits.js';
import { parseWeights } from '../world/weights.js';
import { badOptionValue as usage, parseIntOption, parseNumberOption } from './option-values.js';

/** Parses `--resolution WxH`. */
export function parseResolution(text: string): { width: number; height: number } {
  const m = /^\s*(\d+)\s*[xX]\s*(\d+)\s*$/.exec(text);
  if (m === null) throw usage('--resolution', 'WIDTHxHEIGHT, e.g. 192x96', text);
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (width < 16 || height < 16 || width > 4096 || height > 4096) {
    throw usage('--resolution', 'each side in 16..4096', text);
  }
  return { width, height };
}

/** Parses `--split 0.7,0.15,0.15` or `--split train=0.7,val=0.15,test=0.15` (missing names get 0). */
export function parseSplit(text: string): SplitRatios {
  const parts = text.split(/[,/:]/).map((p) => p.trim());
  const out: SplitRatios = { train: 0, val: 0, test: 0 };
  if (parts.every((p) => !p.includes('='))) {
    if (parts.length !== 3) throw usage('--split', 'three ratios train,val,test, e.g. 0.7,0.15,0.15', text);
    SPLITS.forEach((s, i) => (out[s] = parseNumberOption('--split', parts[i] ?? '', 0)));
  } else {
    for (const p of text.split(',')) {
      const [name, value] = p.split('=').map((x) => x.trim());
      if (name === undefined || value === undefined || !(SPLITS as readonly string[]).includes(name)) {
        throw usage('--split', 'train=R,val=R,test=R', text);
      }
      out[name as (typeof SPLITS)[number]] = parseNumberOption('--split', value, 0);
    }
  }
  if (!(out.train + out.val + out.test > 0)) throw usage('--split', 'ratios with a positive sum', text);
  return out;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface GenerateFlags {
  out?: string;
  scenes: string;
  framesPerScene: string;
  seed: string;
  frameInterval: string;
  split: string;
  weights: string[];
  resolution: string;
  minGapSeconds: string;
  geoSeparation?: boolean;
  includeUnknown?: boolean;
  unknownRate: string;
  workers?: string;
  overwrite?: boolean;
  json?: boolean;
}

function printSummary(s: DatasetSummary): void {
  const lines = [
    `dataset written to ${s.out}`,
    `  ${s.scenes} scenes, ${s.frames} frames at ${s.width}x${s.height}, seed ${s.seed}`,
    ...Object.entries(s.splits).map(
      ([name, v]) =>
        `  ${name.padEnd(5)} ${String(v.scenes).padStart(5)} scenes ${String(v.images).padStart(7)} images ` +
        `${String(v.annotations).padStart(8)} annotations (${v.crowds} crowd)  ${v.coco}  ${v.manifest}`,
    ),
    `  objects: ${Object.entries(s.objects)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `  not annotated: ${Object.entries(s.skipped)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `  dataset.json sha256 ${s.digest}`,
    `  ${s.seconds.toFixed(1)} s with ${s.workers} worker(s), ${(s.frames / s.seconds).toFixed(0)} frames/s`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

/** Registers `drivegate world` and its subcommands. */
export function registerWorld(program: Command): void {
  const world = program.command('world').description('The reference world: synthetic scenes and datasets.');
  world
    .command('generate')
    .description(
      'Generate a synthetic driving dataset: PNG images and semantic masks, COCO files and manifests per split ' +
        '(golden_{train,val,test}.json/.manifest), slices.yaml, per-scene JSON (3D boxes, lanes, trajectories).',
    )
    .option('--out <dir>', 'output folder (must not exist unless --overwrite)')
    .option('--scenes <n>', 'number of scenes', '20')
    .option('--frames-per-scene <k>', 'frames per scene', '10')
    .option('--seed <s>', 'root seed (integer)', '0')
    .option('--frame-interval <seconds>', 'seconds between frames of a scene', '0.5')
    .option('--split <ratios>', 'train,val,test shares by scene (or train=R,val=R,test=R)', '0.7,0.15,0.15')
    .option(
      '--weights <spec>',
      'condition weights, e.g. weather=clear:0.7,rain:0.1,fog:0.1,snow:0.1;time_of_day=day:0.8,dusk:0.1,night:0.1 ' +
        '(attributes: weather, time_of_day, road_type, region; repeatable)',
      collect,
      [],
    )
    .option('--resolution <WxH>', 'image size', '192x96')
    .option(
      '--min-gap-seconds <s>',
      'scenes of one region closer in time than this share a split (0 = off)',
      '0',
    )
    .option('--geo-separation', 'no geo cell in two splits')
    .option('--include-unknown', 'export the unknown class (debris, animals) as COCO category 5')
    .option('--unknown-rate <p>', 'probability that a scene holds an unknown object', '0.1')
    .option('--workers <n>', 'worker threads (default min(2, cores); 0 = none)')
    .option('--overwrite', 'replace an existing output folder')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      `
Example:
  $ drivegate world generate --out data/world --scenes 200 --frames-per-scene 10 --seed 7 \\
      --weights "weather=clear:0.7,rain:0.1,fog:0.1,snow:0.1;time_of_day=day:0.8,dusk:0.1,night:0.1" \\
      --min-gap-seconds 600 --geo-separation --include-unknown

The same options give byte-identical output. See docs/world.md for the layout and formats.`,
    )
    .action(async (flags: GenerateFlags) => {
      if (flags.out === undefined || flags.out.trim() === '') {
        throw new DrivegateError('USAGE', 'missing required option', {
          field: '--out',
          expected: 'an output folder',
        });
      }
      const { width, height } = parseResolution(flags.resolution);
      const seedText = flags.seed.trim();
      if (!/^-?\d+$/.test(seedText) || !Number.isSafeInteger(Number(seedText))) {
        throw usage('--seed', 'an integer', flags.seed);
      }
      const log = createLogger({ ...(flags.json ? { json: true } : {}) });
      let lastShown = 0;
      const summary = await generateDataset({
        out: flags.out,
        scenes: parseIntOption('--scenes', flags.scenes, 1, 1_000_000),
        framesPerScene: parseIntOption('--frames-per-scene', flags.framesPerScene, 1, 10_000),
        seed: Number(seedText),
        frameInterval: parseNumberOption('--frame-interval', flags.frameInterval, 0.01, 3600),
        splitRatios: parseSplit(flags.split),
        weights: parseWeights(flags.weights),
        width,
        height,
        minGapSeconds: parseNumberOption('--min-gap-seconds', flags.minGapSeconds, 0),
        geoSeparation: flags.geoSeparation === true,
        includeUnknown: flags.includeUnknown === true,
        unknownRate: parseNumberOption('--unknown-rate', flags.unknownRate, 0, 1),
        ...(flags.workers !== undefined
          ? { workers: parseIntOption('--workers', flags.workers, 0, 64) }
          : {}),
        overwrite: flags.overwrite === true,
        onProgress: (done, total) => {
          const step = Math.max(1, Math.ceil(total / 10));
          if (done === total || done - lastShown >= step) {
            lastShown = done;
            log.info('generating scenes', { done, total });
          }
        },
      });
      if (flags.json) process.stdout.write(JSON.stringify(summary) + '\n');
      else printSummary(summary);
    });
}
