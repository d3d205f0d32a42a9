/**
 * Benchmark: drivegate's COCO bbox evaluation against pycocotools on a COCO-val-sized problem.
 *
 * Generates (seeded, deterministic) 5,000 images, 80 categories, ~7 ground-truth boxes per image
 * (some crowd, `area` not equal to w*h, all three size ranges) and 100 detections per image, writes the
 * ground truth and results JSON to a temp folder, then times in a fresh child process each:
 *   - drivegate: load both files, evaluate, accumulate, summarize (end to end), peak RSS;
 *   - pycocotools (when a python with it is found: $DRIVEGATE_PYCOCOTOOLS_PYTHON, /usr/bin/python3 or
 *     python3): COCO(gt), loadRes(dt), COCOeval evaluate/accumulate/summarize, peak RSS;
 * and prints both, the ratios, and the largest difference between the two sets of 12 stats.
 * Without pycocotools it prints the published figure and says the ratio was not measured here.
 *
 * `--iou-type segm` makes the same problem with masks (ground truth: the octagon inscribed in each box,
 * as a polygon; results: compressed RLE of their octagon plus the box), 1,000 images by default.
 *
 *   node --import tsx bench/coco-eval.ts [--iou-type bbox|segm] [--images N] [--dets 100] [--keep]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 as rng } from '../src/core/random.js';
import {
  evaluateCocoFiles,
  formatSummary,
  rleCountsToString,
  rleFromPolygon,
  type CocoIouType,
} from '../src/eval/metrics/coco/index.js';

interface ChildFigures {
  seconds: number;
  maxRssMiB: number;
  stats: number[];
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

/** Writes gt.json and dt.json into `dir`; returns their counts. */
function generate(
  dir: string,
  nImages: number,
  detsPerImage: number,
  segm: boolean,
): { gt: number; dt: number } {
  const rand = rng(20240516);
  const K = 80;
  const catW: number[] = [];
  for (let k = 0; k < K; k++) catW.push(1 / (k + 1) ** 0.8); // skewed like COCO (person dominates)
  const catSum = catW.reduce((a, b) => a + b, 0);
  const pickCat = (): number => {
    let u = rand() * catSum;
    for (let k = 0; k < K; k++) {
      u -= catW[k]!;
      if (u <= 0) return k + 1;
    }
    return K;
  };
  const images: string[] = [];
  const anns: string[] = [];
  const dets: string[] = [];
  let annId = 1;
  for (let i = 0; i < nImages; i++) {
    const id = 100000 + i * 7;
    const W = rand() < 0.5 ? 640 : 480;
    const H = W === 640 ? 480 : 640;
    images.push(`{"id":${id},"width":${W},"height":${H},"file_name":"${id}.jpg"}`);
    const nGt = 1 + Math.floor(rand() * 13);
    const gts: [number, number, number, number, number][] = [];
    for (let g = 0; g < nGt; g++) {
      const cat = pickCat();
      const side = Math.exp(Math.log(6) + rand() * (Math.log(400) - Math.log(6)));
      const w = r2(side * (0.5 + rand()));
      const h = r2(side * (0.5 + rand()));
      const x = r2(rand() * Math.max(1, W - w));
      const y = r2(rand() * Math.max(1, H - h));
      const crowd = rand() < 0.01 ? 1 : 0;
      const area = r2(w * h * (0.55 + 0.35 * rand()));
      const seg = segm ? `,"segmentation":[[${octagon(x, y, w, h).join(',')}]]` : '';
      anns.push(
        `{"id":${annId++},"image_id":${id},"category_id":${cat},"bbox":[${x},${y},${w},${h}],"area":${area},"iscrowd":${crowd}${seg}}`,
      );
      gts.push([cat, x, y, w, h]);
    }
    for (let d = 0; d < detsPerImage; d++) {
      let cat: number;
      let x: number;
      let y: number;
      let w: number;
      let h: number;
      if (d < gts.length * 3 && rand() < 0.8) {
        const g = gts[d % gts.length]!;
        cat = rand() < 0.9 ? g[0] : pickCat();
        const j = 0.25 * rand();
        x = r2(g[1] + g[3] * j * (rand() - 0.5));
        y = r2(g[2] + g[4] * j * (rand() - 0.5));
        w = r2(g[3] * (1 + j * (rand() - 0.5)));
        h = r2(g[4] * (1 + j * (rand() - 0.5)));
      } else {
        cat = rand() < 0.5 && gts.length > 0 ? gts[Math.floor(rand() * gts.length)]![0] : pickCat();
        const side = Math.exp(Math.log(4) + rand() * (Math.log(300) - Math.log(4)));
        w = r2(side * (0.5 + rand()));
        h = r2(side * (0.5 + rand()));
        x = r2(rand() * Math.max(1, W - w));
        y = r2(rand() * Math.max(1, H - h));
      }
      const score = Math.round((d < gts.length ? 0.5 + 0.5 * rand() : rand() * 0.6) * 1000) / 1000;
      const seg = segm
        ? `,"segmentation":{"size":[${H},${W}],"counts":${JSON.stringify(rleCountsToString(rleFromPolygon(octagon(x, y, w, h), 0, 8, H, W)))}}`
        : '';
      dets.push(
        `{"image_id":${id},"category_id":${cat},"bbox":[${x},${y},${w},${h}],"score":${score}${seg}}`,
      );
    }
  }
  const cats = Array.from(
    { length: K },
    (_, k) => `{"id":${k + 1},"name":"class${k + 1}","supercategory":"x"}`,
  );
  writeFileSync(
    join(dir, 'gt.json'),
    `{"info":{"description":"drivegate bench"},"licenses":[],"images":[${images.join(',')}],"annotations":[${anns.join(',')}],"categories":[${cats.join(',')}]}`,
  );
  writeFileSync(join(dir, 'dt.json'), `[${dets.join(',')}]`);
  return { gt: anns.length, dt: dets.length };
}

/** The octagon inscribed in a box (the segm variant's masks). */
function octagon(x: number, y: number, w: number, h: number): number[] {
  const pts: number[] = [];
  for (let k = 0; k < 8; k++) {
    const a = (k * Math.PI) / 4 + Math.PI / 8;
    pts.push(r2(x + w * (0.5 + 0.5 * Math.cos(a))), r2(y + h * (0.5 + 0.5 * Math.sin(a))));
  }
  return pts;
}

/** Child mode: evaluate the two files end to end and print time, peak RSS and stats as JSON. */
function child(gtPath: string, dtPath: string, iouType: CocoIouType): void {
  const t0 = performance.now();
  const result = evaluateCocoFiles({ gt: gtPath, dt: dtPath, iouType });
  process.stderr.write(formatSummary(result.stats) + '\n');
  const seconds = (performance.now() - t0) / 1000;
  const figures: ChildFigures = {
    seconds,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    stats: result.stats,
  };
  process.stdout.write(JSON.stringify(figures) + '\n');
}

const PY = `
import sys, time, json, resource, contextlib
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
t0 = time.perf_counter()
with contextlib.redirect_stdout(sys.stderr):
    gt = COCO(sys.argv[1]); dt = gt.loadRes(sys.argv[2])
    E = COCOeval(gt, dt, sys.argv[3]); E.evaluate(); E.accumulate(); E.summarize()
t = time.perf_counter() - t0
print(json.dumps({'seconds': t, 'maxRssMiB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'stats': [float(x) for x in E.stats]}))
`;

function findPycocotools(): string | null {
  const candidates = [process.env['DRIVEGATE_PYCOCOTOOLS_PYTHON'], '/usr/bin/python3', 'python3'];
  for (const py of candidates) {
    if (!py) continue;
    const r = spawnSync(py, ['-c', 'import pycocotools.cocoeval'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

function parseChild(what: string, r: ReturnType<typeof spawnSync>): ChildFigures {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${String(r.stderr).slice(-2000)}`);
  const lines = String(r.stdout).trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as ChildFigures;
}

function main(): void {
  if (process.argv[2] === '--child') {
    child(process.argv[3]!, process.argv[4]!, process.argv[5] as CocoIouType);
    return;
  }
  const ti = process.argv.indexOf('--iou-type');
  const iouType: CocoIouType = ti >= 0 && process.argv[ti + 1] === 'segm' ? 'segm' : 'bbox';
  const nImages = arg('--images', iouType === 'segm' ? 1000 : 5000);
  const detsPerImage = arg('--dets', 100);
  const dir = mkdtempSync(join(tmpdir(), 'drivegate-bench-coco-'));
  try {
    const tg = performance.now();
    const counts = generate(dir, nImages, detsPerImage, iouType === 'segm');
    const gtPath = join(dir, 'gt.json');
    const dtPath = join(dir, 'dt.json');
    console.log(
      `dataset: ${nImages} images, 80 categories, ${counts.gt} ground-truth ${iouType === 'segm' ? 'polygons' : 'boxes'}, ${counts.dt} detections${iouType === 'segm' ? ' (compressed RLE + bbox)' : ''} ` +
        `(generated in ${((performance.now() - tg) / 1000).toFixed(1)} s, in ${dir})`,
    );
    const ours = parseChild(
      'drivegate',
      spawnSync(
        process.execPath,
        [...process.execArgv, process.argv[1]!, '--child', gtPath, dtPath, iouType],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 26,
        },
      ),
    );
    console.log(
      `drivegate eval coco (${iouType}), end to end (load JSON, match, accumulate, summarize): ` +
        `${ours.seconds.toFixed(2)} s, peak RSS ${ours.maxRssMiB.toFixed(0)} MiB`,
    );
    const py = findPycocotools();
    if (py === null) {
      console.log(
        'pycocotools: not installed for any python found here, so the ratio could not be measured on this machine.\n' +
          'Published figure (not measured here): COCOeval bbox on the 5,000 COCO val2017 images took 18.5 s ' +
          '(segm 29.8 s) in the faster-coco-eval README comparison (https://pypi.org/project/faster-coco-eval/1.3.0/).\n' +
          'Set DRIVEGATE_PYCOCOTOOLS_PYTHON to a python with pycocotools to measure the ratio.',
      );
      return;
    }
    const ref = parseChild(
      'pycocotools',
      spawnSync(py, ['-c', PY, gtPath, dtPath, iouType], { encoding: 'utf8', maxBuffer: 1 << 26 }),
    );
    let maxDiff = 0;
    ref.stats.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - ours.stats[i]!))));
    console.log(
      `pycocotools (${py}), same files, end to end: ${ref.seconds.toFixed(2)} s, peak RSS ${ref.maxRssMiB.toFixed(0)} MiB`,
    );
    console.log(
      `ratio: ${(ref.seconds / ours.seconds).toFixed(1)}x faster, ${(ref.maxRssMiB / ours.maxRssMiB).toFixed(1)}x less peak memory; ` +
        `largest |stat difference| = ${maxDiff.toExponential(2)}`,
    );
  } finally {
    if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  }
}

main();
