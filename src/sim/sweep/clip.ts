/**
 * Failure clips: the recorded frames of a run composed side by side — the ego camera with its
 * detections drawn (boxes coloured by class) and a top-down view of the road around the ego (lanes,
 * every entity as an oriented box) — with a bar below showing the controller's mode and the ego's
 * speed, encoded as an animated GIF at the perception rate.
 */
import type { ActorClass } from '../../world/types.js';
import type { RecordedFrame, SimRoad } from '../types.js';
import { encodeGif } from './gif.js';

type Rgb = readonly [number, number, number];

const CLASS_COLOURS: Record<string, Rgb> = {
  car: [0, 200, 255],
  truck: [60, 120, 255],
  pedestrian: [255, 120, 0],
  cyclist: [255, 230, 0],
  unknown: [200, 0, 255],
};
const EGO: Rgb = [0, 220, 80];
const MODE_COLOURS: Record<string, Rgb> = {
  cruise: [0, 160, 0],
  follow: [0, 120, 200],
  fcw: [240, 200, 0],
  'aeb-partial': [255, 120, 0],
  'aeb-full': [220, 0, 0],
};

/** An RGB canvas. */
class Canvas {
  readonly px: Uint8Array;
  constructor(
    readonly w: number,
    readonly h: number,
  ) {
    this.px = new Uint8Array(w * h * 3);
  }
  set(x: number, y: number, c: Rgb): void {
    if (x < 0 || y < 0 || x >= this.w || y >= this.h) return;
    const i = (y * this.w + x) * 3;
    this.px[i] = c[0];
    this.px[i + 1] = c[1];
    this.px[i + 2] = c[2];
  }
  fill(x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
    for (let y = Math.max(0, Math.floor(y0)); y < Math.min(this.h, Math.ceil(y1)); y++)
      for (let x = Math.max(0, Math.floor(x0)); x < Math.min(this.w, Math.ceil(x1)); x++) this.set(x, y, c);
  }
  rect(x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
    const a = Math.round(x0);
    const b = Math.round(y0);
    const e = Math.round(x1);
    const f = Math.round(y1);
    for (let x = a; x <= e; x++) {
      this.set(x, b, c);
      this.set(x, f, c);
    }
    for (let y = b; y <= f; y++) {
      this.set(a, y, c);
      this.set(e, y, c);
    }
  }
  blit(src: Uint8Array, sw: number, sh: number, ox: number, oy: number): void {
    for (let y = 0; y < sh; y++) {
      const row = (oy + y) * this.w + ox;
      if (oy + y >= this.h) break;
      this.px.set(src.subarray(y * sw * 3, (y * sw + Math.min(sw, this.w - ox)) * 3), row * 3);
    }
  }
  /** Fills an oriented box (centre, heading, length, width in pixels). */
  orientedBox(cx: number, cy: number, h: number, len: number, wid: number, c: Rgb): void {
    const r = Math.hypot(len, wid) / 2 + 1;
    const cos = Math.cos(h);
    const sin = Math.sin(h);
    for (let y = Math.floor(cy - r); y <= Math.ceil(cy + r); y++)
      for (let x = Math.floor(cx - r); x <= Math.ceil(cx + r); x++) {
        const dx = x + 0.5 - cx;
        const dy = y + 0.5 - cy;
        // Screen y grows downwards while road y grows to the left: the heading flips sign.
        const u = dx * cos - dy * sin;
        const v = dx * sin + dy * cos;
        if (Math.abs(u) <= len / 2 && Math.abs(v) <= wid / 2) this.set(x, y, c);
      }
  }
}

/** Draws the top-down view of a frame: road from `behind` metres behind the ego to `ahead` in front. */
function drawTopDown(
  cv: Canvas,
  ox: number,
  w: number,
  h: number,
  frame: RecordedFrame,
  road: Pick<SimRoad, 'laneCount' | 'laneWidth' | 'shoulderWidth'>,
  egoName: string,
): void {
  const ego = frame.entities.find((e) => e.name === egoName) ?? frame.entities[0];
  const behind = 15;
  const ahead = 65;
  const scale = w / (behind + ahead); // px per metre
  const x0 = (ego?.x ?? 0) - behind;
  const yMid = -(road.laneCount * road.laneWidth) / 2;
  const toPx = (x: number, y: number): [number, number] => [
    ox + (x - x0) * scale,
    h / 2 - (y - yMid) * scale,
  ];
  cv.fill(ox, 0, ox + w, h, [40, 90, 40]);
  const [, top] = toPx(0, 0);
  const [, bottom] = toPx(0, -road.laneCount * road.laneWidth);
  const [, curb] = toPx(0, -road.laneCount * road.laneWidth - road.shoulderWidth);
  cv.fill(ox, bottom, ox + w, curb, [150, 150, 140]);
  cv.fill(ox, top, ox + w, bottom, [70, 70, 70]);
  for (let k = 0; k <= road.laneCount; k++) {
    const [, ly] = toPx(0, -k * road.laneWidth);
    const dashed = k > 0 && k < road.laneCount;
    for (let x = ox; x < ox + w; x++) {
      const metres = x0 + (x - ox) / scale;
      if (!dashed || ((metres % 12) + 12) % 12 < 6) cv.set(x, Math.round(ly), [230, 230, 230]);
    }
  }
  for (const e of frame.entities) {
    const [cx, cy] = toPx(e.x, e.y);
    const colour = e === ego ? EGO : (CLASS_COLOURS[e.cls] ?? CLASS_COLOURS['unknown']!);
    cv.orientedBox(cx, cy, e.h, Math.max(2, e.length * scale), Math.max(2, e.width * scale), colour);
  }
}

/** Composes one recorded frame: camera with detections | top-down, and a mode/speed bar below. */
export function composeFrame(
  frame: RecordedFrame,
  road: Pick<SimRoad, 'laneCount' | 'laneWidth' | 'shoulderWidth' | 'speedLimit'>,
  egoName: string,
): { width: number; height: number; rgb: Uint8Array } {
  const camW = frame.width;
  const camH = frame.height;
  const tdW = Math.max(64, Math.round(camH * 1.6));
  const bar = 8;
  const cv = new Canvas(camW + tdW, camH + bar);
  cv.blit(frame.rgb, camW, camH, 0, 0);
  for (const d of frame.detections) {
    const [x, y, w, h] = d.box;
    cv.rect(x, y, x + w, y + h, CLASS_COLOURS[d.cls] ?? CLASS_COLOURS['unknown']!);
  }
  drawTopDown(cv, camW, tdW, camH, frame, road, egoName);
  cv.fill(0, camH, cv.w, cv.h, [20, 20, 20]);
  cv.fill(0, camH + 1, Math.min(cv.w, 40), cv.h - 1, MODE_COLOURS[frame.mode] ?? [128, 128, 128]);
  const speedFrac = Math.max(0, Math.min(1, frame.egoSpeed / Math.max(1, road.speedLimit * 1.5)));
  cv.fill(
    44,
    camH + 2,
    44 + (cv.w - 48) * speedFrac,
    cv.h - 2,
    frame.egoAccel < -4 ? [220, 0, 0] : [200, 200, 200],
  );
  return { width: cv.w, height: cv.h, rgb: cv.px };
}

/** The class colours of the clip's boxes (for docs and legends). */
export function clipClassColour(cls: ActorClass): Rgb {
  return CLASS_COLOURS[cls] ?? CLASS_COLOURS['unknown']!;
}

/**
 * Encodes the last `seconds` of recorded frames as an animated GIF, each frame shown for the time
 * to the next (real time). Null when there are no frames.
 */
export function clipGif(
  frames: readonly RecordedFrame[],
  road: Pick<SimRoad, 'laneCount' | 'laneWidth' | 'shoulderWidth' | 'speedLimit'>,
  egoName: string,
  seconds = 6,
): Uint8Array | null {
  if (frames.length === 0) return null;
  const end = frames[frames.length - 1]!.time;
  const kept = frames.filter((f) => f.time >= end - seconds - 1e-9);
  const composed = kept.map((f) => composeFrame(f, road, egoName));
  const w = composed[0]!.width;
  const h = composed[0]!.height;
  return encodeGif(
    w,
    h,
    composed.map((c, i) => {
      const next = kept[i + 1];
      const dt = next === undefined ? 1 : next.time - kept[i]!.time;
      return { rgb: c.rgb, delayCs: Math.max(2, Math.round(dt * 100)) };
    }),
    [
      ...Object.values(CLASS_COLOURS),
      EGO,
      ...Object.values(MODE_COLOURS),
      [20, 20, 20],
      [200, 200, 200],
      [230, 230, 230],
    ],
  );
}
