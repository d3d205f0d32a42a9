/**
 * How things look and how big they are, per region: road surfaces, lane-marking colours and dash
 * patterns, ground colours, vehicle mixes and paint, clothing, animals. Pure tables and small
 * drawing helpers used by the scene generator.
 */
import type { Rng, Weighted } from './random.js';
import type { ActorClass, Region, RoadType, Rgb } from './types.js';

/** Nominal box size of a subtype, metres (length along heading, width, height). */
export interface NominalSize {
  length: number;
  width: number;
  height: number;
}

/** Nominal sizes of every subtype the generator uses. */
export const SUBTYPE_SIZES: Record<string, NominalSize> = {
  // cars
  hatchback: { length: 4.0, width: 1.75, height: 1.48 },
  sedan: { length: 4.6, width: 1.8, height: 1.45 },
  wagon: { length: 4.8, width: 1.82, height: 1.5 },
  suv: { length: 4.8, width: 1.95, height: 1.75 },
  minivan: { length: 4.9, width: 1.9, height: 1.8 },
  van: { length: 5.3, width: 2.0, height: 2.2 },
  kei: { length: 3.4, width: 1.48, height: 1.65 },
  taxi: { length: 4.6, width: 1.8, height: 1.5 },
  // trucks
  pickup: { length: 5.6, width: 2.0, height: 1.9 },
  box_truck: { length: 7.5, width: 2.4, height: 3.3 },
  flatbed: { length: 8.5, width: 2.45, height: 2.8 },
  semi: { length: 16.0, width: 2.55, height: 3.9 },
  kei_truck: { length: 3.4, width: 1.48, height: 1.8 },
  // people
  adult: { length: 0.45, width: 0.6, height: 1.75 },
  child: { length: 0.35, width: 0.45, height: 1.2 },
  bicycle: { length: 1.8, width: 0.6, height: 1.75 },
  scooter: { length: 1.9, width: 0.7, height: 1.6 },
  // unknown
  debris_box: { length: 0.7, width: 0.6, height: 0.45 },
  debris_tire: { length: 0.75, width: 0.3, height: 0.75 },
  deer: { length: 1.6, width: 0.45, height: 1.4 },
  boar: { length: 1.3, width: 0.5, height: 0.9 },
  dog: { length: 0.9, width: 0.35, height: 0.65 },
  cow: { length: 2.3, width: 0.8, height: 1.5 },
};

/** The road's look in a region for a road type. */
export interface RoadStyle {
  surface: Rgb;
  ground: Rgb;
  markingColor: Rgb;
  centerColor: Rgb;
  dashLength: number;
  gapLength: number;
  markingWidth: number;
}

const WHITE: Rgb = [235, 235, 230];
const US_YELLOW: Rgb = [236, 186, 40];
const ASIA_YELLOW: Rgb = [245, 170, 35];

/** The road style of a region and road type (before per-scene jitter). */
export function roadStyle(region: Region, roadType: RoadType): RoadStyle {
  const grass: Rgb = [72, 108, 52];
  switch (region) {
    case 'eu':
      return {
        surface: roadType === 'highway' ? [78, 78, 82] : [70, 70, 74],
        ground: roadType === 'urban' ? [128, 126, 120] : grass,
        markingColor: WHITE,
        centerColor: WHITE,
        dashLength: roadType === 'highway' ? 6 : 3,
        gapLength: roadType === 'highway' ? 12 : 6,
        markingWidth: roadType === 'highway' ? 0.3 : 0.12,
      };
    case 'us':
      return {
        // concrete highways are light; asphalt elsewhere
        surface: roadType === 'highway' ? [150, 148, 140] : [86, 86, 86],
        ground:
          roadType === 'urban' ? [140, 136, 128] : roadType === 'rural' ? [138, 124, 88] : [96, 116, 64],
        markingColor: WHITE,
        centerColor: US_YELLOW,
        dashLength: 3.05,
        gapLength: 9.15,
        markingWidth: 0.15,
      };
    case 'asia':
      return {
        surface: [96, 92, 90],
        ground: roadType === 'urban' ? [150, 146, 140] : [64, 118, 60],
        markingColor: WHITE,
        centerColor: roadType === 'highway' ? WHITE : ASIA_YELLOW,
        dashLength: roadType === 'highway' ? 8 : 5,
        gapLength: roadType === 'highway' ? 12 : 5,
        markingWidth: 0.15,
      };
  }
}

/** Subtype mixes per region and class. */
const SUBTYPE_MIX: Record<Region, Record<ActorClass, Array<Weighted<string>>>> = {
  eu: {
    car: w({ hatchback: 0.35, sedan: 0.25, wagon: 0.15, suv: 0.15, van: 0.07, taxi: 0.03 }),
    truck: w({ box_truck: 0.4, semi: 0.4, flatbed: 0.15, pickup: 0.05 }),
    pedestrian: w({ adult: 0.85, child: 0.15 }),
    cyclist: w({ bicycle: 0.9, scooter: 0.1 }),
    unknown: w({ debris_box: 0.3, debris_tire: 0.25, deer: 0.25, boar: 0.2 }),
  },
  us: {
    car: w({ sedan: 0.3, suv: 0.35, minivan: 0.15, hatchback: 0.05, van: 0.07, taxi: 0.08 }),
    truck: w({ pickup: 0.45, semi: 0.35, box_truck: 0.2 }),
    pedestrian: w({ adult: 0.85, child: 0.15 }),
    cyclist: w({ bicycle: 0.95, scooter: 0.05 }),
    unknown: w({ debris_box: 0.25, debris_tire: 0.3, deer: 0.3, dog: 0.15 }),
  },
  asia: {
    car: w({ kei: 0.25, hatchback: 0.2, sedan: 0.22, minivan: 0.18, suv: 0.08, taxi: 0.07 }),
    truck: w({ kei_truck: 0.3, box_truck: 0.45, semi: 0.25 }),
    pedestrian: w({ adult: 0.82, child: 0.18 }),
    cyclist: w({ bicycle: 0.5, scooter: 0.5 }),
    unknown: w({ debris_box: 0.3, debris_tire: 0.2, dog: 0.3, cow: 0.2 }),
  },
};

function w(table: Record<string, number>): Array<Weighted<string>> {
  return Object.entries(table).map(([value, weight]) => ({ value, weight }));
}

/** Draws a subtype for a class in a region. */
export function drawSubtype(rng: Rng, region: Region, cls: ActorClass): string {
  return rng.weighted(SUBTYPE_MIX[region][cls]);
}

const CAR_PAINT: Record<Region, Array<Weighted<Rgb>>> = {
  eu: [
    { value: [190, 192, 196], weight: 0.22 }, // silver
    { value: [40, 40, 44], weight: 0.22 }, // black
    { value: [225, 225, 222], weight: 0.18 }, // white
    { value: [92, 94, 100], weight: 0.18 }, // grey
    { value: [30, 60, 130], weight: 0.1 }, // blue
    { value: [150, 30, 30], weight: 0.06 }, // red
    { value: [40, 90, 60], weight: 0.04 }, // green
  ],
  us: [
    { value: [230, 230, 228], weight: 0.22 },
    { value: [36, 36, 40], weight: 0.2 },
    { value: [120, 122, 128], weight: 0.16 },
    { value: [185, 187, 192], weight: 0.14 },
    { value: [170, 25, 30], weight: 0.12 },
    { value: [25, 55, 140], weight: 0.11 },
    { value: [130, 100, 60], weight: 0.05 },
  ],
  asia: [
    { value: [238, 238, 236], weight: 0.4 },
    { value: [30, 30, 34], weight: 0.18 },
    { value: [188, 190, 194], weight: 0.16 },
    { value: [110, 112, 118], weight: 0.1 },
    { value: [200, 160, 120], weight: 0.08 },
    { value: [150, 30, 40], weight: 0.05 },
    { value: [40, 70, 140], weight: 0.03 },
  ],
};

const TAXI_PAINT: Record<Region, Rgb> = {
  eu: [230, 222, 200], // ivory
  us: [242, 190, 20], // yellow cab
  asia: [40, 110, 60], // green
};

const TRUCK_PAINT: Record<Region, Array<Weighted<Rgb>>> = {
  eu: [
    { value: [235, 235, 232], weight: 0.5 },
    { value: [40, 80, 150], weight: 0.2 },
    { value: [180, 40, 30], weight: 0.15 },
    { value: [230, 180, 30], weight: 0.15 },
  ],
  us: [
    { value: [230, 230, 228], weight: 0.4 },
    { value: [160, 30, 30], weight: 0.2 },
    { value: [40, 40, 44], weight: 0.2 },
    { value: [30, 90, 60], weight: 0.2 },
  ],
  asia: [
    { value: [240, 240, 238], weight: 0.55 },
    { value: [50, 110, 170], weight: 0.25 },
    { value: [90, 160, 90], weight: 0.2 },
  ],
};

const CLOTHES: Array<Weighted<Rgb>> = [
  { value: [30, 30, 36], weight: 0.25 },
  { value: [50, 60, 110], weight: 0.2 },
  { value: [120, 100, 80], weight: 0.15 },
  { value: [170, 170, 170], weight: 0.1 },
  { value: [180, 40, 40], weight: 0.1 },
  { value: [220, 200, 60], weight: 0.05 },
  { value: [60, 120, 70], weight: 0.1 },
  { value: [230, 230, 230], weight: 0.05 },
];

const ANIMAL: Record<string, Rgb> = {
  deer: [130, 92, 58],
  boar: [70, 56, 44],
  dog: [170, 130, 80],
  cow: [215, 210, 200],
};

const DEBRIS: Array<Weighted<Rgb>> = [
  { value: [150, 110, 70], weight: 0.5 }, // cardboard
  { value: [25, 25, 25], weight: 0.3 }, // rubber
  { value: [90, 70, 50], weight: 0.2 }, // wood
];

/** Draws a body colour for an actor of a class/subtype in a region. */
export function drawColor(rng: Rng, region: Region, cls: ActorClass, subtype: string): Rgb {
  let base: Rgb;
  if (cls === 'car') base = subtype === 'taxi' ? TAXI_PAINT[region] : rng.weighted(CAR_PAINT[region]);
  else if (cls === 'truck') base = rng.weighted(TRUCK_PAINT[region]);
  else if (cls === 'pedestrian' || cls === 'cyclist') base = rng.weighted(CLOTHES);
  else if (subtype in ANIMAL) base = ANIMAL[subtype] as Rgb;
  else if (subtype === 'debris_tire') base = [25, 25, 25];
  else base = rng.weighted(DEBRIS);
  return jitterColor(rng, base, 10);
}

/** A colour with each channel moved by up to ±amount (clamped to 0..255). */
export function jitterColor(rng: Rng, c: Rgb, amount: number): Rgb {
  const j = (v: number): number => Math.max(0, Math.min(255, Math.round(v + rng.range(-amount, amount))));
  return [j(c[0]), j(c[1]), j(c[2])];
}

/** A subtype's size with a small per-actor variation (±6 %). */
export function drawSize(rng: Rng, subtype: string): NominalSize {
  const n = SUBTYPE_SIZES[subtype];
  if (n === undefined) throw new RangeError(`unknown subtype ${subtype}`);
  const f = (v: number): number => round3(v * rng.range(0.94, 1.06));
  return { length: f(n.length), width: f(n.width), height: f(n.height) };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
