/**
 * Benchmark of the split-leakage guards and manifest validation.
 *
 * Builds 200,000 manifest records over three splits and three regions, then times
 * (1) the temporal leakage check (sort + nearest other-split neighbour, O(n log n)) against the
 * obvious pairwise scan of every cross-split pair within a region (O(n^2), timed on a 10,000-record
 * subset and scaled by (n / 10,000)^2), and (2) schema + expectation validation in records/s.
 * Run: node --import tsx bench/eval-leakage.ts [records]
 */
import { performance } from 'node:perf_hooks';
import { evaluateSuite, parseExpectationSuite } from '../src/eval/integrity/expectations.js';
import { checkLeakage } from '../src/eval/integrity/leakage.js';
import type { LocatedRecord } from '../src/eval/integrity/leakage.js';
import { parseManifestLine, timestampSeconds } from '../src/eval/integrity/manifest.js';
import type { ManifestRow } from '../src/eval/integrity/manifest.js';
import { parseYamlSource } from '../src/eval/yaml.js';

const N = Number(process.argv[2] ?? 200_000);
const SPLITS = ['train', 'val', 'test'];
const REGIONS = ['eu', 'us', 'asia'];

function lines(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const scene = Math.floor(i / 10);
    out.push(
      JSON.stringify({
        image: `images/scene-${scene}/${i % 10}.png`,
        image_id: i + 1,
        scene_id: `scene-${scene}`,
        frame: i % 10,
        timestamp: 1_700_000_000 + scene * 3600 + (i % 10) * 0.5,
        split: SPLITS[scene % 7 < 5 ? 0 : scene % 7 === 5 ? 1 : 2],
        weather: 'clear',
        time_of_day: 'day',
        road_type: 'urban',
        region: REGIONS[scene % 3],
        geo_cell: `${REGIONS[scene % 3]}:${scene}:0`,
        sha256: 'a'.repeat(64),
      }),
    );
  }
  return out;
}

function naiveMinGap(recs: LocatedRecord[]): number {
  let min = Infinity;
  for (let i = 0; i < recs.length; i++) {
    const a = recs[i]!.record;
    const ta = timestampSeconds(a.timestamp);
    for (let j = i + 1; j < recs.length; j++) {
      const b = recs[j]!.record;
      if (a.split === b.split || a.region !== b.region) continue;
      min = Math.min(min, Math.abs(ta - timestampSeconds(b.timestamp)));
    }
  }
  return min;
}

const text = lines(N);
let t = performance.now();
const rows: ManifestRow[] = text.map((l, i) => parseManifestLine(l, 'bench.manifest', i + 1)!);
const parseS = (performance.now() - t) / 1000;
const recs: LocatedRecord[] = rows.map((r) => ({ file: r.file, line: r.line, record: r.record! }));

const suite = parseExpectationSuite(
  parseYamlSource(
    [
      'expectations:',
      '  - {type: expect_column_values_to_be_unique, column: image_id}',
      '  - {type: expect_column_values_to_be_in_set, column: weather, value_set: [clear, rain, fog, snow]}',
      "  - {type: expect_column_values_to_match_regex, column: scene_id, regex: '^scene-\\d+$'}",
      '  - {type: expect_column_values_to_be_between, column: frame, min_value: 0}',
    ].join('\n'),
    'bench.yaml',
  ),
);
t = performance.now();
evaluateSuite(suite, rows);
const expS = (performance.now() - t) / 1000;

t = performance.now();
const report = checkLeakage(recs, {
  temporal: { min_gap_seconds: 60, group_by: 'region' },
  geographic: { column: 'geo_cell' },
});
const leakS = (performance.now() - t) / 1000;

const SUB = Math.min(10_000, N);
t = performance.now();
const naive = naiveMinGap(recs.slice(0, SUB));
const naiveSubS = (performance.now() - t) / 1000;
const naiveS = naiveSubS * (N / SUB) ** 2;
const oursSub = checkLeakage(recs.slice(0, SUB), { temporal: { min_gap_seconds: 60, group_by: 'region' } });
const oursMin = Math.min(
  ...Object.values(oursSub.checks[1]!.min_gap_by_group ?? {}).filter((v): v is number => v !== null),
);
if (oursMin !== naive) throw new Error(`min gap differs: ${oursMin} vs naive ${naive}`);

console.log(`records: ${N}`);
console.log(`schema parse+validate: ${(N / parseS).toFixed(0)} records/s (${parseS.toFixed(2)} s)`);
console.log(`4 expectations: ${(N / expS).toFixed(0)} records/s (${expS.toFixed(2)} s)`);
console.log(`leakage (scene + temporal + geographic): ${leakS.toFixed(3)} s; passed=${report.passed}`);
console.log(
  `temporal check vs pairwise scan: pairwise ${naiveSubS.toFixed(2)} s on ${SUB} records, ~${naiveS.toFixed(0)} s at ${N} (scaled); ` +
    `ratio ~${(naiveS / leakS).toFixed(0)}x`,
);
