/**
 * `drivegate detect`: runs a detection model (ONNX + inference config) over a folder of PNGs or a
 * manifest and writes COCO results (image_id, category_id, bbox, score).
 */
import type { Command } from 'commander';
import { createLogger } from '../core/log.js';
import { resolveModel } from '../runtime/resolve.js';
import { runDetect } from '../runtime/detect.js';
import { parseIntOption } from './option-values.js';

interface DetectFlags {
  model: string;
  images: string;
  gt?: string;
  config?: string;
  out: string;
  batch: string;
  workers: string;
  json?: boolean;
}

/** Registers `drivegate detect`. */
export function registerDetect(program: Command): void {
  program
    .command('detect')
    .description(
      'Run a detection model over images and write COCO results (image_id, category_id, bbox [x,y,w,h], score). ' +
        "The model's inference config is <name>.inference_config.json beside it unless --config is given.",
    )
    .requiredOption('--model <file>', 'ONNX model')
    .requiredOption(
      '--images <dir|manifest>',
      'a folder of PNGs (searched recursively) or a JSON-lines manifest',
    )
    .requiredOption('--out <file>', 'output COCO results JSON (written atomically)')
    .option('--gt <file>', 'COCO ground truth to take image ids from (matched by file_name or base name)')
    .option('--config <file>', 'inference config (default: beside the model)')
    .option('--batch <n>', 'images per inference call', '8')
    .option('--workers <n>', 'inference worker threads (0 = in this thread)', '0')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      `
Examples:
  drivegate detect --model models/detector-v1.0.0.onnx --images data/golden_val.manifest \\
    --gt data/golden_val.json --out val.detections.json
  drivegate detect --model m.onnx --config m.inference_config.json --images frames/ --out dets.json --batch 16 --workers 2`,
    )
    .action(async (flags: DetectFlags) => {
      const batch = parseIntOption('--batch', flags.batch, 1, 4096);
      const workers = parseIntOption('--workers', flags.workers, 0, 64);
      const log = createLogger({ ...(flags.json ? { json: true } : {}) });
      const model = resolveModel(flags.model, flags.config);
      let lastPct = -1;
      const summary = await runDetect({
        model,
        images: flags.images,
        out: flags.out,
        batch,
        workers,
        ...(flags.gt !== undefined ? { gt: flags.gt } : {}),
        onProgress: (done, total) => {
          const pct = Math.floor((100 * done) / total / 10) * 10;
          if (pct !== lastPct) {
            lastPct = pct;
            log.debug('detect progress', { done, total });
          }
        },
      });
      if (flags.json) {
        process.stdout.write(JSON.stringify(summary) + '\n');
      } else {
        process.stdout.write(
          `${summary.detections} detections on ${summary.images} images -> ${summary.out} ` +
            `(${summary.imagesPerSecond.toFixed(1)} images/s)\n`,
        );
      }
    });
}
