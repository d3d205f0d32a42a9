/**
 * Differential test against pycocotools itself, on seeded random cases (boxes and masks: polygons with
 * negative coordinates and repeated vertices, compressed and uncompressed RLE, crowd regions, score
 * ties, more than 100 detections, duplicate and zero annotation ids). Runs where a python with
 * pycocotools is found ($DRIVEGATE_PYCOCOTOOLS_PYTHON, /usr/bin/python3, python3); skipped otherwise.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../../core/paths.js';
import { mulberry32 as rng } from '../../../core/random.js';
import { evaluateCocoFiles, type CocoIouType } from './index.js';
import { rleCountsToString, rleFromPolygon, rleMerge } from './mask.js';

function findPython(): string | null {
  for (const py of [process.env['DRIVEGATE_PYCOCOTOOLS_PYTHON'], '/usr/bin/python3', 'python3']) {
    if (!py) continue;
    if (spawnSync(py, ['-c', 'import pycocotools.cocoeval'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}

interface Img {
  id: number;
  height: number;
  width: number;
}

/** One random case: ground truth and results as plain objects. */
function randomCase(seed: number, segm: boolean): { gt: unknown; dt: unknown[] } {
  const r = rng(seed);
  const ri = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  const cats = [1, 2, 3, 4, 5, 6, 7, 8].filter(() => r() < 0.5);
  if (cats.length === 0) cats.push(3);
  const images: Img[] = Array.from({ length: ri(1, 6) }, (_, i) => ({
    id: i * 7 + 3,
    height: ri(20, 90),
    width: ri(20, 90),
  }));
  const polygon = (img: Img): number[] => {
    const cx = r() * img.width;
    const cy = r() * img.height;
    const rad = 1 + r() * 30;
    const k = ri(3, 8);
    const pts: number[] = [];
    for (let j = 0; j < k; j++) {
      const ang = (2 * Math.PI * j) / k + (r() - 0.5) * 0.6;
      const rr = rad * (0.5 + 0.7 * r());
      let x = cx + rr * Math.cos(ang);
      let y = cy + rr * Math.sin(ang);
      if (r() < 0.2) [x, y] = [Math.round(x), Math.round(y)];
      if (r() < 0.1) x = -x * 0.1;
      pts.push(r2(x), r2(y));
      if (r() < 0.05) pts.push(r2(x), r2(y)); // repeated vertex
    }
    return pts;
  };
  const maskOf = (polys: number[][], img: Img): Uint32Array =>
    rleMerge(
      polys.map((p) => ({
        h: img.height,
        w: img.width,
        counts: rleFromPolygon(p, 0, p.length / 2, img.height, img.width),
      })),
    ).counts;
  const segmentation = (img: Img, polys: number[][]): unknown => {
    const kind = r();
    if (kind < 0.5) return polys;
    const counts = maskOf(polys, img);
    if (kind < 0.75) return { size: [img.height, img.width], counts: rleCountsToString(counts) };
    return { size: [img.height, img.width], counts: Array.from(counts) };
  };
  const anns: Record<string, unknown>[] = [];
  const gtPolys = new Map<Record<string, unknown>, number[][]>();
  let id = r() < 0.3 ? 0 : 1;
  for (const img of images) {
    for (let n = ri(0, 8); n > 0; n--) {
      const w = pick([r() * 40, r() * 10, 32]);
      const h = r() * 40;
      const a: Record<string, unknown> = {
        id: id++,
        image_id: img.id,
        category_id: pick(cats),
        bbox: [r2(r() * img.width - 5), r2(r() * img.height - 5), r2(w), r2(h)],
        iscrowd: r() < 0.1 ? 1 : 0,
        area: pick([w * h, w * h * (0.5 + r()), 1024, 9216]),
      };
      if (segm) {
        const polys = Array.from({ length: pick([1, 1, 1, 2]) }, () => polygon(img));
        gtPolys.set(a, polys);
        a['segmentation'] = segmentation(img, polys);
      }
      anns.push(a);
    }
  }
  if (seed % 4 === 0) for (const a of anns) if (r() < 0.3) a['id'] = pick(anns)['id']; // duplicate ids
  const dets: Record<string, unknown>[] = [];
  const withBox = r() < 0.5;
  for (const img of images) {
    for (let n = pick([0, ri(0, 10), ri(50, 130)]); n > 0; n--) {
      const cat = pick(cats);
      const gts = anns.filter((a) => a['image_id'] === img.id && a['category_id'] === cat);
      let bb: number[];
      let polys: number[][];
      if (gts.length > 0 && r() < 0.6) {
        const g = pick(gts);
        const [x, y, w, h] = g['bbox'] as number[];
        const j = r() * 6;
        const jit = (): number => (r() - 0.5) * 2 * j;
        bb = [x! + jit(), y! + jit(), Math.max(0, w! + jit()), Math.max(0, h! + jit())];
        polys = (gtPolys.get(g) ?? [polygon(img)]).map((p) => p.map((v) => v + (r() - 0.5) * 4));
      } else {
        bb = [r() * img.width, r() * img.height, r() * 40, r() * 40];
        polys = [polygon(img)];
      }
      const d: Record<string, unknown> = {
        image_id: img.id,
        category_id: cat,
        score: pick([Math.round(r() * 10) / 10, r(), 0.5]),
      };
      if (!segm || withBox) d['bbox'] = bb.map(r2);
      if (segm)
        d['segmentation'] = { size: [img.height, img.width], counts: rleCountsToString(maskOf(polys, img)) };
      dets.push(d);
    }
  }
  if (dets.length === 0) {
    const img = images[0]!;
    const d: Record<string, unknown> = {
      image_id: img.id,
      category_id: cats[0],
      bbox: [1, 1, 5, 5],
      score: 0.3,
    };
    if (segm)
      d['segmentation'] = {
        size: [img.height, img.width],
        counts: rleCountsToString(maskOf([polygon(img)], img)),
      };
    dets.push(d);
  }
  for (let i = dets.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [dets[i], dets[j]] = [dets[j]!, dets[i]!];
  }
  return {
    gt: { images, annotations: anns, categories: cats.map((c) => ({ id: c, name: `c${c}` })) },
    dt: dets,
  };
}

const python = findPython();

test(
  'equals pycocotools (bit for bit) on 60 seeded random box and mask cases',
  { skip: python === null ? 'no python with pycocotools here (set DRIVEGATE_PYCOCOTOOLS_PYTHON)' : false },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'drivegate-coco-ref-'));
    try {
      const cases: { gt: string; dt: string; iouType: CocoIouType }[] = [];
      for (let seed = 1; seed <= 60; seed++) {
        const iouType: CocoIouType = seed % 3 === 0 ? 'segm' : 'bbox';
        const c = randomCase(seed, iouType === 'segm');
        const gt = join(dir, `${seed}.gt.json`);
        const dt = join(dir, `${seed}.dt.json`);
        writeFileSync(gt, JSON.stringify(c.gt));
        writeFileSync(dt, JSON.stringify(c.dt));
        cases.push({ gt, dt, iouType });
      }
      writeFileSync(join(dir, 'cases.json'), JSON.stringify(cases));
      const ref = spawnSync(
        python!,
        [join(packageRoot(), 'tools', 'coco_reference.py'), join(dir, 'cases.json')],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 26,
        },
      );
      assert.equal(ref.status, 0, ref.stderr);
      const expected = JSON.parse(ref.stdout) as (
        { stats: number[]; per_class: Record<string, number> } | { error: string }
      )[];
      cases.forEach((c, i) => {
        const e = expected[i]!;
        assert.ok(!('error' in e), `case ${i + 1}: pycocotools failed: ${'error' in e ? e.error : ''}`);
        const ours = evaluateCocoFiles(c);
        assert.deepEqual(ours.stats, e.stats, `case ${i + 1} (${c.iouType}) stats`);
        for (const pc of ours.perClass)
          assert.equal(pc.ap, e.per_class[String(pc.categoryId)], `case ${i + 1} class ${pc.categoryId}`);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
