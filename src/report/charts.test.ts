import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { PNG } from 'pngjs';
import { DrivegateError } from '../core/errors.js';
import {
  CHART_COLORS,
  CHART_FONT_FAMILY,
  VEGA_LITE_SCHEMA,
  confusionMatrixSpec,
  prCurveSpec,
  reliabilitySpec,
  renderSvg,
  sliceComparisonSpec,
  svgToPng,
  timeSeriesSpec,
  writeChart,
  type VegaLiteSpec,
} from './charts.js';

/** An SVG element as fast-xml-parser gives it with preserveOrder. */
interface XmlNode {
  [tag: string]: XmlNode[] | string | Record<string, string> | undefined;
}

interface SvgText {
  text: string;
  attrs: Record<string, string>;
}

interface ParsedSvg {
  root: Record<string, string>;
  texts: SvgText[];
  /** class attribute of every mark group -> number of child items it draws. */
  marks: { cls: string; items: number }[];
}

/** Checks the SVG is well-formed XML and collects its text elements and mark groups. */
function parseSvg(svg: string): ParsedSvg {
  assert.equal(XMLValidator.validate(svg), true, 'SVG is well-formed XML');
  const parser = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '' });
  const doc = parser.parse(svg) as XmlNode[];
  const texts: SvgText[] = [];
  const marks: { cls: string; items: number }[] = [];
  let root: Record<string, string> = {};
  const attrsOf = (n: XmlNode): Record<string, string> => (n[':@'] as Record<string, string>) ?? {};
  const walk = (nodes: XmlNode[]): void => {
    for (const n of nodes) {
      const tag = Object.keys(n).find((k) => k !== ':@');
      if (tag === undefined) continue;
      const children = n[tag];
      if (!Array.isArray(children)) continue;
      const attrs = attrsOf(n);
      if (tag === 'svg') root = attrs;
      if (tag === 'text') {
        const text = children.map((c) => String(c['#text'] ?? '')).join('');
        texts.push({ text, attrs });
      }
      const cls = attrs['class'] ?? '';
      if (tag === 'g' && cls.startsWith('mark-')) {
        marks.push({ cls, items: children.filter((c) => !('#text' in c)).length });
      }
      walk(children);
    }
  };
  walk(doc);
  return { root, texts, marks };
}

const textsOf = (p: ParsedSvg): string[] => p.texts.map((t) => t.text);

function decodePng(buf: Buffer): { width: number; height: number; dark: number; distinct: number } {
  const png = PNG.sync.read(buf);
  let dark = 0;
  const colors = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) {
    const r = png.data[i] ?? 0;
    const g = png.data[i + 1] ?? 0;
    const b = png.data[i + 2] ?? 0;
    if (r + g + b < 200) dark++;
    colors.add((r << 16) | (g << 8) | b);
  }
  return { width: png.width, height: png.height, dark, distinct: colors.size };
}

const PR = [
  {
    class: 'car',
    ap: 0.81,
    points: [0, 0.25, 0.5, 0.75, 1].map((r) => ({ recall: r, precision: 1 - r * r * 0.8 })),
  },
  {
    class: 'pedestrian',
    points: [0, 0.5, 1].map((r) => ({ recall: r, precision: 1 - r * 0.7 })),
  },
];

test('a precision-recall spec renders a line per class with legend and axis titles', async () => {
  const spec = prCurveSpec(PR, { title: 'PR on val' });
  assert.equal(spec.$schema, VEGA_LITE_SCHEMA);
  const svg = parseSvg(await renderSvg(spec));
  const texts = textsOf(svg);
  for (const want of ['PR on val', 'Recall', 'Precision', 'car (AP 0.810)', 'pedestrian']) {
    assert.ok(texts.includes(want), `missing text ${want}; have ${texts.join(' | ')}`);
  }
  const lines = svg.marks.filter((m) => m.cls.startsWith('mark-line role-mark'));
  assert.equal(lines.length, 2, 'one line per class');
  assert.ok(svg.texts.every((t) => t.attrs['font-family'] === CHART_FONT_FAMILY));
});

test('a reliability diagram draws a bar per non-empty bin, the dots and the diagonal', async () => {
  const bins = Array.from({ length: 10 }, (_, i) => ({
    index: i,
    lower: i / 10,
    upper: (i + 1) / 10,
    mean_confidence: i < 2 ? null : i / 10 + 0.05,
    accuracy: i < 2 ? null : (i / 10 + 0.05) * 0.9,
    count: i < 2 ? 0 : 50,
  }));
  const svg = parseSvg(await renderSvg(reliabilitySpec(bins, { ece: 0.0425 })));
  const rect = svg.marks.find((m) => m.cls.includes('mark-rect'));
  assert.equal(rect?.items, 8);
  const dots = svg.marks.find((m) => m.cls.includes('mark-symbol'));
  assert.equal(dots?.items, 8);
  assert.ok(
    svg.marks.some((m) => m.cls.includes('mark-line')),
    'the diagonal',
  );
  const texts = textsOf(svg);
  assert.ok(texts.includes('Reliability (ECE 0.043)'), texts.join(' | '));
  assert.ok(texts.includes('Confidence') && texts.includes('Accuracy'));
});

test('a confusion matrix writes each count in its cell, labels in the given order', async () => {
  const labels = ['car', 'truck', 'background'];
  const counts = [
    [90, 7, 3],
    [11, 40, 1],
    [5, 2, 0],
  ];
  const svg = parseSvg(await renderSvg(confusionMatrixSpec({ labels, matrix: counts })));
  const rect = svg.marks.find((m) => m.cls.includes('mark-rect'));
  assert.equal(rect?.items, 9);
  const texts = textsOf(svg);
  for (const n of counts.flat()) assert.ok(texts.includes(String(n)), `count ${n}`);
  const labelPos = labels.map((l) => texts.indexOf(l));
  assert.ok(labelPos.every((p) => p >= 0));
  // The dark cell (90) is written in white, a light one in black.
  const ninety = svg.texts.find((t) => t.text === '90');
  const seven = svg.texts.find((t) => t.text === '7');
  assert.equal(ninety?.attrs['fill'], 'white');
  assert.equal(seven?.attrs['fill'], 'black');
});

test('rejects a confusion matrix whose rows do not match its labels', () => {
  assert.throws(
    () => confusionMatrixSpec({ labels: ['a', 'b'], matrix: [[1, 2], [3]] }),
    (err: unknown) => err instanceof DrivegateError && err.code === 'BAD_INPUT' && err.location.record === 1,
  );
  assert.throws(() => confusionMatrixSpec({ labels: ['a'], matrix: [] }), /rows/);
});

test('the slice chart shows baseline and candidate bars and colours the deltas by direction', async () => {
  const slices = [
    { slice: 'all', candidate: 0.62, baseline: 0.58 },
    { slice: 'weather=rain', candidate: 0.41, baseline: 0.47 },
    { slice: 'region=eu', candidate: 0.5, baseline: null },
  ];
  const svg = parseSvg(await renderSvg(sliceComparisonSpec(slices, { metric: 'AP' })));
  const bars = svg.marks.find((m) => m.cls.includes('mark-rect'));
  assert.equal(bars?.items, 5, 'two bars per slice with a baseline, one without');
  const up = svg.texts.find((t) => t.text === '+0.040 ▲');
  const down = svg.texts.find((t) => t.text === '−0.060 ▼');
  assert.equal(up?.attrs['fill'], CHART_COLORS.improved);
  assert.equal(down?.attrs['fill'], CHART_COLORS.regressed);
  const texts = textsOf(svg);
  for (const want of ['all', 'weather=rain', 'region=eu', 'baseline', 'candidate', 'AP']) {
    assert.ok(texts.includes(want), `missing ${want}`);
  }

  // Lower is better (e.g. ECE): a drop is an improvement.
  const ece = parseSvg(
    await renderSvg(
      sliceComparisonSpec([{ slice: 'all', candidate: 0.03, baseline: 0.05 }], {
        metric: 'ECE',
        higherIsBetter: false,
      }),
    ),
  );
  assert.equal(ece.texts.find((t) => t.text === '−0.020 ▼')?.attrs['fill'], CHART_COLORS.improved);
});

test('the time chart draws each series with UTC times and the markers', async () => {
  const spec = timeSeriesSpec(
    [
      {
        name: 'p99 latency (ms)',
        points: [0, 1, 2, 3].map((h) => ({ t: `2026-11-27T0${h}:00:00Z`, value: 20 + h })),
      },
      { name: 'errors', points: [0, 1, 2, 3].map((h) => ({ t: Date.UTC(2026, 10, 27, h), value: h })) },
    ],
    { yTitle: 'value', markers: [{ t: new Date('2026-11-27T02:30:00Z'), label: 'rollback' }] },
  );
  const svg = parseSvg(await renderSvg(spec));
  const texts = textsOf(svg);
  for (const want of ['rollback', 'p99 latency (ms)', 'errors', 'Time (UTC)', '01 AM']) {
    assert.ok(texts.includes(want), `missing ${want}; have ${texts.join(' | ')}`);
  }
  assert.equal(svg.marks.filter((m) => m.cls.startsWith('mark-line role-mark')).length, 2);
  assert.throws(() => timeSeriesSpec([{ name: 'x', points: [{ t: 'yesterday', value: 1 }] }]), /valid date/);
});

test('writeChart writes the spec, an SVG of the requested size and a PNG at twice that size', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dg-charts-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const spec = prCurveSpec(PR, { width: 600, height: 300 });
  const files = await writeChart(spec, join(dir, 'pr'));
  assert.deepEqual(readdirSync(dir).sort(), ['pr.png', 'pr.svg', 'pr.vl.json']);
  assert.deepEqual(JSON.parse(readFileSync(files.spec, 'utf8')), spec);
  const svg = parseSvg(readFileSync(files.svg, 'utf8'));
  assert.equal(svg.root['width'], '600');
  assert.equal(svg.root['height'], '300');
  const png = decodePng(readFileSync(files.png));
  assert.equal(png.width, 1200);
  assert.equal(png.height, 600);
  assert.ok(png.dark > 2000, `text and axes are drawn (dark pixels: ${png.dark})`);
  assert.ok(png.distinct > 20, 'not blank');

  const sized = decodePng(svgToPng(readFileSync(files.svg, 'utf8'), { width: 450 }));
  assert.deepEqual([sized.width, sized.height], [450, 225]);
});

test('draws text in PNGs with the DejaVu font files', () => {
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40">' +
    `<text x="10" y="28" font-family="${CHART_FONT_FAMILY}" font-size="20" fill="#000">drivegate</text></svg>`;
  const png = decodePng(svgToPng(svg, { scale: 1 }));
  assert.ok(png.dark > 100, `glyphs drawn (dark pixels: ${png.dark})`);
});

test('says which font file is missing instead of drawing charts without text', () => {
  assert.throws(
    () =>
      svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', {
        fontFiles: ['/nonexistent/DejaVuSans.ttf'],
      }),
    (err: unknown) =>
      err instanceof DrivegateError &&
      err.code === 'UNAVAILABLE' &&
      err.location.file === '/nonexistent/DejaVuSans.ttf',
  );
});

test('rejects a spec that does not compile, as bad input', async () => {
  await assert.rejects(
    renderSvg({ mark: 'no-such-mark' } as unknown as VegaLiteSpec),
    (err: unknown) => err instanceof DrivegateError && err.code === 'BAD_INPUT',
  );
});
