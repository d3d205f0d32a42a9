/**
 * When and where each scene of a dataset was "recorded". Each region has its own fleet timeline:
 * its scenes (in scene order) follow one another like drives of one test car — mostly short pauses
 * between scenes of one drive, sometimes a long break — and each scene starts at a local hour that
 * matches its time of day. Places are cells of a 32 x 32 grid per region, visited as a random walk
 * (one drive stays in or near a cell), written `region:gx:gy`, e.g. `eu:12:7`.
 *
 * Neighbouring scenes of one region are therefore close in time and place, which is what makes
 * temporal (`--min-gap-seconds`) and geographic (`--geo-separation`) split separation meaningful.
 */
import { Rng, deriveSeed } from './random.js';
import type { Region, TimeOfDay } from './types.js';
import type { SceneAttributes } from './weights.js';

/** Grid size of the geo cells per region. */
export const GEO_GRID = 32;

/** The UTC offset of each region's local time, hours. */
export const REGION_UTC_OFFSET: Record<Region, number> = { eu: 1, us: -5, asia: 9 };

/** The start of every region's timeline: 2026-03-02 00:00 local time. */
export const TIMELINE_EPOCH_LOCAL = Date.UTC(2026, 2, 2) / 1000;

/** Local hour windows [from, to) of each time of day (night wraps past midnight: 21:00-04:00). */
export const TIME_OF_DAY_HOURS: Record<TimeOfDay, [number, number]> = {
  day: [8, 16],
  dusk: [17.5, 19],
  night: [21, 28],
};

/** Where and when a scene was recorded. */
export interface ScenePlace {
  /** Start time, Unix seconds (UTC). */
  start: number;
  /** End time (start + duration), Unix seconds. */
  end: number;
  /** Geo cell, `region:gx:gy`. */
  geoCell: string;
}

function inWindow(localSeconds: number, window: [number, number]): boolean {
  const hour = (((localSeconds / 3600) % 24) + 24) % 24;
  const [from, to] = window;
  return (hour >= from && hour < to) || (hour + 24 >= from && hour + 24 < to);
}

/** The next local time >= t that lies inside the window. */
function nextWindowStart(localSeconds: number, window: [number, number]): number {
  if (inWindow(localSeconds, window)) return localSeconds;
  const dayStart = Math.floor(localSeconds / 86400) * 86400;
  for (const day of [0, 1, 2]) {
    const candidate = dayStart + day * 86400 + window[0] * 3600;
    if (candidate >= localSeconds) return candidate;
  }
  return dayStart + 3 * 86400 + window[0] * 3600;
}

/**
 * Plans the recording time and place of every scene, in scene order, from the dataset's root seed.
 * `duration` is one scene's length in seconds. A prefix of scenes gets the same plan whatever the
 * total count.
 */
export function planTimeline(
  rootSeed: number,
  scenes: readonly SceneAttributes[],
  duration: number,
): ScenePlace[] {
  const clocks = new Map<Region, { local: number; gx: number; gy: number; rng: Rng; started: boolean }>();
  return scenes.map((attrs) => {
    let clock = clocks.get(attrs.region);
    if (clock === undefined) {
      const rng = new Rng(deriveSeed(rootSeed, `timeline:${attrs.region}`));
      clock = {
        local: TIMELINE_EPOCH_LOCAL + rng.range(0, 6 * 3600),
        gx: rng.int(0, GEO_GRID - 1),
        gy: rng.int(0, GEO_GRID - 1),
        rng,
        started: false,
      };
      clocks.set(attrs.region, clock);
    }
    const rng = clock.rng;
    const longBreak = clock.started && rng.chance(0.3);
    if (clock.started) clock.local += longBreak ? rng.range(600, 7200) : rng.range(20, 300);
    const window = TIME_OF_DAY_HOURS[attrs.timeOfDay];
    if (!inWindow(clock.local, window)) {
      clock.local = nextWindowStart(clock.local, window) + rng.range(0, 1200);
    }
    if (clock.started) {
      // A drive moves on slowly; after a long break the car may be anywhere.
      if (longBreak && rng.chance(0.5)) {
        clock.gx = rng.int(0, GEO_GRID - 1);
        clock.gy = rng.int(0, GEO_GRID - 1);
      } else if (rng.chance(0.3)) {
        clock.gx = clampCell(clock.gx + rng.int(-1, 1));
        clock.gy = clampCell(clock.gy + rng.int(-1, 1));
      }
    }
    clock.started = true;
    const start = Math.round((clock.local - REGION_UTC_OFFSET[attrs.region] * 3600) * 1000) / 1000;
    clock.local += duration;
    return {
      start,
      end: Math.round((start + duration) * 1000) / 1000,
      geoCell: `${attrs.region}:${clock.gx}:${clock.gy}`,
    };
  });
}

function clampCell(v: number): number {
  return Math.max(0, Math.min(GEO_GRID - 1, v));
}

/** ISO 8601 UTC text of a Unix time in seconds, with milliseconds (e.g. 2026-03-02T08:15:30.500Z). */
export function isoTime(unixSeconds: number): string {
  return new Date(Math.round(unixSeconds * 1000)).toISOString();
}
