/**
 * Assigning scenes to train/val/test splits. Splits are by scene (a scene's frames never straddle
 * two splits). Optionally, scenes recorded close together in time (`minGapSeconds`, per region) or in
 * the same geo cell (`geoSeparation`) are kept in one split, so that near-duplicates cannot leak
 * from training into evaluation. Such scenes are merged into units; units are dealt out largest
 * first to the split that is furthest below its target share.
 */
import { Rng, deriveSeed } from './random.js';
import type { Region } from './types.js';

/** The split names, in their order. */
export const SPLITS = ['train', 'val', 'test'] as const;
/** A split name. */
export type SplitName = (typeof SPLITS)[number];

/** Target shares of the splits (non-negative, sum > 0; normalised). */
export type SplitRatios = Record<SplitName, number>;

/** The default ratios 0.7 / 0.15 / 0.15. */
export const DEFAULT_SPLIT_RATIOS: SplitRatios = { train: 0.7, val: 0.15, test: 0.15 };

/** What the splitter needs to know about a scene. */
export interface SplitScene {
  region: Region;
  /** Unix seconds. */
  start: number;
  end: number;
  geoCell: string;
}

/** Split separation rules. */
export interface SplitRules {
  /** Scenes of one region closer than this many seconds (end to start) share a split; 0 = off. */
  minGapSeconds: number;
  /** Scenes in the same geo cell share a split. */
  geoSeparation: boolean;
}

/**
 * Assigns each scene a split (result[i] is scene i's split). Deterministic for a given seed.
 * Splits with ratio 0 get nothing; with separation rules, achieved shares can differ from the
 * targets (a large merged unit cannot be divided).
 */
export function assignSplits(
  scenes: readonly SplitScene[],
  ratios: SplitRatios,
  rules: SplitRules,
  seed: number,
): SplitName[] {
  const n = scenes.length;
  const parent = Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      const p = parent[i] as number;
      parent[i] = parent[p] as number;
      i = p;
    }
    return i;
  };
  const union = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  if (rules.geoSeparation) {
    const byCell = new Map<string, number>();
    scenes.forEach((s, i) => {
      const first = byCell.get(s.geoCell);
      if (first === undefined) byCell.set(s.geoCell, i);
      else union(first, i);
    });
  }
  if (rules.minGapSeconds > 0) {
    const byRegion = new Map<Region, number[]>();
    scenes.forEach((s, i) => {
      const list = byRegion.get(s.region);
      if (list === undefined) byRegion.set(s.region, [i]);
      else list.push(i);
    });
    for (const list of byRegion.values()) {
      const sorted = [...list].sort(
        (a, b) => (scenes[a] as SplitScene).start - (scenes[b] as SplitScene).start || a - b,
      );
      let latestEnd = -Infinity;
      let prev = -1;
      for (const i of sorted) {
        const s = scenes[i] as SplitScene;
        if (prev >= 0 && s.start - latestEnd < rules.minGapSeconds) union(prev, i);
        latestEnd = Math.max(latestEnd, s.end);
        prev = i;
      }
    }
  }
  const units = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    const unit = units.get(r);
    if (unit === undefined) units.set(r, [i]);
    else unit.push(i);
  }
  const rng = new Rng(deriveSeed(seed, 'splits'));
  const order = rng.shuffle([...units.values()]);
  order.sort((a, b) => b.length - a.length); // stable: shuffled order among equal sizes
  const total = SPLITS.reduce((acc, s) => acc + ratios[s], 0);
  // Every split with a positive share gets at least one unit when there are enough units.
  const positive = SPLITS.filter((s) => ratios[s] > 0).length;
  const target = SPLITS.map((s) => {
    const t = (ratios[s] / total) * n;
    return ratios[s] > 0 && units.size >= positive ? Math.max(t, 1) : t;
  });
  const count = SPLITS.map(() => 0);
  const out: SplitName[] = new Array<SplitName>(n).fill('train');
  for (const unit of order) {
    let best = -1;
    let bestDeficit = -Infinity;
    SPLITS.forEach((_, k) => {
      if ((target[k] ?? 0) <= 0) return;
      const deficit = (target[k] ?? 0) - (count[k] ?? 0);
      if (deficit > bestDeficit + 1e-9) {
        bestDeficit = deficit;
        best = k;
      }
    });
    const split = SPLITS[best] as SplitName;
    for (const i of unit) out[i] = split;
    count[best] = (count[best] ?? 0) + unit.length;
  }
  return out;
}

/** A violation of split separation found by checkSplitSeparation. */
export interface SplitViolation {
  rule: 'scene' | 'geo' | 'time';
  message: string;
}

/**
 * Checks an assignment against the rules (the inverse of assignSplits, for tests and audits):
 * geo cells in two splits (when geoSeparation), and scenes of one region in different splits closer
 * than minGapSeconds.
 */
export function checkSplitSeparation(
  scenes: readonly SplitScene[],
  splits: readonly SplitName[],
  rules: SplitRules,
): SplitViolation[] {
  const out: SplitViolation[] = [];
  if (rules.geoSeparation) {
    const cellSplit = new Map<string, SplitName>();
    scenes.forEach((s, i) => {
      const split = splits[i] as SplitName;
      const seen = cellSplit.get(s.geoCell);
      if (seen !== undefined && seen !== split) {
        out.push({ rule: 'geo', message: `geo cell ${s.geoCell} is in ${seen} and ${split}` });
      }
      cellSplit.set(s.geoCell, seen ?? split);
    });
  }
  if (rules.minGapSeconds > 0) {
    for (let i = 0; i < scenes.length; i++) {
      for (let j = i + 1; j < scenes.length; j++) {
        const a = scenes[i] as SplitScene;
        const b = scenes[j] as SplitScene;
        if (a.region !== b.region || splits[i] === splits[j]) continue;
        const gap = Math.max(b.start - a.end, a.start - b.end);
        if (gap < rules.minGapSeconds) {
          out.push({
            rule: 'time',
            message: `scenes ${i} and ${j} (${a.region}) are ${gap.toFixed(1)} s apart across splits`,
          });
        }
      }
    }
  }
  return out;
}
