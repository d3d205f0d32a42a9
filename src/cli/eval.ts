/**
 * The `drivegate eval` command group (workflow #16 and its metric tools). This file creates the group
 * and adds `eval coco`; other files add their subcommands to the same group through `evalCommand`.
 */
import { Option, type Command } from 'commander';
import {
  cocoJsonOutput,
  evaluateCocoFiles,
  formatSummary,
  type CocoIouType,
} from '../eval/metrics/coco/index.js';
import { registerEvalTools } from './eval-tools.js';

/**
 * Returns the `eval` command group of `program`, creating it on first use, so that several files can
 * add subcommands to it in any order.
 */
export function evalCommand(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === 'eval');
  if (existing) return existing;
  return program
    .command('eval')
    .description('Evaluate models (#16) and metric tools: eval coco, ...')
    .addHelpText('after', '\nExample:\n  drivegate eval coco --gt instances_val.json --dt results.json');
}

interface CocoOptions {
  gt: string;
  dt: string;
  iouType: CocoIouType;
  json?: boolean;
  perClass?: boolean;
}

/** Registers the `eval` group and its `coco` command. */
export function registerEval(program: Command): void {
  evalCommand(program)
    .command('coco')
    .description(
      'COCO detection metrics (AP, AP50, AP75, APs/m/l, AR1/10/100, ARs/m/l) equal to pycocotools COCOeval',
    )
    .requiredOption('--gt <file>', 'ground truth: COCO instances JSON (.json or .json.gz)')
    .requiredOption('--dt <file>', 'results: JSON list of {image_id, category_id, bbox|segmentation, score}')
    .addOption(
      new Option('--iou-type <type>', 'compare boxes or masks').choices(['bbox', 'segm']).default('bbox'),
    )
    .option('--per-class', 'also print AP@[.5:.95] per category (text output)')
    .option('--json', 'print {"stats": [12 numbers], "per_class": {"<catId>": AP}} as one JSON object')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  drivegate eval coco --gt instances_val2017.json --dt detections.json',
        '  drivegate eval coco --gt gt.json --dt masks.json --iou-type segm --json',
        '',
        'Stats are -1 where undefined (no ground truth in that area range). Exit 2 on bad input.',
      ].join('\n'),
    )
    .action((opts: CocoOptions) => {
      const result = evaluateCocoFiles({ gt: opts.gt, dt: opts.dt, iouType: opts.iouType });
      if (opts.json) {
        process.stdout.write(JSON.stringify(cocoJsonOutput(result)) + '\n');
        return;
      }
      let text = formatSummary(result.stats) + '\n';
      if (opts.perClass) {
        text += '\nper-class AP@[.50:.95] (area all, maxDets 100):\n';
        for (const c of result.perClass) {
          const label = c.name ? `${String(c.categoryId)} ${c.name}` : String(c.categoryId);
          text += `  ${label.padEnd(28)} ${c.ap < 0 ? '   -1 (no ground truth)' : c.ap.toFixed(3)}\n`;
        }
      }
      process.stdout.write(text);
    });
  registerEvalTools(evalCommand(program));
}
