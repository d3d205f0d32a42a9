import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DrivegateError } from '../core/errors.js';
import {
  SUMMARY_SECTIONS,
  bulletList,
  code,
  deltaDirection,
  escapeCell,
  escapeMarkdown,
  fmtDelta,
  fmtFixed,
  fmtInt,
  fmtPercent,
  heading,
  summaryMarkdown,
  table,
} from './markdown.js';

test('pads table columns to the widest cell and right-aligns number columns', () => {
  const md = table({
    headers: ['slice', 'AP', 'n'],
    rows: [
      ['all', '0.625', 1200],
      ['weather=rain', '0.300', 87],
    ],
  });
  assert.equal(
    md,
    [
      '| slice        | AP    |    n |',
      '| ------------ | ----- | ---: |',
      '| all          | 0.625 | 1200 |',
      '| weather=rain | 0.300 |   87 |',
    ].join('\n'),
  );
});

test('escapes pipes and line breaks in cells and shows missing values as a dash', () => {
  assert.equal(escapeCell('a|b'), 'a\\|b');
  assert.equal(escapeCell('line 1\nline 2'), 'line 1<br>line 2');
  assert.equal(escapeCell('x\\|y'), 'x\\\\\\|y');
  assert.equal(escapeCell(null), '—');
  const md = table({
    headers: ['class', 'note'],
    rows: [['car|truck', null]],
    align: ['center', 'right'],
  });
  assert.equal(md, ['|   class    | note |', '| :--------: | ---: |', '| car\\|truck |    — |'].join('\n'));
  // Every line has the same number of unescaped pipes: the table has two columns throughout.
  for (const line of md.split('\n')) assert.equal(line.split(/(?<!\\)\|/).length, 4);
});

test('rejects a table row with the wrong number of cells', () => {
  assert.throws(
    () => table({ headers: ['a', 'b'], rows: [['1', '2'], ['3']] }),
    (err: unknown) => err instanceof DrivegateError && err.location.record === 1,
  );
});

test('builds headings, nested and numbered lists, code spans and literal text', () => {
  assert.equal(heading(2, 'What\nimproved'), '## What improved');
  assert.equal(
    bulletList(['one', { text: 'two', children: ['two.a', 'two.b'] }, 'three\nmore']),
    ['- one', '- two', '  - two.a', '  - two.b', '- three', '  more'].join('\n'),
  );
  assert.equal(bulletList(['a', 'b'], { ordered: true }), '1. a\n2. b');
  assert.equal(code('AP_small'), '`AP_small`');
  assert.equal(code('a`b'), '``a`b``');
  assert.equal(escapeMarkdown('*not bold* [x]'), '\\*not bold\\* \\[x\\]');
});

test('formats numbers with fixed decimals, percentages and thousands separators', () => {
  assert.equal(fmtFixed(0.12345), '0.123');
  assert.equal(fmtFixed(2, 1), '2.0');
  assert.equal(fmtFixed(-0.0001), '0.000');
  assert.equal(fmtFixed(null), '—');
  assert.equal(fmtFixed(Number.NaN), 'NaN');
  assert.equal(fmtPercent(0.1234), '12.3%');
  assert.equal(fmtInt(1234567), '1,234,567');
  assert.equal(fmtInt(-1234), '-1,234');
  assert.equal(fmtInt(12345678901234567890n), '12,345,678,901,234,567,890');
});

test('formats signed deltas with arrows or signs, zero as ±', () => {
  assert.equal(fmtDelta(0.04), '+0.040 ▲');
  assert.equal(fmtDelta(-0.06), '-0.060 ▼');
  assert.equal(fmtDelta(0.00004), '±0.000');
  assert.equal(fmtDelta(-0.06, { style: 'sign', digits: 2 }), '-0.06');
  assert.equal(fmtDelta(0.015, { percent: true }), '+1.5 pp ▲');
  assert.equal(fmtDelta(undefined), '—');
  assert.equal(deltaDirection(0.02), 'improved');
  assert.equal(deltaDirection(0.02, { higherIsBetter: false }), 'regressed');
  assert.equal(deltaDirection(0.001, { tolerance: 0.005 }), 'unchanged');
  assert.equal(deltaDirection(null), 'unchanged');
});

test('renders an evaluation summary from data, with empty sections marked', () => {
  const md = summaryMarkdown({
    title: 'Evaluation summary: det-v7 vs det-v6 (production)',
    verdict: { passed: false, text: 'AP on weather=rain regressed by 0.060 (limit 0.020)' },
    facts: [
      ['Candidate', code('det-v7')],
      ['Dataset', 'world-val (1,200 images)'],
      ['Run', null],
    ],
    sections: [
      {
        title: SUMMARY_SECTIONS.improved,
        bullets: [`AP on ${code('time=night')}: 0.390 (${fmtDelta(0.04)})`],
      },
      {
        title: SUMMARY_SECTIONS.regressed,
        table: {
          headers: ['slice', 'metric', 'candidate', 'baseline', 'delta'],
          rows: [['weather=rain', 'AP', fmtFixed(0.41), fmtFixed(0.47), fmtDelta(-0.06)]],
          align: ['left', 'left', 'right', 'right', 'right'],
        },
        images: [{ alt: 'AP by slice', path: 'plots/slices (AP).svg' }],
      },
      { title: 'Robustness', bullets: [] },
      { title: SUMMARY_SECTIONS.next, bullets: ['Add rain data', 'Re-run'], text: 'Before promotion:' },
    ],
    footer: 'drivegate 0.1.0',
  });
  assert.equal(
    md,
    [
      '# Evaluation summary: det-v7 vs det-v6 (production)',
      '',
      '🔴 **FAIL**: AP on weather=rain regressed by 0.060 (limit 0.020)',
      '',
      '- **Candidate:** `det-v7`',
      '- **Dataset:** world-val (1,200 images)',
      '- **Run:** —',
      '',
      '## What improved',
      '',
      '- AP on `time=night`: 0.390 (+0.040 ▲)',
      '',
      '## What regressed',
      '',
      '| slice        | metric | candidate | baseline |    delta |',
      '| ------------ | ------ | --------: | -------: | -------: |',
      '| weather=rain | AP     |     0.410 |    0.470 | -0.060 ▼ |',
      '',
      '![AP by slice](plots/slices%20%28AP%29.svg)',
      '',
      '## Robustness',
      '',
      '_None._',
      '',
      '## Next actions',
      '',
      'Before promotion:',
      '',
      '- Add rain data',
      '- Re-run',
      '',
      '<sub>drivegate 0.1.0</sub>',
      '',
    ].join('\n'),
  );
});
