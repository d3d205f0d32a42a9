/**
 * Exports one scene of a dataset: generates it, renders each frame, writes the camera image and the
 * semantic mask (PNG) and the scene's JSON (per-frame 3D boxes, visibility, lane polylines, per-actor
 * trajectories), and returns the per-frame annotation drafts that the dataset writer turns into COCO
 * files and manifests. Runs inside a generation worker or in-process; its output depends only on the
 * job, never on which worker ran it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '../core/digest.js';
import { egoToCamera, horizonRow, projectEgoPoint } from './camera-model.js';
import { findCrowds } from './coco.js';
import type { Box, CrowdRules } from './coco.js';
import { encodePng, encodePngPalette } from './png.js';
import { renderCamera } from './render/camera.js';
import { generateScene } from './scene.js';
import type { Scene } from './scene.js';
import { isoTime } from './timeline.js';
import { ACTOR_CLASSES, SEMANTIC_CLASSES } from './types.js';
import type { Actor, ActorVisibility, Camera, CameraFrame, Rgb, Road, WorldState } from './types.js';
import type { ConditionWeights } from './weights.js';

/** Thresholds below which a visible object is not annotated (it stays in the 3D output). */
export interface AnnotationRules {
  /** Fewer visible pixels than this: skipped as too small (default 20). */
  minVisiblePixels: number;
  /** More occluded than this (0..1): skipped as too occluded (default 0.9). */
  maxOcclusion: number;
  /** Crowd grouping of far, overlapping pedestrians. */
  crowd: CrowdRules;
}

/** The default annotation rules. */
export const DEFAULT_ANNOTATION_RULES: AnnotationRules = {
  minVisiblePixels: 20,
  maxOcclusion: 0.9,
  crowd: { minMembers: 3, minDistance: 20, minOverlap: 0.3 },
};

/** Colours of the semantic mask palette, by SEMANTIC_CLASSES index. */
export const SEMANTIC_PALETTE: readonly Rgb[] = [
  [0, 0, 0], // background
  [128, 64, 128], // road
  [255, 255, 255], // lane_marking
  [0, 0, 142], // vehicle
  [220, 20, 60], // person
  [255, 160, 0], // unknown
];

/** One scene to export (a message to a generation worker). */
export interface SceneJob {
  index: number;
  sceneId: string;
  seed: number;
  /** Dataset folder being written (the temp folder). */
  root: string;
  frames: number;
  frameInterval: number;
  width: number;
  height: number;
  weights: ConditionWeights;
  unknownRate: number;
  includeUnknown: boolean;
  rules: AnnotationRules;
  /** Recording start, Unix seconds; geo cell; split; first COCO image id of the scene. */
  start: number;
  geoCell: string;
  split: string;
  firstImageId: number;
}

/** A 3D box in one frame: geometric centre, size [length, width, height], yaw. */
export interface Box3d {
  center: [number, number, number];
  size: [number, number, number];
  /** Ego frame: heading counter-clockwise from ego +x. Camera frame: KITTI rotation_y about camera +y (down). */
  yaw: number;
}

/** One object of one frame, in the scene JSON (every actor, annotated or not). */
export interface FrameObject {
  track_id: number;
  class: string;
  subtype: string;
  annotated: boolean;
  /** Why it has no COCO annotation: off_image, too_occluded, too_small, crowd_member, unknown_class. */
  skip_reason?: string;
  bbox: Box | null;
  /** Tight box of the actor's visible pixels (from the instance mask), or null. */
  visible_bbox: Box | null;
  occlusion: number;
  truncation: number;
  visible_pixels: number;
  distance: number;
  speed: number;
  box3d: { ego: Box3d; camera: Box3d };
}

/** A COCO annotation before ids are assigned. */
export interface AnnotationDraft {
  category_id: number;
  bbox: Box;
  area: number;
  iscrowd: 0 | 1;
  track_id: number | null;
  subtype: string;
  occlusion: number;
  truncation: number;
  distance: number;
  visible_pixels: number;
  visible_bbox: Box | null;
  box3d: { ego: Box3d; camera: Box3d } | null;
  /** For crowd regions: the track ids of the members. */
  members?: number[];
}

/** What one exported frame contributes to COCO and the manifest. */
export interface FrameResult {
  frame: number;
  imageId: number;
  /** Paths relative to the dataset root. */
  image: string;
  mask: string;
  sha256: string;
  maskSha256: string;
  time: number;
  annotations: AnnotationDraft[];
  /** Lane boundaries sampled at fixed image rows (TuSimple style). */
  lanes: { h_samples: number[]; lanes: number[][] };
}

/** What one exported scene returns to the dataset writer. */
export interface SceneResult {
  index: number;
  sceneId: string;
  attributes: { weather: string; time_of_day: string; road_type: string; region: string };
  frames: FrameResult[];
  /** Actors in the scene, and annotated objects / skipped objects over its frames. */
  actors: number;
  annotated: number;
  skipped: Record<string, number>;
}

/** The COCO category id of an actor class (unknown = 5). */
export function categoryIdOf(cls: string): number {
  const i = (ACTOR_CLASSES as readonly string[]).indexOf(cls);
  if (i < 0) throw new RangeError(`unknown class ${cls}`);
  return i + 1;
}

const r2 = (v: number): number => Math.round(v * 100) / 100;
const r3 = (v: number): number => Math.round(v * 1000) / 1000;

function normalizeAngle(a: number): number {
  let x = a % (2 * Math.PI);
  if (x <= -Math.PI) x += 2 * Math.PI;
  else if (x > Math.PI) x -= 2 * Math.PI;
  return x;
}

/** The 3D box of an actor in the ego and camera frames. */
export function actorBox3d(actor: Actor, camera: Camera): { ego: Box3d; camera: Box3d } {
  const c = { x: actor.position.x, y: actor.position.y, z: actor.position.z + actor.size.height / 2 };
  const cc = egoToCamera(camera, c);
  const size: [number, number, number] = [r3(actor.size.length), r3(actor.size.width), r3(actor.size.height)];
  return {
    ego: { center: [r3(c.x), r3(c.y), r3(c.z)], size, yaw: r3(actor.yaw) },
    camera: {
      center: [r3(cc.x), r3(cc.y), r3(cc.z)],
      size,
      yaw: r3(normalizeAngle(-actor.yaw - Math.PI / 2)),
    },
  };
}

/** Tight boxes of each instance's visible pixels (instance value = actor id + 1). */
export function visibleBoxes(frame: CameraFrame): Map<number, Box> {
  const ext = new Map<number, [number, number, number, number]>();
  const { width, height, instance } = frame;
  for (let v = 0; v < height; v++) {
    const row = v * width;
    for (let u = 0; u < width; u++) {
      const inst = instance[row + u] ?? 0;
      if (inst === 0) continue;
      const e = ext.get(inst - 1);
      if (e === undefined) ext.set(inst - 1, [u, v, u, v]);
      else {
        if (u < e[0]) e[0] = u;
        if (u > e[2]) e[2] = u;
        if (v < e[1]) e[1] = v;
        if (v > e[3]) e[3] = v;
      }
    }
  }
  const out = new Map<number, Box>();
  for (const [id, e] of ext) out.set(id, [e[0], e[1], e[2] - e[0] + 1, e[3] - e[1] + 1]);
  return out;
}

/** Lane boundaries of a road in one frame: kind, colour, ego-frame points and image polyline. */
export interface LaneBoundary {
  /** 0 = right road edge, laneCount = left road edge. */
  index: number;
  kind: 'edge' | 'dashed' | 'center';
  color: Rgb;
  /** Ego-frame ground points [x, y] (z = 0), every 10 m from 5 m to 95 m. */
  ego: Array<[number, number]>;
  /** Image polyline [u, v] of the boundary (sampled every 1-2 m from 2 m to 120 m ahead), clipped to the image. */
  image: Array<[number, number]>;
}

/** Clips a polyline to the rectangle [0, w] x [0, h] (Liang-Barsky per segment), joining the kept pieces. */
export function clipPolyline(
  points: ReadonlyArray<[number, number]>,
  w: number,
  h: number,
): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const push = (p: [number, number]): void => {
    const last = out[out.length - 1];
    if (last === undefined || Math.abs(last[0] - p[0]) > 1e-9 || Math.abs(last[1] - p[1]) > 1e-9) out.push(p);
  };
  for (let i = 0; i + 1 < points.length; i++) {
    const [x0, y0] = points[i] as [number, number];
    const [x1, y1] = points[i + 1] as [number, number];
    const dx = x1 - x0;
    const dy = y1 - y0;
    let t0 = 0;
    let t1 = 1;
    let visible = true;
    for (const [p, q] of [
      [-dx, x0],
      [dx, w - x0],
      [-dy, y0],
      [dy, h - y0],
    ] as const) {
      if (p === 0) {
        if (q < 0) visible = false;
        continue;
      }
      const t = q / p;
      if (p < 0) t0 = Math.max(t0, t);
      else t1 = Math.min(t1, t);
    }
    if (!visible || t0 > t1) continue;
    push([x0 + t0 * dx, y0 + t0 * dy]);
    push([x0 + t1 * dx, y0 + t1 * dy]);
  }
  return out;
}

/** The lane boundaries of a world state. */
export function laneBoundaries(road: Road, camera: Camera): LaneBoundary[] {
  const out: LaneBoundary[] = [];
  const right = -(road.egoLane + 0.5) * road.laneWidth;
  const oncoming = road.oncomingLanes ?? 0;
  const centre = oncoming > 0 ? road.laneCount - oncoming : -1;
  const at = (x: number, d: number): [number, number] => {
    const slope = Math.atan(road.headingOffset + road.curvature * x);
    const y =
      road.lateralOffset + road.headingOffset * x + (road.curvature * x * x) / 2 + d / Math.cos(slope);
    return [x, y];
  };
  for (let i = 0; i <= road.laneCount; i++) {
    const d = right + i * road.laneWidth;
    const kind = i === 0 || i === road.laneCount ? 'edge' : i === centre ? 'center' : 'dashed';
    const ego: Array<[number, number]> = [];
    for (let x = 5; x <= 95; x += 10) {
      const [px, py] = at(x, d);
      ego.push([r2(px), r2(py)]);
    }
    // Project densely, then clip the polyline to the image so it reaches the image border.
    const projected: Array<[number, number]> = [];
    for (let x = 2; x <= 120; x += x < 20 ? 1 : 2) {
      const [px, py] = at(x, d);
      const p = projectEgoPoint(camera, { x: px, y: py, z: 0 });
      if (p !== null && p.depth >= 0.5) projected.push([p.u, p.v]);
    }
    const image = clipPolyline(projected, camera.width, camera.height).map(
      ([u, v]) => [Math.round(u * 10) / 10, Math.round(v * 10) / 10] as [number, number],
    );
    out.push({
      index: i,
      kind,
      color: kind === 'center' ? road.marking.centerColor : road.marking.color,
      ego,
      image,
    });
  }
  return out;
}

/**
 * Lane boundaries in the TuSimple benchmark's form: image rows `h_samples` (every 2 px from just
 * below the horizon to the bottom row) and, per boundary seen at two rows or more, the x position
 * (integer px) where it crosses each row, -2 where it does not.
 */
export function tuSimpleLanes(
  boundaries: readonly LaneBoundary[],
  camera: Camera,
): { h_samples: number[]; lanes: number[][] } {
  const top = Math.max(0, Math.ceil(horizonRow(camera)) + 2);
  const hSamples: number[] = [];
  for (let v = camera.height - 1; v >= top; v -= 2) hSamples.unshift(v);
  const lanes: number[][] = [];
  for (const b of boundaries) {
    const xs = hSamples.map((h) => {
      const pts = b.image;
      for (let i = 0; i + 1 < pts.length; i++) {
        const [u0, v0] = pts[i] as [number, number];
        const [u1, v1] = pts[i + 1] as [number, number];
        if ((v0 - h) * (v1 - h) <= 0 && v0 !== v1) {
          const u = u0 + ((h - v0) / (v1 - v0)) * (u1 - u0);
          return u >= 0 && u <= camera.width - 1 ? Math.round(u) : -2;
        }
      }
      return -2;
    });
    if (xs.filter((x) => x !== -2).length >= 2) lanes.push(xs);
  }
  return { h_samples: hSamples, lanes };
}

/**
 * Decides the annotations of one frame: crowd regions for dense far pedestrians, then one
 * annotation per visible actor that passes the rules. Returns the COCO drafts and every actor's
 * frame object (annotated or not, with its skip reason).
 */
export function annotateFrame(
  state: WorldState,
  frame: CameraFrame,
  rules: AnnotationRules,
  includeUnknown: boolean,
): { drafts: AnnotationDraft[]; objects: FrameObject[] } {
  const vis = new Map<number, ActorVisibility>();
  for (const v of frame.visibility) vis.set(v.id, v);
  const visible = visibleBoxes(frame);
  const roundBox = (b: readonly number[]): Box => [
    r2(b[0] ?? 0),
    r2(b[1] ?? 0),
    r2(b[2] ?? 0),
    r2(b[3] ?? 0),
  ];

  const crowdCandidates = state.actors
    .filter((a) => a.cls === 'pedestrian')
    .map((a) => ({ actor: a, v: vis.get(a.id) }))
    .filter((x) => x.v !== undefined && x.v.bbox !== null && x.v.visiblePixels > 0)
    .map((x) => ({ id: x.actor.id, bbox: x.v!.bbox as Box, distance: x.v!.distance }));
  const crowds = findCrowds(crowdCandidates, rules.crowd);
  const crowdOf = new Map<number, number>();
  crowds.forEach((c, k) => c.members.forEach((m) => crowdOf.set(m, k)));

  const drafts: AnnotationDraft[] = [];
  const objects: FrameObject[] = [];
  for (const actor of state.actors) {
    const v = vis.get(actor.id);
    const box3d = actorBox3d(actor, state.camera);
    const bbox = v?.bbox ? roundBox(v.bbox) : null;
    const vb = visible.get(actor.id);
    const obj: FrameObject = {
      track_id: actor.id,
      class: actor.cls,
      subtype: actor.subtype,
      annotated: false,
      bbox,
      visible_bbox: vb ?? null,
      occlusion: r3(v?.occlusion ?? 1),
      truncation: r3(v?.truncation ?? 1),
      visible_pixels: v?.visiblePixels ?? 0,
      distance: r2(
        v?.distance ?? Math.hypot(box3d.camera.center[0], box3d.camera.center[1], box3d.camera.center[2]),
      ),
      speed: r2(actor.speed),
      box3d,
    };
    let reason: string | undefined;
    if (v === undefined || bbox === null || bbox[2] <= 0 || bbox[3] <= 0) reason = 'off_image';
    else if (crowdOf.has(actor.id)) reason = 'crowd_member';
    else if (actor.cls === 'unknown' && !includeUnknown) reason = 'unknown_class';
    else if (v.occlusion > rules.maxOcclusion || v.visiblePixels <= 0) reason = 'too_occluded';
    else if (v.visiblePixels < rules.minVisiblePixels) reason = 'too_small';
    if (reason === undefined && bbox !== null && v !== undefined) {
      obj.annotated = true;
      drafts.push({
        category_id: categoryIdOf(actor.cls),
        bbox,
        area: r2(bbox[2] * bbox[3]),
        iscrowd: 0,
        track_id: actor.id,
        subtype: actor.subtype,
        occlusion: obj.occlusion,
        truncation: obj.truncation,
        distance: obj.distance,
        visible_pixels: v.visiblePixels,
        visible_bbox: obj.visible_bbox,
        box3d,
      });
    } else if (reason !== undefined) {
      obj.skip_reason = reason;
    }
    objects.push(obj);
  }
  for (const crowd of crowds) {
    const members = crowd.members
      .map((id) => vis.get(id))
      .filter((v): v is ActorVisibility => v !== undefined);
    const pixels = members.reduce((acc, v) => acc + v.visiblePixels, 0);
    if (pixels < rules.minVisiblePixels) {
      for (const o of objects) if (crowd.members.includes(o.track_id)) o.skip_reason = 'too_small';
      continue;
    }
    const bbox = roundBox(crowd.bbox);
    if (!(bbox[2] > 0 && bbox[3] > 0)) continue;
    drafts.push({
      category_id: categoryIdOf('pedestrian'),
      bbox,
      area: r2(bbox[2] * bbox[3]),
      iscrowd: 1,
      track_id: null,
      subtype: 'crowd',
      occlusion: r3(Math.min(...members.map((v) => v.occlusion))),
      truncation: r3(Math.min(...members.map((v) => v.truncation))),
      distance: r2(Math.min(...members.map((v) => v.distance))),
      visible_pixels: pixels,
      visible_bbox: null,
      box3d: null,
      members: crowd.members,
    });
  }
  return { drafts, objects };
}

/** Paths (relative to the dataset root) of a frame's image and mask and of a scene's JSON. */
export function framePaths(sceneId: string, frame: number): { image: string; mask: string } {
  const name = String(frame).padStart(4, '0');
  return { image: `images/${sceneId}/${name}.png`, mask: `masks/${sceneId}/${name}.png` };
}

/** Path of a scene's JSON, relative to the dataset root. */
export function sceneJsonPath(sceneId: string): string {
  return `scenes/${sceneId}.json`;
}

/** Generates, renders and writes one scene; returns its per-frame results. */
export function exportScene(job: SceneJob): SceneResult {
  const scene: Scene = generateScene(job.seed, {
    frames: job.frames,
    frameInterval: job.frameInterval,
    width: job.width,
    height: job.height,
    weights: job.weights,
    unknownRate: job.unknownRate,
    sceneId: job.sceneId,
  });
  mkdirSync(join(job.root, 'images', job.sceneId), { recursive: true });
  mkdirSync(join(job.root, 'masks', job.sceneId), { recursive: true });
  const results: FrameResult[] = [];
  const frameJson: unknown[] = [];
  const skipped: Record<string, number> = {};
  let annotated = 0;
  scene.frames.forEach((state, k) => {
    const rendered = renderCamera(state);
    const png = encodePng(rendered.rgb, rendered.width, rendered.height);
    const maskPng = encodePngPalette(rendered.semantic, rendered.width, rendered.height, SEMANTIC_PALETTE);
    const paths = framePaths(job.sceneId, k);
    writeFileSync(join(job.root, paths.image), png);
    writeFileSync(join(job.root, paths.mask), maskPng);
    const { drafts, objects } = annotateFrame(state, rendered, job.rules, job.includeUnknown);
    for (const o of objects) {
      if (o.annotated) annotated++;
      else if (o.skip_reason !== undefined) skipped[o.skip_reason] = (skipped[o.skip_reason] ?? 0) + 1;
    }
    const time = job.start + state.time;
    const ego = scene.ego[k];
    const lanes = laneBoundaries(state.road, state.camera);
    results.push({
      frame: k,
      imageId: job.firstImageId + k,
      image: paths.image,
      mask: paths.mask,
      sha256: sha256(png),
      maskSha256: sha256(maskPng),
      time,
      annotations: drafts,
      lanes: tuSimpleLanes(lanes, state.camera),
    });
    frameJson.push({
      frame: k,
      image_id: job.firstImageId + k,
      time: state.time,
      timestamp: isoTime(time),
      image: paths.image,
      mask: paths.mask,
      ego: ego && {
        speed: r2(ego.speed),
        odometer: r2(ego.odometer),
        lateral: r3(ego.lateral),
        heading: r3(ego.heading),
      },
      road: { lateral_offset: r3(state.road.lateralOffset), heading_offset: r3(state.road.headingOffset) },
      lanes,
      objects,
    });
  });
  const first = scene.frames[0] as WorldState;
  const { lateralOffset: _lo, headingOffset: _ho, ...road } = first.road;
  const trajectories = first.actors.map((a, i) => ({
    track_id: a.id,
    class: a.cls,
    subtype: a.subtype,
    size: { length: a.size.length, width: a.size.width, height: a.size.height },
    color: a.color,
    poses: scene.frames.map((f, k) => {
      const actor = f.actors[i] as Actor;
      const rp = scene.roadPoses[k]?.[i];
      return {
        frame: k,
        time: f.time,
        x: r3(actor.position.x),
        y: r3(actor.position.y),
        z: r3(actor.position.z),
        yaw: r3(actor.yaw),
        speed: r2(actor.speed),
        s: rp ? r3(rp.s) : null,
        d: rp ? r3(rp.d) : null,
      };
    }),
  }));
  const attributes = {
    weather: scene.attributes.weather,
    time_of_day: scene.attributes.timeOfDay,
    road_type: scene.attributes.roadType,
    region: scene.attributes.region,
  };
  const doc = {
    scene_id: job.sceneId,
    seed: job.seed,
    split: job.split,
    attributes,
    geo_cell: job.geoCell,
    start: isoTime(job.start),
    frame_interval: job.frameInterval,
    conditions: first.conditions,
    road,
    camera: first.camera,
    frames: frameJson,
    trajectories,
  };
  mkdirSync(join(job.root, 'scenes'), { recursive: true });
  writeFileSync(join(job.root, sceneJsonPath(job.sceneId)), JSON.stringify(doc) + '\n');
  return {
    index: job.index,
    sceneId: job.sceneId,
    attributes,
    frames: results,
    actors: first.actors.length,
    annotated,
    skipped,
  };
}

/** The semantic classes in palette order (for docs and dataset.json). */
export const SEMANTIC_LEGEND = SEMANTIC_CLASSES.map((name, index) => ({
  index,
  name,
  color: SEMANTIC_PALETTE[index] as Rgb,
}));
