/**
 * File-level entry points of the COCO evaluation: evaluate two files end to end, print the summary in
 * pycocotools' summarize() layout, and shape the machine-readable output.
 */
import { evaluateCoco, type CocoEvalResult } from './evaluate.js';
import { loadDetections, loadGroundTruth, type CocoIouType, type CocoSource } from './load.js';

/** What evaluateCocoFiles needs: the ground truth, the results and the geometry to compare. */
export interface CocoFilesOptions {
  gt: CocoSource;
  dt: CocoSource;
  iouType: CocoIouType;
}

/** Loads both files and evaluates them (bad input: DrivegateError BAD_INPUT naming file, record, field). */
export function evaluateCocoFiles(options: CocoFilesOptions): CocoEvalResult {
  const gt = loadGroundTruth(options.gt, { iouType: options.iouType });
  const dt = loadDetections(options.dt, gt);
  return evaluateCoco(gt, dt);
}

/** Python's '{:0.3f}' (round half to even on the exact binary value; JS toFixed rounds ties up). */
function pyFixed3(x: number): string {
  const scaled = x * 1000;
  // x*1000 is exact and ends in .5 only for odd multiples of 1/16 among values in [-1, 1]; then
  // Python picks the even neighbour.
  if (Math.abs(x) <= 1 && Number.isInteger(x * 16) && Math.abs(x * 16) % 2 === 1) {
    const lo = Math.floor(scaled);
    const pick = lo % 2 === 0 ? lo : lo + 1;
    const s = (Math.abs(pick) / 1000).toFixed(3);
    return pick < 0 ? '-' + s : s;
  }
  return x.toFixed(3);
}

const LINES: readonly [ap: boolean, iou: string, area: string, maxDets: number][] = [
  [true, '0.50:0.95', 'all', 100],
  [true, '0.50', 'all', 100],
  [true, '0.75', 'all', 100],
  [true, '0.50:0.95', 'small', 100],
  [true, '0.50:0.95', 'medium', 100],
  [true, '0.50:0.95', 'large', 100],
  [false, '0.50:0.95', 'all', 1],
  [false, '0.50:0.95', 'all', 10],
  [false, '0.50:0.95', 'all', 100],
  [false, '0.50:0.95', 'small', 100],
  [false, '0.50:0.95', 'medium', 100],
  [false, '0.50:0.95', 'large', 100],
];

/** The 12 summary lines exactly as pycocotools' COCOeval.summarize() prints them. */
export function formatSummary(stats: readonly number[]): string {
  return LINES.map(([ap, iou, area, md], i) => {
    const title = (ap ? 'Average Precision' : 'Average Recall').padEnd(18);
    const type = ap ? '(AP)' : '(AR)';
    return ` ${title} ${type} @[ IoU=${iou.padEnd(9)} | area=${area.padStart(6)} | maxDets=${String(md).padStart(3)} ] = ${pyFixed3(stats[i]!)}`;
  }).join('\n');
}

/** The `--json` output of `drivegate eval coco`. */
export interface CocoJsonOutput {
  stats: number[];
  per_class: Record<string, number>;
}

/** Shapes a result as the `--json` output: the 12 stats and per-class AP keyed by category id. */
export function cocoJsonOutput(result: CocoEvalResult): CocoJsonOutput {
  const perClass: Record<string, number> = {};
  for (const c of result.perClass) perClass[String(c.categoryId)] = c.ap;
  return { stats: result.stats, per_class: perClass };
}
