/**
 * Benchmark: the metrics step of `drivegate eval run` (every metric overall and for the reference
 * world's 31 standard slices) on a synthetic test split of N images (default 3,000, about 5 objects
 * and 8 detections each), against the obvious alternative: evaluating each slice from scratch, i.e.
 * writing the slice's filtered COCO files and running the COCO evaluator, matching, calibration,
 * thresholds and confusion on them. Prints wall and CPU time of both and the ratio.
 * Run: node --import tsx bench/eval-run.ts [images]   (or node dist/bench/eval-run.js)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { evaluateCoco, loadDetections, loadGroundTruth } from '../src/eval/metrics/coco/index.js';
import { detectionCalibration } from '../src/eval/metrics/calibration.js';
import { confusionMatrix } from '../src/eval/metrics/confusion.js';
import { matchDetections } from '../src/eval/metrics/detections.js';
import { tuneThresholds } from '../src/eval/metrics/thresholds.js';
import { loadEvalGroundTruth, loadEvalManifest, loadSlices } from '../src/eval/run-inputs.js';
import { computeMetrics } from '../src/eval/run-metrics.js';
import { compileSlices, imageMask, matchCondition } from '../src/eval/slices.js';
import { standardSlices } from '../src/world/slices.js';

const N = Number(process.argv[2] ?? 3000);
let seed = 7;
const rnd = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const W = 192;
const H = 96;
const cats = [
  { id: 1, name: 'car' },
  { id: 2, name: 'truck' },
  { id: 3, name: 'pedestrian' },
  { id: 4, name: 'cyclist' },
];
const records: Array<Record<string, unknown>> = [];
const images: Array<Record<string, unknown>> = [];
const annotations: Array<Record<string, unknown>> = [];
const dets: Array<{
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
}> = [];
for (let i = 1; i <= N; i++) {
  records.push({
    image: `images/${i}.png`,
    image_id: i,
    scene_id: `s${Math.floor(i / 10)}`,
    frame: i % 10,
    timestamp: 1_700_000_000 + i,
    split: 'test',
    weather: pick(['clear', 'rain', 'fog', 'snow']),
    time_of_day: pick(['day', 'dusk', 'night']),
    road_type: pick(['highway', 'urban', 'rural']),
    region: pick(['eu', 'us', 'asia']),
    geo_cell: `c${i % 50}`,
    sha256: '0'.repeat(64),
  });
  images.push({ id: i, width: W, height: H, file_name: `images/${i}.png` });
  const n = Math.floor(rnd() * 10);
  for (let k = 0; k < n; k++) {
    const w = 4 + rnd() * 50;
    const h = 4 + rnd() * 40;
    const x = rnd() * (W - w);
    const y = rnd() * (H - h);
    const cat = pick(cats).id;
    annotations.push({
      id: annotations.length + 1,
      image_id: i,
      category_id: cat,
      bbox: [x, y, w, h],
      area: w * h,
      iscrowd: 0,
      occlusion: Math.round(rnd() * 100) / 100,
      truncation: rnd() < 0.8 ? 0 : Math.round(rnd() * 100) / 100,
      distance: Math.round(rnd() * 8000) / 100,
    });
    if (rnd() < 0.85) {
      const j = (v: number): number => v + (rnd() - 0.5) * 0.15 * Math.min(w, h);
      dets.push({ image_id: i, category_id: cat, bbox: [j(x), j(y), w, h], score: 0.3 + rnd() * 0.7 });
    }
  }
  for (let k = 0; k < 3; k++)
    dets.push({
      image_id: i,
      category_id: pick(cats).id,
      bbox: [rnd() * 150, rnd() * 60, 5 + rnd() * 30, 5 + rnd() * 30],
      score: rnd() * 0.6,
    });
}

const dir = await mkdtemp(join(tmpdir(), 'dg-bench-eval-'));
try {
  const gtFile = join(dir, 'gt.json');
  const manifestFile = join(dir, 'test.manifest');
  const slicesFile = join(dir, 'slices.yaml');
  await writeFile(gtFile, JSON.stringify({ images, annotations, categories: cats }));
  await writeFile(manifestFile, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const defs = standardSlices({ width: W, includeUnknown: false });
  await writeFile(slicesFile, stringify({ version: 1, slices: defs }));
  const dtBytes = Buffer.from(JSON.stringify(dets));

  const gt = await loadEvalGroundTruth(gtFile);
  const manifest = await loadEvalManifest(manifestFile);
  const { defs: sliceDefs } = await loadSlices(slicesFile);
  const dt = loadDetections({ bytes: dtBytes, name: 'dt.json' }, gt.columns);
  const manifestIndexOf = new Int32Array(gt.columns.imageIds.length).fill(-1);
  manifest.records.forEach(
    (r, i) => (manifestIndexOf[gt.columns.imageIndex.get(Number(r['image_id']))!] = i),
  );
  const compiled = compileSlices(sliceDefs, {
    images: manifest.records,
    annotations,
    categories: gt.categories,
    slicesFile,
  });

  const measure = (f: () => void): { wall: number; cpu: number } => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    f();
    const c = process.cpuUsage(c0);
    return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
  };

  // warm-up (JIT) on a small part, then the shared-work metrics step
  computeMetrics(gt, dt, manifest.records, manifestIndexOf, compiled.slice(0, 3));
  let parts: Record<string, number> = {};
  const shared = measure(() => {
    parts = computeMetrics(gt, dt, manifest.records, manifestIndexOf, compiled).timings_ms;
  });

  // the alternative: every slice from its own filtered files
  const naive = measure(() => {
    for (const s of compiled) {
      const rec = imageMask(s.imageConditions, records);
      const ids = new Set<number>();
      records.forEach((r, i) => rec[i] === 1 && ids.add(Number(r['image_id'])));
      const keepCat = (c: number): boolean => s.categoryIds === null || s.categoryIds.includes(c);
      const inObj = (a: Record<string, unknown>): boolean =>
        s.objectConditions.every(([f, c]) => matchCondition(c, a[f]));
      const anns = annotations
        .filter((a) => ids.has(a['image_id'] as number) && keepCat(a['category_id'] as number))
        .map((a) => (s.objectConditions.length === 0 ? a : { ...a, area: inObj(a) ? 1e9 : 5000 }));
      const ds = dets
        .filter((d) => ids.has(d.image_id) && keepCat(d.category_id))
        .map((d) =>
          s.objectConditions.length === 0
            ? d
            : {
                ...d,
                area: s.scoring === 'area-range' && inObj({ area: d.bbox[2]! * d.bbox[3]! }) ? 1e9 : 0,
              },
        );
      const imgs = images.filter((im) => ids.has(im['id'] as number));
      const gtJson = { images: imgs, annotations: anns, categories: cats };
      const g = loadGroundTruth(
        { bytes: Buffer.from(JSON.stringify(gtJson)), name: 'g' },
        { iouType: 'bbox' },
      );
      const d = loadDetections({ bytes: Buffer.from(JSON.stringify(ds)), name: 'd' }, g);
      evaluateCoco(g, d);
      if (s.objectConditions.length === 0 && anns.length > 0) {
        const parsed = gtJson as unknown as Parameters<typeof matchDetections>[0];
        const m = matchDetections(parsed, ds, 0.5, { maxDets: 100 });
        if (m.detections.length > 0) {
          detectionCalibration(m, { strategy: 'uniform' });
          detectionCalibration(m, { strategy: 'quantile' });
        }
        tuneThresholds(m);
        confusionMatrix(parsed, ds);
      }
    }
  });
  console.log(
    `eval run metrics, ${N} images, ${annotations.length} objects, ${dets.length} detections, ${compiled.length} slices`,
  );
  console.log(
    `  shared work (eval run):    ${shared.wall.toFixed(2)} s wall, ${shared.cpu.toFixed(2)} s CPU`,
  );
  console.log(`  each slice from its files: ${naive.wall.toFixed(2)} s wall, ${naive.cpu.toFixed(2)} s CPU`);
  console.log(`  shared work by part (ms, inclusive): ${JSON.stringify(parts)}`);
  console.log(`  ratio (CPU): ${(naive.cpu / shared.cpu).toFixed(2)}x faster`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
