/**
 * How things look: each actor (and each piece of roadside scenery) is drawn as a few boxes ("parts")
 * with a material per face, plus its lamps. Pure data; the rasterizer in camera.ts interprets it.
 *
 * Part boxes are in the owner's local frame: x forward (along heading), y left, z up, origin at the
 * centre of the owner's bottom face. Materials are small integers so that the per-pixel shading can
 * switch on them without allocation.
 */
import type { Actor, Conditions, Rgb } from '../types.js';

/** Per-face materials (per-pixel patterns in face coordinates a, b in 0..1: a across, b up). */
export const MAT = {
  plain: 0,
  bodySide: 1,
  bodyFront: 2,
  bodyRear: 3,
  glassSide: 4,
  glassEnd: 5,
  head: 6,
  bikeSide: 7,
  building: 8,
  foliage: 9,
  cargoSide: 10,
  lampHead: 11,
} as const;

/** One box of an owner's appearance, in the owner's local frame, with materials for its faces. */
export interface Part {
  /** Centre of the part's bottom face, owner-local metres. */
  x: number;
  y: number;
  z: number;
  length: number;
  width: number;
  height: number;
  /** Base colour (0..255 floats) and an alternate colour used by patterned materials. */
  color: Rgb;
  alt: Rgb;
  /** Materials of the faces: front (+x), rear (-x), sides (+y, -y), top. */
  front: number;
  rear: number;
  side: number;
  top: number;
}

/** A light on an owner: a glowing spot (additive) drawn when the owner's lights are on in low light. */
export interface Lamp {
  x: number;
  y: number;
  z: number;
  color: Rgb;
  /** Glow radius in metres. */
  radius: number;
}

const DARK: Rgb = [28, 28, 30];
const TYRE: Rgb = [22, 22, 24];
const SKIN_TONES: Rgb[] = [
  [224, 184, 150],
  [190, 140, 100],
  [130, 90, 60],
  [240, 200, 170],
];
const TROUSERS: Rgb[] = [
  [40, 45, 70],
  [50, 50, 52],
  [90, 80, 60],
  [30, 30, 35],
];

function part(
  x: number,
  z: number,
  length: number,
  width: number,
  height: number,
  color: Rgb,
  mats: { front?: number; rear?: number; side?: number; top?: number; alt?: Rgb } = {},
): Part {
  return {
    x,
    y: 0,
    z,
    length,
    width,
    height,
    color,
    alt: mats.alt ?? color,
    front: mats.front ?? MAT.plain,
    rear: mats.rear ?? MAT.plain,
    side: mats.side ?? MAT.plain,
    top: mats.top ?? MAT.plain,
  };
}

function pick<T>(list: readonly T[], key: number): T {
  return list[Math.abs(key) % list.length]!;
}

/** The parts and lamps of an actor, from its class, subtype, size and colour. */
export function actorAppearance(a: Actor): { parts: Part[]; lamps: Lamp[] } {
  const { length: L, width: W, height: H } = a.size;
  const c = a.color;
  const parts: Part[] = [];
  const lamps: Lamp[] = [];
  const headLamp: Rgb = [255, 245, 215];
  const tailLamp: Rgb = [255, 40, 25];
  switch (a.cls) {
    case 'car': {
      const van = a.subtype === 'van' || a.subtype === 'minivan' || a.subtype === 'kei';
      const bodyH = H * (van ? 0.5 : 0.55);
      const cabinL = L * (van ? 0.78 : a.subtype === 'suv' ? 0.62 : 0.52);
      const cabinX = van ? -L * 0.08 : -L * 0.06;
      parts.push(
        part(0, 0, L, W, bodyH, c, {
          front: MAT.bodyFront,
          rear: MAT.bodyRear,
          side: MAT.bodySide,
          alt: TYRE,
        }),
        part(cabinX, bodyH, cabinL, W * 0.88, H - bodyH, c, {
          front: MAT.glassEnd,
          rear: MAT.glassEnd,
          side: MAT.glassSide,
        }),
      );
      if (a.subtype === 'taxi') parts.push(part(cabinX, H, 0.3, 0.7, 0.18, [245, 200, 40]));
      for (const s of [-1, 1]) {
        lamps.push({ x: L / 2, y: s * W * 0.33, z: bodyH * 0.68, color: headLamp, radius: 0.32 });
        lamps.push({ x: -L / 2, y: s * W * 0.36, z: bodyH * 0.68, color: tailLamp, radius: 0.22 });
      }
      break;
    }
    case 'truck': {
      if (a.subtype === 'pickup' || a.subtype === 'kei_truck') {
        // Cab at the front, an open bed behind it.
        const cabL = L * 0.5;
        const bodyH = H * 0.55;
        parts.push(
          part(0, 0, L, W, bodyH, c, {
            front: MAT.bodyFront,
            rear: MAT.bodyRear,
            side: MAT.bodySide,
            alt: TYRE,
          }),
          part(L / 2 - cabL * 0.6, bodyH, cabL * 0.8, W * 0.9, H - bodyH, c, {
            front: MAT.glassEnd,
            rear: MAT.glassEnd,
            side: MAT.glassSide,
          }),
        );
        for (const s of [-1, 1]) {
          lamps.push({ x: L / 2, y: s * W * 0.34, z: bodyH * 0.68, color: headLamp, radius: 0.32 });
          lamps.push({ x: -L / 2, y: s * W * 0.38, z: bodyH * 0.68, color: tailLamp, radius: 0.22 });
        }
        break;
      }
      const semi = a.subtype === 'semi';
      const cabL = semi ? Math.min(3.6, L * 0.25) : Math.min(2.4, L * 0.3);
      const cargoL = L - cabL - (semi ? 0.6 : 0.2);
      const chassisH = H * 0.24;
      const cabH = semi ? H * 0.82 : H * 0.78;
      const cargo: Rgb =
        a.subtype === 'flatbed'
          ? [95, 80, 60]
          : pick<Rgb>(
              [
                [232, 232, 228],
                [205, 205, 200],
                [150, 40, 35],
                [40, 70, 130],
              ],
              a.id,
            );
      const cargoH = a.subtype === 'flatbed' ? H * 0.18 : H - chassisH;
      parts.push(
        part(L / 2 - cabL / 2, 0, cabL, W, cabH, c, { front: MAT.bodyFront, side: MAT.bodySide, alt: TYRE }),
        part(L / 2 - cabL * 0.3, cabH * 0.55, cabL * 0.62, W * 0.96, cabH * 0.33, c, {
          front: MAT.glassEnd,
          side: MAT.glassSide,
        }),
        part(-L / 2 + cargoL / 2, 0, cargoL, W * 0.8, chassisH, DARK, { side: MAT.bodySide, alt: TYRE }),
        part(-L / 2 + cargoL / 2, chassisH, cargoL, W, cargoH, cargo, {
          side: MAT.cargoSide,
          rear: MAT.cargoSide,
          alt: c,
        }),
      );
      if (a.subtype === 'flatbed') {
        parts.push(
          part(-L / 2 + cargoL * 0.4, chassisH + cargoH, cargoL * 0.5, W * 0.8, H * 0.35, [150, 120, 80]),
        );
      }
      for (const s of [-1, 1]) {
        lamps.push({ x: L / 2, y: s * W * 0.38, z: cabH * 0.25, color: headLamp, radius: 0.38 });
        lamps.push({ x: -L / 2, y: s * W * 0.42, z: chassisH * 0.8, color: tailLamp, radius: 0.25 });
      }
      break;
    }
    case 'pedestrian': {
      const skin = pick(SKIN_TONES, a.id * 7 + 3);
      const legs = pick(TROUSERS, a.id * 3 + 1);
      const legH = H * 0.47;
      const headH = Math.min(0.26, H * 0.15);
      parts.push(
        part(0, 0, L * 0.7, W * 0.62, legH, legs),
        part(0, legH, L, W, H - legH - headH, c),
        part(0, H - headH, Math.min(L, 0.22), Math.min(W * 0.55, 0.2), headH, skin, {
          side: MAT.head,
          front: MAT.plain,
          rear: MAT.head,
          top: MAT.head,
          alt: [45, 35, 28],
        }),
      );
      break;
    }
    case 'cyclist': {
      const skin = pick(SKIN_TONES, a.id * 5 + 1);
      const bikeH = H * 0.5;
      parts.push(
        part(0, 0, L, Math.min(W, 0.12), bikeH, [45, 45, 50], { side: MAT.bikeSide, alt: [70, 70, 75] }),
        part(-L * 0.05, bikeH * 0.55, Math.min(0.45, L * 0.3), W * 0.6, H * 0.3, pick(TROUSERS, a.id)),
        part(-L * 0.02, bikeH + H * 0.05, Math.min(0.45, L * 0.3), W, H * 0.3, c),
        part(0.05, H * 0.86, 0.22, 0.2, H * 0.14, skin, {
          side: MAT.head,
          rear: MAT.head,
          top: MAT.head,
          alt: [45, 35, 28],
        }),
      );
      lamps.push({ x: L / 2, y: 0, z: bikeH * 0.8, color: headLamp, radius: 0.15 });
      lamps.push({ x: -L / 2, y: 0, z: bikeH * 0.8, color: tailLamp, radius: 0.12 });
      break;
    }
    default: {
      if (['deer', 'boar', 'dog', 'cow', 'animal', 'moose'].includes(a.subtype)) {
        const legH = H * 0.5;
        parts.push(
          part(0, 0, L * 0.7, W * 0.6, legH, [70, 50, 35]),
          part(-L * 0.05, legH, L * 0.8, W, H * 0.3, c),
          part(L * 0.38, H * 0.7, L * 0.22, W * 0.6, H * 0.3, c),
        );
      } else if (a.subtype === 'debris_tire') {
        parts.push(part(0, 0, L, W, H, TYRE));
      } else {
        parts.push(part(0, 0, L, W, H, c));
      }
    }
  }
  return { parts, lamps };
}

/** Lighting and palette of a frame, derived from its conditions. */
export interface Lighting {
  /** Unit vector towards the sun, ego frame. */
  sun: [number, number, number];
  /** Ambient scale (0..1) and directional weight. */
  ambient: number;
  directional: number;
  skyZenith: Rgb;
  skyHorizon: Rgb;
  fogColor: Rgb;
  /** 1 when headlights/lamps glow (night), smaller at dusk, 0 by day. */
  glow: number;
  /** Snow cover on the ground, 0..1. */
  snowCover: number;
  /** Road wetness, 0..1. */
  wet: number;
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** The lighting of a frame from its conditions (time of day, weather, ambient light). */
export function lightingFor(c: Conditions): Lighting {
  const overcast = c.weather === 'rain' || c.weather === 'snow' || c.weather === 'fog';
  const amb = Math.max(0.02, Math.min(1, c.ambient));
  let zenith: Rgb;
  let horizon: Rgb;
  let sun: [number, number, number];
  let glow: number;
  if (c.timeOfDay === 'day') {
    zenith = [62, 120, 205];
    horizon = [175, 205, 232];
    sun = [0.45, 0.45, 0.77];
    glow = 0;
  } else if (c.timeOfDay === 'dusk') {
    zenith = [52, 62, 118];
    horizon = [238, 150, 96];
    sun = [0.85, -0.5, 0.16];
    glow = 0.55;
  } else {
    zenith = [4, 6, 16];
    horizon = [18, 22, 38];
    sun = [0.3, 0.3, 0.9];
    glow = 1;
  }
  if (overcast) {
    const grey: Rgb =
      c.timeOfDay === 'night' ? [16, 17, 20] : c.timeOfDay === 'dusk' ? [120, 112, 112] : [168, 172, 178];
    zenith = mix(zenith, mix(grey, [0, 0, 0], 0.15), 0.85);
    horizon = mix(horizon, grey, 0.85);
  }
  // The sky's brightness follows the ambient light relative to the nominal of its time of day.
  const nominal = c.timeOfDay === 'day' ? 1 : c.timeOfDay === 'dusk' ? 0.45 : 0.06;
  const k = Math.max(0.3, Math.min(1.3, amb / nominal));
  zenith = mix([0, 0, 0], zenith, k);
  horizon = mix([0, 0, 0], horizon, k);
  const fogBase: Rgb =
    c.timeOfDay === 'night' ? [30, 32, 37] : c.timeOfDay === 'dusk' ? [150, 135, 130] : [192, 196, 202];
  const fogColor = mix([0, 0, 0], fogBase, Math.max(0.3, Math.min(1.2, k)));
  return {
    sun,
    ambient: amb,
    directional: overcast ? 0.12 : c.timeOfDay === 'night' ? 0 : 0.45,
    skyZenith: zenith,
    skyHorizon: horizon,
    fogColor,
    glow: Math.max(glow, c.weather === 'fog' && c.timeOfDay === 'day' ? 0.25 : 0),
    snowCover: c.weather === 'snow' ? Math.min(1, 0.5 + c.precipitation * 0.5) : 0,
    wet: c.weather === 'rain' ? Math.min(1, 0.4 + c.precipitation) : 0,
  };
}
