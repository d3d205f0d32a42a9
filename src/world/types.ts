/**
 * The reference world's data model: one world state (road, actors, conditions, camera) that the
 * scene generator produces, the closed-loop simulator advances, and the renderers draw.
 *
 * Frames (ISO 8855 for the ego vehicle):
 * - ego frame: origin on the ground under the ego's rear axle, x forward, y left, z up; metres, radians.
 * - camera frame: origin at the camera, x right, y down, z forward (OpenCV convention).
 * The camera is mounted at `camera.position` (ego frame) looking along ego +x, pitched down by
 * `camera.pitch` radians.
 */

/** Weather conditions. */
export const WEATHERS = ['clear', 'rain', 'fog', 'snow'] as const;
export type Weather = (typeof WEATHERS)[number];

/** Times of day. */
export const TIMES_OF_DAY = ['day', 'dusk', 'night'] as const;
export type TimeOfDay = (typeof TIMES_OF_DAY)[number];

/** Road types. */
export const ROAD_TYPES = ['highway', 'urban', 'rural'] as const;
export type RoadType = (typeof ROAD_TYPES)[number];

/** Regions: they differ in road surface, lane-marking colour and style, and object appearance. */
export const REGIONS = ['eu', 'us', 'asia'] as const;
export type Region = (typeof REGIONS)[number];

/**
 * Object classes. The first four are the detector classes (COCO category ids 1..4 in this order);
 * 'unknown' (road debris, animals) is never a training class: it exists for out-of-distribution probes
 * and is exported with category id 5, name 'unknown', only where the export asks for it.
 */
export const ACTOR_CLASSES = ['car', 'truck', 'pedestrian', 'cyclist', 'unknown'] as const;
export type ActorClass = (typeof ACTOR_CLASSES)[number];

/** The detector classes and their COCO category ids. */
export const DETECTOR_CATEGORIES: ReadonlyArray<{ id: number; name: ActorClass; supercategory: string }> = [
  { id: 1, name: 'car', supercategory: 'vehicle' },
  { id: 2, name: 'truck', supercategory: 'vehicle' },
  { id: 3, name: 'pedestrian', supercategory: 'person' },
  { id: 4, name: 'cyclist', supercategory: 'person' },
];

/** A point or vector in metres. */
export interface Vec3 {
  x: number;
  y: number;
  z: number;
}

/** An RGB colour, each channel 0..255. */
export type Rgb = [number, number, number];

/** One object in the world: a 3D box resting on the ground. */
export interface Actor {
  /** Unique within a scene, stable over its frames (the track id). */
  id: number;
  cls: ActorClass;
  /** Finer kind for appearance ('sedan', 'van', 'box_truck', 'adult', 'child', 'debris', 'deer', ...). */
  subtype: string;
  /** Centre of the box's bottom face, ego frame. */
  position: Vec3;
  /** Box extent in metres: length along heading, width, height. */
  size: { length: number; width: number; height: number };
  /** Heading (yaw) in the ego frame, radians, counter-clockwise from ego +x. */
  yaw: number;
  /** Speed along the heading, m/s. */
  speed: number;
  /** Body colour. */
  color: Rgb;
  /** Lights on (headlights/tail lights at night and dusk; for vehicles). */
  lightsOn: boolean;
}

/**
 * The road around the ego, as a lane-centre line in the ego frame: the ego lane's centre is at
 * lateral offset y(x) = lateralOffset + headingOffset * x + curvature * x^2 / 2 for x >= 0.
 * Lanes are numbered 0 (rightmost) to laneCount-1; the ego drives in `egoLane`.
 */
export interface Road {
  type: RoadType;
  laneCount: number;
  laneWidth: number;
  egoLane: number;
  /** Curvature of the road, 1/m (positive curves left). |curvature| <= 1/300 for "gently curved". */
  curvature: number;
  /** Angle of the lane direction relative to ego +x, radians (small). */
  headingOffset: number;
  /** Lateral offset of the ego lane's centre from the ego origin, metres. */
  lateralOffset: number;
  /** Width of the shoulder/sidewalk beyond the outer lane markings, metres. */
  shoulderWidth: number;
  /**
   * Number of lanes, counted from the left (lanes laneCount-oncomingLanes .. laneCount-1), that carry
   * oncoming traffic; the marking between the two directions is drawn in `marking.centerColor`.
   * 0 or absent: every lane goes the ego's way (a divided highway).
   */
  oncomingLanes?: number;
  /** Lane marking style: dashed separators, solid edges; 'yellow' centre lines in some regions. */
  marking: { color: Rgb; centerColor: Rgb; dashLength: number; gapLength: number; width: number };
  /** Road surface colour. */
  surface: Rgb;
  /** Ground beyond the road (grass, sand, pavement). */
  ground: Rgb;
}

/** Environment and sensor conditions of a frame. */
export interface Conditions {
  weather: Weather;
  timeOfDay: TimeOfDay;
  region: Region;
  /** Fog: extinction coefficient, 1/m (0 when clear; about 0.02..0.08 in fog). */
  fogDensity: number;
  /** Rain or snow intensity, 0..1. */
  precipitation: number;
  /** Ambient light, 0..1 (1 bright day, ~0.05 night). */
  ambient: number;
  /** Sensor noise standard deviation in 0..255 units. */
  noiseSigma: number;
}

/** A pinhole camera. Intrinsics in pixels for an image of width x height. */
export interface Camera {
  width: number;
  height: number;
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  /** Mount position in the ego frame (about 1.4 m up, 1.5 m ahead of the rear axle). */
  position: Vec3;
  /** Downward pitch, radians. */
  pitch: number;
}

/** A complete world state: everything a renderer needs to draw one frame. */
export interface WorldState {
  /** Simulation time, seconds since the scene start. */
  time: number;
  road: Road;
  actors: Actor[];
  conditions: Conditions;
  camera: Camera;
  /** Distance the ego has travelled along the road, metres (phases dashed lane markings). */
  odometer: number;
  /** Seed for per-frame randomness in rendering (noise, rain streaks); same seed, same pixels. */
  renderSeed: number;
}

/** Per-actor result of rendering: what of it is visible in the image. */
export interface ActorVisibility {
  id: number;
  /** Tight 2D box of the projected 3D box clipped to the image, [x, y, w, h] in pixels; null if off-image. */
  bbox: [number, number, number, number] | null;
  /** Fraction of the projected box that lies outside the image, 0..1. */
  truncation: number;
  /** Fraction of the actor's unclipped-to-others projected pixels hidden by nearer things, 0..1. */
  occlusion: number;
  /** Visible pixel count. */
  visiblePixels: number;
  /** Distance from the camera to the box centre, metres. */
  distance: number;
}

/** Semantic classes of the segmentation mask. */
export const SEMANTIC_CLASSES = [
  'background',
  'road',
  'lane_marking',
  'vehicle',
  'person',
  'unknown',
] as const;
export type SemanticClass = (typeof SEMANTIC_CLASSES)[number];

/** What the camera renderer returns for one world state. */
export interface CameraFrame {
  width: number;
  height: number;
  /** RGB bytes, row-major, 3 per pixel. */
  rgb: Uint8Array;
  /** Semantic class index per pixel (index into SEMANTIC_CLASSES). */
  semantic: Uint8Array;
  /** Actor id + 1 per pixel (0 = none), for instance masks. */
  instance: Uint16Array;
  visibility: ActorVisibility[];
}

/** One LiDAR return. */
export interface LidarPoint {
  x: number;
  y: number;
  z: number;
  intensity: number;
  /** Actor id hit, or -1 for road/ground. */
  actorId: number;
}
