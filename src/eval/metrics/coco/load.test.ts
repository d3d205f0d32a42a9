/** Loading COCO files: loadRes behaviour, and BAD_INPUT errors that name the file, record and field. */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DrivegateError } from '../../../core/errors.js';
import { loadDetections, loadGroundTruth, type CocoIouType } from './load.js';

const GT = {
  images: [
    { id: 1, height: 10, width: 10 },
    { id: 2, height: 10, width: 10 },
  ],
  annotations: [
    {
      id: 1,
      image_id: 1,
      category_id: 3,
      bbox: [0, 0, 4, 4],
      area: 16,
      iscrowd: 0,
      segmentation: [[0, 0, 0, 4, 4, 4, 4, 0]],
    },
  ],
  categories: [{ id: 3, name: 'car' }],
};

const src = (v: unknown, name: string): { bytes: Uint8Array; name: string } => ({
  bytes: Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)),
  name,
});

function gt(iouType: CocoIouType = 'bbox'): ReturnType<typeof loadGroundTruth> {
  return loadGroundTruth(src(GT, 'gt.json'), { iouType });
}

/** Asserts a BAD_INPUT error located at file/record/field. */
function badInput(
  fn: () => unknown,
  where: { file: string; record?: number | string; field?: string },
  text?: RegExp,
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DrivegateError, `not a DrivegateError: ${String(e)}`);
    assert.equal(e.code, 'BAD_INPUT');
    assert.equal(e.exitCode, 2);
    assert.equal(e.location.file, where.file);
    if (where.record !== undefined) assert.equal(e.location.record, where.record);
    if (where.field !== undefined) assert.equal(e.location.field, where.field);
    if (text) assert.match(e.message, text);
    return true;
  });
}

const det = (over: Record<string, unknown>): Record<string, unknown> => ({
  image_id: 1,
  category_id: 3,
  bbox: [0, 0, 4, 4],
  score: 0.5,
  ...over,
});

test('results get loadRes semantics: area w*h, file order kept, image and category indexes resolved', () => {
  const g = gt();
  const d = loadDetections(
    src([det({}), det({ image_id: 2, bbox: [1, 2, 3, 5], score: 0.25 })], 'dt.json'),
    g,
  );
  assert.equal(d.count, 2);
  assert.deepEqual(Array.from(d.area), [16, 15]);
  assert.deepEqual(Array.from(d.image), [0, 1]);
  assert.deepEqual(Array.from(d.score), [0.5, 0.25]);
});

test('segm results: area is the box area when the first result has a bbox, else the mask area', () => {
  const g = gt('segm');
  const rle = { size: [10, 10], counts: [0, 5, 95] }; // 5 pixels
  const withBox = loadDetections(src([det({ segmentation: rle, bbox: [0, 0, 2, 2] })], 'dt.json'), g);
  assert.equal(withBox.area[0], 4);
  const noBox = loadDetections(
    src([{ image_id: 1, category_id: 3, score: 1, segmentation: rle }], 'dt.json'),
    g,
  );
  assert.equal(noBox.area[0], 5);
  assert.equal(g.rle!.h[0], 10);
  assert.equal(rleAreaOf(g.rle!, 0), 16);
});

function rleAreaOf(t: NonNullable<ReturnType<typeof loadGroundTruth>['rle']>, i: number): number {
  let a = 0;
  for (let j = t.start[i]! + 1; j < t.end[i]!; j += 2) a += t.counts[j]!;
  return a;
}

test('rejects malformed JSON, naming the file and line', () => {
  badInput(
    () => loadDetections(src('[\n{"image_id": 1,\n "score": ]', 'broken.json'), gt()),
    { file: 'broken.json' },
    /malformed JSON/,
  );
  badInput(
    () => loadDetections(src('[{"image_id": 1', 'cut.json'), gt()),
    { file: 'cut.json' },
    /end of file/,
  );
  badInput(() => loadGroundTruth(src('{"images": [}', 'g.json'), { iouType: 'bbox' }), { file: 'g.json' });
  try {
    loadDetections(src('[\n{"image_id": 1,\n "score": ]', 'broken.json'), gt());
  } catch (e) {
    assert.equal((e as DrivegateError).location.line, 3);
  }
});

test('rejects detections with a category or image the ground truth does not have', () => {
  badInput(() => loadDetections(src([det({}), det({ category_id: 9 })], 'dt.json'), gt()), {
    file: 'dt.json',
    record: 1,
    field: 'category_id',
  });
  badInput(() => loadDetections(src([det({ image_id: 77 })], 'dt.json'), gt()), {
    file: 'dt.json',
    record: 0,
    field: 'image_id',
  });
});

test('rejects NaN (as Python writes it), infinite, negative and missing scores', () => {
  badInput(
    () =>
      loadDetections(src('[{"image_id":1,"category_id":3,"bbox":[0,0,1,1],"score":NaN}]', 'dt.json'), gt()),
    {
      file: 'dt.json',
      record: 0,
      field: 'score',
    },
  );
  badInput(
    () =>
      loadDetections(
        src('[{"image_id":1,"category_id":3,"bbox":[0,0,1,1],"score":-Infinity}]', 'dt.json'),
        gt(),
      ),
    {
      file: 'dt.json',
      field: 'score',
    },
  );
  badInput(() => loadDetections(src([det({ score: -0.1 })], 'dt.json'), gt()), {
    file: 'dt.json',
    field: 'score',
  });
  badInput(() => loadDetections(src([det({}), det({ score: undefined })], 'dt.json'), gt()), {
    file: 'dt.json',
    record: 1,
    field: 'score',
  });
  const zero = loadDetections(
    src('[{"image_id":1,"category_id":3,"bbox":[0,0,1,1],"score":-0}]', 'dt.json'),
    gt(),
  );
  assert.ok(Object.is(zero.score[0], 0));
});

test('rejects boxes with a negative width or height, or not four numbers', () => {
  badInput(() => loadDetections(src([det({ bbox: [0, 0, -1, 2] })], 'dt.json'), gt()), {
    file: 'dt.json',
    field: 'bbox',
  });
  badInput(() => loadDetections(src([det({ bbox: [0, 0, 1] })], 'dt.json'), gt()), {
    file: 'dt.json',
    field: 'bbox',
  });
  badInput(() => loadDetections(src([det({ bbox: undefined })], 'dt.json'), gt()), {
    file: 'dt.json',
    field: 'bbox',
  });
  const badGt = { ...GT, annotations: [{ ...GT.annotations[0], bbox: [0, 0, 4, -4] }] };
  badInput(() => loadGroundTruth(src(badGt, 'g.json'), { iouType: 'bbox' }), {
    file: 'g.json',
    record: 'annotations[0]',
    field: 'bbox',
  });
});

test('in segm evaluation, a result with only a box is an error (a box is not a mask)', () => {
  badInput(
    () => loadDetections(src([det({})], 'dt.json'), gt('segm')),
    { file: 'dt.json', record: 0, field: 'segmentation' },
    /only a bbox/,
  );
});

test('rejects ground truth missing its lists or required annotation fields', () => {
  badInput(() => loadGroundTruth(src({ images: [], annotations: [] }, 'g.json'), { iouType: 'bbox' }), {
    file: 'g.json',
    field: 'categories',
  });
  const noArea = { ...GT, annotations: [{ id: 1, image_id: 1, category_id: 3, bbox: [0, 0, 1, 1] }] };
  badInput(() => loadGroundTruth(src(noArea, 'g.json'), { iouType: 'bbox' }), {
    file: 'g.json',
    record: 'annotations[0]',
    field: 'area',
  });
  const noSize = { ...GT, images: [{ id: 1 }, { id: 2 }] };
  badInput(() => loadGroundTruth(src(noSize, 'g.json'), { iouType: 'segm' }), {
    file: 'g.json',
    record: 'annotations[0]',
    field: 'segmentation',
  });
});

test('reads .gz files and reports a missing file as BAD_INPUT', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drivegate-coco-load-'));
  try {
    const p = join(dir, 'gt.json.gz');
    writeFileSync(p, gzipSync(Buffer.from(JSON.stringify(GT))));
    assert.equal(loadGroundTruth(p, { iouType: 'bbox' }).count, 1);
    badInput(
      () => loadGroundTruth(join(dir, 'none.json'), { iouType: 'bbox' }),
      { file: join(dir, 'none.json') },
      /not found/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('image and category ids sort like Python (numbers numerically; strings by code point)', () => {
  const g = loadGroundTruth(
    src(
      {
        images: [{ id: 10 }, { id: 9 }, { id: 100 }],
        annotations: [],
        categories: [{ id: 'b' }, { id: 'B' }, { id: 'a' }],
      },
      'g.json',
    ),
    { iouType: 'bbox' },
  );
  assert.deepEqual(g.imageIds, [9, 10, 100]);
  assert.deepEqual(g.categoryIds, ['B', 'a', 'b']);
});
