/** Test helpers: manifest records of a tiny reference-world-like dataset. */
import type { ManifestRecord } from './manifest.js';

/** A valid manifest record; `over` replaces fields. */
export function record(
  i: number,
  over: Record<string, unknown> = {},
): ManifestRecord & Record<string, unknown> {
  return {
    image: `images/scene-${String(Math.floor(i / 10)).padStart(5, '0')}/${String(i % 10).padStart(6, '0')}.png`,
    image_id: i + 1,
    scene_id: `scene-${String(Math.floor(i / 10)).padStart(5, '0')}`,
    frame: i % 10,
    timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
    split: 'train',
    weather: 'clear',
    time_of_day: 'day',
    road_type: 'urban',
    region: 'eu',
    geo_cell: `eu:${Math.floor(i / 10)}:0`,
    sha256: 'a'.repeat(64),
    ...over,
  };
}

/** Manifest text from records. */
export function manifestText(records: ReadonlyArray<Record<string, unknown>>): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + '\n';
}
