/**
 * The scene generator: a seeded, deterministic driving scene for an ego car with a forward camera,
 * and the small traffic simulation that moves it over time.
 *
 * A scene is laid out in road coordinates: `s` metres along the ego lane's centre line (the ego's
 * rear axle starts at s = 0) and `d` metres to the left of it. Vehicles follow their lane with the
 * Intelligent Driver Model (they keep a gap to whatever is ahead in their lane and yield to
 * pedestrians and animals crossing it); oncoming traffic drives the other way; parked cars stand on
 * urban shoulders; pedestrians walk or stand on sidewalks and sometimes cross; cyclists ride near
 * the right road edge; a rare unknown object (debris, an animal) may appear. The ego drives its lane
 * with the same model. `WorldSim.state()` turns the road coordinates into a `WorldState` in the ego
 * frame using the road's parabolic centre line (types.ts `Road`), so actors sit in the lanes the
 * renderer draws. `generateScene` samples K frames of it; the closed-loop simulator can drive a
 * `WorldSim` itself (`step(dt, { egoAcceleration })`).
 */
import { defaultCamera } from './camera-model.js';
import { SUBTYPE_SIZES, drawColor, drawSize, drawSubtype, jitterColor, roadStyle } from './appearance.js';
import { Rng, deriveSeed, normalizeSeed } from './random.js';
import { choicesOf, defaultWeights } from './weights.js';
import type { ConditionWeights, SceneAttributes } from './weights.js';
import type {
  Actor,
  ActorClass,
  Camera,
  Conditions,
  Region,
  Rgb,
  Road,
  RoadType,
  TimeOfDay,
  Weather,
  WorldState,
} from './types.js';

/** Options of a scene. */
export interface SceneOptions {
  /** Number of frames K (default 10). */
  frames?: number;
  /** Seconds between frames (default 0.1, i.e. 10 Hz). The simulation steps at most 0.1 s. */
  frameInterval?: number;
  /** Image width and height of the default camera (default 192 x 96); ignored when `camera` is given. */
  width?: number;
  height?: number;
  /** The camera (default: defaultCamera(width, height)). */
  camera?: Camera;
  /** Draw weights of the slice attributes (default: DEFAULT_WEIGHTS). */
  weights?: ConditionWeights;
  /** Attributes to force instead of drawing them (e.g. { weather: 'fog' }). */
  attributes?: Partial<SceneAttributes>;
  /** Probability that the scene holds an unknown object (debris, an animal); default 0.1. */
  unknownRate?: number;
  /** The scene id (default `scene-<seed>`). */
  sceneId?: string;
  /** Populate the scene with random traffic, pedestrians, cyclists (default true); false leaves only the road. */
  traffic?: boolean;
}

/** How an actor behaves: follow its lane (IDM), stand parked, walk along, stand, cross the road, or lie still. */
export type ActorBehavior = 'lane' | 'parked' | 'walk' | 'stand' | 'cross' | 'static';

/** An actor to place into a WorldSim (for scenarios). Positions are in road coordinates. */
export interface ActorSpec {
  cls: ActorClass;
  /** Appearance subtype (default: drawn for the scene's region). */
  subtype?: string;
  /** Metres along the ego lane centre line from the ego's start (use `sim.odometer + ahead`). */
  s: number;
  /** Metres left of the ego lane centre line (see `laneOffset`, `roadEdges`). */
  d: number;
  /** Heading relative to the lane direction, radians (0 = with traffic, pi = oncoming). Default 0. */
  heading?: number;
  /** Initial speed, m/s (also the desired speed of a 'lane' actor). Default 0. */
  speed?: number;
  /** Default: 'lane' for moving vehicles and cyclists, 'walk' for moving pedestrians/animals, else 'static'. */
  behavior?: ActorBehavior;
  /** For 'cross': the lateral position where the crossing ends (then the actor walks along). */
  crossTo?: number;
  size?: { length: number; width: number; height: number };
  color?: Rgb;
  lightsOn?: boolean;
}

/** The ego's state at one frame. */
export interface EgoState {
  /** Seconds since the scene start. */
  time: number;
  /** Distance travelled along the road, metres. */
  odometer: number;
  /** Speed, m/s. */
  speed: number;
  /** Lateral offset of the rear axle from the ego lane's centre, metres (left positive). */
  lateral: number;
  /** Heading relative to the lane direction, radians. */
  heading: number;
}

/** One actor's position in road coordinates at one frame (for trajectories). */
export interface RoadPose {
  id: number;
  /** Metres along the ego lane centre line from the ego's start. */
  s: number;
  /** Metres left of the ego lane centre line. */
  d: number;
  /** Heading relative to the lane direction, radians. */
  heading: number;
  speed: number;
}

/** A generated scene: attributes and K world states over time. */
export interface Scene {
  sceneId: string;
  /** The 32-bit seed the scene was drawn from. */
  seed: number;
  attributes: SceneAttributes;
  /** Seconds between frames. */
  frameInterval: number;
  /** The world state at each frame, time 0, frameInterval, 2 * frameInterval, ... */
  frames: WorldState[];
  /** The ego at each frame. */
  ego: EgoState[];
  /** Every actor's road-frame pose at each frame (same order as frames[k].actors). */
  roadPoses: RoadPose[][];
}

/** Control input for the ego in a closed-loop step. */
export interface EgoControl {
  /** Longitudinal acceleration to apply, m/s^2 (negative brakes); default: the built-in driver. */
  egoAcceleration?: number;
}

type Mode = ActorBehavior;

interface Agent {
  id: number;
  cls: ActorClass;
  subtype: string;
  size: { length: number; width: number; height: number };
  color: Rgb;
  s: number;
  d: number;
  /** Heading relative to the lane direction. */
  rel: number;
  speed: number;
  desired: number;
  mode: Mode;
  /** For 'cross': the lateral position where the crossing ends. */
  targetD: number;
  lightsOn: boolean;
}

/** Ego footprint relative to its rear axle (a mid-size car). */
const EGO = { rearOverhang: 1.0, length: 4.7, width: 1.9 } as const;
/** Intelligent Driver Model parameters. */
const IDM = { maxAccel: 1.6, comfortDecel: 2.2, headway: 1.4, minGap: 2.0, maxDecel: 8.0 } as const;
const MAX_STEP = 0.1;

/** Draws the slice attributes of a scene from its seed (the first draws of the scene's stream). */
export function drawAttributes(
  seed: number,
  weights: ConditionWeights = defaultWeights(),
  forced: Partial<SceneAttributes> = {},
): SceneAttributes {
  const rng = new Rng(deriveSeed(seed, 'attributes'));
  const weather = rng.weighted(choicesOf(weights, 'weather')) as Weather;
  const timeOfDay = rng.weighted(choicesOf(weights, 'time_of_day')) as TimeOfDay;
  const roadType = rng.weighted(choicesOf(weights, 'road_type')) as RoadType;
  const region = rng.weighted(choicesOf(weights, 'region')) as Region;
  return {
    weather: forced.weather ?? weather,
    timeOfDay: forced.timeOfDay ?? timeOfDay,
    roadType: forced.roadType ?? roadType,
    region: forced.region ?? region,
  };
}

/** The conditions that follow from weather and time of day (with a little per-scene variation). */
export function makeConditions(rng: Rng, attrs: SceneAttributes): Conditions {
  const { weather, timeOfDay, region } = attrs;
  const baseAmbient = timeOfDay === 'day' ? 1 : timeOfDay === 'dusk' ? 0.45 : 0.06;
  const weatherLight = weather === 'clear' ? 1 : weather === 'rain' ? 0.7 : weather === 'fog' ? 0.8 : 0.85;
  const ambient = clamp(baseAmbient * weatherLight * rng.range(0.9, 1.1), 0.02, 1);
  const fogDensity =
    weather === 'fog'
      ? rng.range(0.02, 0.08)
      : weather === 'snow'
        ? rng.range(0.006, 0.02)
        : weather === 'rain'
          ? rng.range(0.002, 0.008)
          : 0;
  const precipitation = weather === 'rain' || weather === 'snow' ? rng.range(0.3, 1) : 0;
  const baseNoise = timeOfDay === 'day' ? 2 : timeOfDay === 'dusk' ? 4 : 9;
  const noiseSigma = baseNoise * (weather === 'rain' ? 1.3 : 1) * rng.range(0.85, 1.15);
  return {
    weather,
    timeOfDay,
    region,
    fogDensity: round(fogDensity, 5),
    precipitation: round(precipitation, 4),
    ambient: round(ambient, 4),
    noiseSigma: round(noiseSigma, 3),
  };
}

/** Lane layout of a road type: lane count, oncoming lanes, ego lane, widths, curvature, ego speed. */
function makeLayout(
  rng: Rng,
  roadType: RoadType,
): {
  laneCount: number;
  oncoming: number;
  egoLane: number;
  laneWidth: number;
  shoulderWidth: number;
  curvature: number;
  egoSpeed: number;
} {
  const curve = (pStraight: number, minRadius: number, maxRadius: number): number =>
    rng.chance(pStraight) ? 0 : rng.sign() / rng.range(minRadius, maxRadius);
  if (roadType === 'highway') {
    const laneCount = rng.weighted([
      { value: 2, weight: 0.2 },
      { value: 3, weight: 0.5 },
      { value: 4, weight: 0.3 },
    ]);
    return {
      laneCount,
      oncoming: 0,
      egoLane: rng.int(0, laneCount - 1),
      laneWidth: rng.range(3.5, 3.75),
      shoulderWidth: rng.range(2.5, 3.5),
      curvature: curve(0.5, 600, 2000),
      egoSpeed: rng.range(24, 33),
    };
  }
  if (roadType === 'urban') {
    const laneCount = rng.chance(0.6) ? 2 : 4;
    return {
      laneCount,
      oncoming: laneCount / 2,
      egoLane: rng.int(0, laneCount / 2 - 1),
      laneWidth: rng.range(3.0, 3.4),
      shoulderWidth: rng.range(4.6, 5.6),
      curvature: curve(0.6, 300, 800),
      egoSpeed: rng.range(8, 14),
    };
  }
  return {
    laneCount: 2,
    oncoming: 1,
    egoLane: 0,
    laneWidth: rng.range(3.0, 3.5),
    shoulderWidth: rng.range(1.0, 2.0),
    curvature: curve(0.4, 300, 1000),
    egoSpeed: rng.range(14, 24),
  };
}

/**
 * The world simulation of one scene. Construct it from a seed, read `state()`, advance with `step()`.
 * Deterministic: the same seed and options (and the same sequence of step calls) give the same states.
 */
export class WorldSim {
  readonly sceneId: string;
  readonly seed: number;
  readonly attributes: SceneAttributes;
  readonly camera: Camera;
  /** Seconds since the scene start. */
  time = 0;
  private readonly rng: Rng;
  private readonly road: Omit<Road, 'lateralOffset' | 'headingOffset'>;
  private readonly conditions: Conditions;
  private readonly agents: Agent[] = [];
  private readonly oncoming: number;
  private egoS = 0;
  private egoSpeed: number;
  private readonly egoDesired: number;
  private readonly wobble: { amplitude: number; wavelength: number; phase: number };
  private nextId = 1;
  private readonly lightsOn: boolean;
  private stepCount = 0;

  /** Lays out a scene from `seed` (any safe integer or string; normalised to 32 bits). */
  constructor(seed: number | string, options: SceneOptions = {}) {
    this.seed = normalizeSeed(seed);
    this.sceneId = options.sceneId ?? `scene-${this.seed}`;
    this.attributes = drawAttributes(this.seed, options.weights, options.attributes);
    this.camera = options.camera ?? defaultCamera(options.width ?? 192, options.height ?? 96);
    const layoutRng = new Rng(deriveSeed(this.seed, 'layout'));
    const { roadType, region, timeOfDay, weather } = this.attributes;
    const layout = makeLayout(layoutRng, roadType);
    const style = roadStyle(region, roadType);
    this.oncoming = layout.oncoming;
    this.road = {
      type: roadType,
      laneCount: layout.laneCount,
      laneWidth: round(layout.laneWidth, 3),
      egoLane: layout.egoLane,
      curvature: round(layout.curvature, 7),
      shoulderWidth: round(layout.shoulderWidth, 3),
      oncomingLanes: layout.oncoming,
      marking: {
        color: style.markingColor,
        centerColor: style.centerColor,
        dashLength: style.dashLength,
        gapLength: style.gapLength,
        width: style.markingWidth,
      },
      surface: jitterColor(layoutRng, style.surface, 6),
      ground: jitterColor(layoutRng, style.ground, 10),
    };
    this.conditions = makeConditions(new Rng(deriveSeed(this.seed, 'conditions')), this.attributes);
    this.egoDesired = layout.egoSpeed;
    this.egoSpeed = layout.egoSpeed;
    // Gentle lane-keeping wobble along the road: at most 0.2 m and 0.01 rad of heading.
    const wavelength = layoutRng.range(6, 12) * layout.egoSpeed;
    this.wobble = {
      amplitude: Math.min(0.2, (0.01 * wavelength) / (2 * Math.PI)) * layoutRng.next(),
      wavelength,
      phase: layoutRng.range(0, 2 * Math.PI),
    };
    const lightsOn = timeOfDay !== 'day' || weather !== 'clear';
    this.lightsOn = lightsOn;
    if (options.traffic !== false) {
      this.populate(new Rng(deriveSeed(this.seed, 'actors')), options.unknownRate ?? 0.1, lightsOn);
    }
    this.rng = new Rng(deriveSeed(this.seed, 'dynamics'));
    // Start the ego (and everyone) at a speed the gap ahead allows.
    this.egoSpeed = Math.min(this.egoSpeed, this.safeStartSpeed());
  }

  /**
   * Places an actor (scenario authoring); returns its id. No overlap check: the caller decides.
   * Subtype, size and colour default to draws from a stream of this scene's seed and the new id.
   */
  addActor(spec: ActorSpec): number {
    const rng = new Rng(deriveSeed(this.seed, `added:${this.nextId}`));
    const subtype = spec.subtype ?? drawSubtype(rng, this.attributes.region, spec.cls);
    const speed = spec.speed ?? 0;
    const moving = speed > 0;
    const behavior: ActorBehavior =
      spec.behavior ??
      (!moving
        ? 'static'
        : spec.cls === 'car' || spec.cls === 'truck' || spec.cls === 'cyclist'
          ? 'lane'
          : 'walk');
    if (behavior === 'cross' && spec.crossTo === undefined) {
      throw new RangeError("a 'cross' actor needs crossTo (the lateral position where its crossing ends)");
    }
    const isVehicle = spec.cls === 'car' || spec.cls === 'truck' || subtype === 'scooter';
    const agent: Agent = {
      id: this.nextId++,
      cls: spec.cls,
      subtype,
      size: spec.size
        ? { ...spec.size }
        : SUBTYPE_SIZES[subtype]
          ? drawSize(rng, subtype)
          : { length: 1, width: 1, height: 1 },
      color: spec.color ?? drawColor(rng, this.attributes.region, spec.cls, subtype),
      s: spec.s,
      d: spec.d,
      rel:
        behavior === 'cross'
          ? Math.sign((spec.crossTo ?? spec.d) - spec.d) * (Math.PI / 2) || Math.PI / 2
          : (spec.heading ?? 0),
      speed,
      desired: speed,
      mode: behavior,
      targetD: spec.crossTo ?? spec.d,
      lightsOn: spec.lightsOn ?? (this.lightsOn && isVehicle),
    };
    this.agents.push(agent);
    return agent.id;
  }

  /** Removes an actor; true when it was there. */
  removeActor(id: number): boolean {
    const i = this.agents.findIndex((a) => a.id === id);
    if (i < 0) return false;
    this.agents.splice(i, 1);
    return true;
  }

  /** Lateral road coordinate d of the centre of lane `lane` (0 = rightmost). */
  laneOffset(lane: number): number {
    return this.laneD(lane);
  }

  /** Lateral road coordinates of the road's right and left edges (outer lane boundaries). */
  roadEdges(): { right: number; left: number } {
    return { right: this.rightEdge, left: this.leftEdge };
  }

  /** Distance the ego has travelled along the road, metres. */
  get odometer(): number {
    return this.egoS;
  }

  /** The ego's current state. */
  ego(): EgoState {
    return {
      time: this.time,
      odometer: this.egoS,
      speed: this.egoSpeed,
      lateral: this.lateral(this.egoS),
      heading: this.headingRel(this.egoS),
    };
  }

  /** Every actor's pose in road coordinates (same order as state().actors). */
  roadPoses(): RoadPose[] {
    return this.agents.map((a) => ({ id: a.id, s: a.s, d: a.d, heading: a.rel, speed: a.speed }));
  }

  /** The world state now, in the ego frame. */
  state(): WorldState {
    const lateral = this.lateral(this.egoS);
    const heading = this.headingRel(this.egoS);
    const k = this.road.curvature;
    const road: Road = { ...this.road, lateralOffset: -lateral, headingOffset: -heading };
    const actors: Actor[] = this.agents.map((a) => {
      const x = a.s - this.egoS;
      // d is measured perpendicular to the lane direction (as the renderer's road coordinate is).
      const slope = Math.atan(-heading + k * x);
      const y = -lateral - heading * x + (k * x * x) / 2 + a.d / Math.cos(slope);
      const yaw = normalizeAngle(slope + a.rel);
      return {
        id: a.id,
        cls: a.cls,
        subtype: a.subtype,
        position: { x, y, z: 0 },
        size: { ...a.size },
        yaw,
        speed: a.speed,
        color: [a.color[0], a.color[1], a.color[2]],
        lightsOn: a.lightsOn,
      };
    });
    return {
      time: this.time,
      road,
      actors,
      conditions: { ...this.conditions },
      camera: { ...this.camera, position: { ...this.camera.position } },
      odometer: this.egoS,
      renderSeed: deriveSeed(this.seed, `render:${this.stepCount}`),
    };
  }

  /** Advances the world by `dt` seconds (in sub-steps of at most 0.1 s). */
  step(dt: number, control: EgoControl = {}): void {
    if (!(dt > 0)) return;
    const n = Math.max(1, Math.ceil(dt / MAX_STEP - 1e-9));
    const h = dt / n;
    for (let i = 0; i < n; i++) this.substep(h, control);
    this.stepCount++;
  }

  private substep(h: number, control: EgoControl): void {
    // Accelerations first (from the current positions), then move everyone.
    const accel = this.agents.map((a) => (a.mode === 'lane' ? this.laneAccel(a) : 0));
    const egoAccel = control.egoAcceleration ?? this.egoIdmAccel();
    this.agents.forEach((a, i) => {
      if (a.mode === 'lane') {
        a.speed = Math.max(0, a.speed + (accel[i] ?? 0) * h);
      }
      a.s += a.speed * Math.cos(a.rel) * h;
      a.d += a.speed * Math.sin(a.rel) * h;
      if (a.mode === 'cross' && (a.targetD - a.d) * Math.sin(a.rel) <= 0) {
        // Across: walk on along the far side.
        a.d = a.targetD;
        a.mode = 'walk';
        a.rel = this.rng.chance(0.5) ? 0 : Math.PI;
      }
    });
    this.egoSpeed = Math.max(0, this.egoSpeed + egoAccel * h);
    this.egoS += this.egoSpeed * h;
    this.time = round(this.time + h, 9);
  }

  /** Lateral offset of the ego from its lane centre at odometer s (left positive). */
  private lateral(s: number): number {
    const w = this.wobble;
    return w.amplitude * Math.sin((2 * Math.PI * s) / w.wavelength + w.phase);
  }

  /** Heading of the ego relative to its lane at odometer s (the slope of the wobble). */
  private headingRel(s: number): number {
    const w = this.wobble;
    return (
      ((w.amplitude * 2 * Math.PI) / w.wavelength) * Math.cos((2 * Math.PI * s) / w.wavelength + w.phase)
    );
  }

  /** Lateral centre of lane i (0 = rightmost) relative to the ego lane. */
  private laneD(i: number): number {
    return (i - this.road.egoLane) * this.road.laneWidth;
  }

  private get rightEdge(): number {
    return -(this.road.egoLane + 0.5) * this.road.laneWidth;
  }

  private get leftEdge(): number {
    return (this.road.laneCount - this.road.egoLane - 0.5) * this.road.laneWidth;
  }

  /** True when a crossing agent's path still has to cross the lateral band [lo, hi]. */
  private crossesAhead(a: Agent, lo: number, hi: number): boolean {
    const dir = Math.sign(a.targetD - a.d);
    if (dir > 0) return a.d < hi && a.targetD > lo;
    return a.d > lo && a.targetD < hi;
  }

  /** IDM acceleration towards the nearest obstacle in the band [lo, hi] ahead of s0 in direction dir. */
  private idm(
    s0: number,
    halfLength: number,
    lo: number,
    hi: number,
    dir: 1 | -1,
    speed: number,
    desired: number,
    self: Agent | null,
  ): number {
    let bestGap = Infinity;
    let leaderSpeed = 0;
    const consider = (s: number, half: number, v: number): void => {
      const gap = (s - s0) * dir - half - halfLength;
      if ((s - s0) * dir <= 0) return;
      if (gap < bestGap) {
        bestGap = gap;
        leaderSpeed = v;
      }
    };
    for (const b of this.agents) {
      if (b === self) continue;
      const halfW = b.size.width / 2;
      if (b.mode === 'cross') {
        // Yield to anyone whose crossing still has to pass through this band.
        if (this.crossesAhead(b, lo - halfW - 0.8, hi + halfW + 0.8)) consider(b.s, b.size.length / 2, 0);
        continue;
      }
      if (b.d + halfW < lo || b.d - halfW > hi) continue;
      const along = b.speed * Math.cos(b.rel) * dir;
      consider(
        b.s,
        (b.mode === 'lane' || b.mode === 'parked' || b.mode === 'static' ? b.size.length : 0.5) / 2,
        along,
      );
    }
    if (self !== null && dir === 1) {
      // The ego is an obstacle for traffic in its lane.
      const egoLo = this.lateral(this.egoS) - EGO.width / 2;
      const egoHi = egoLo + EGO.width;
      if (!(egoHi < lo || egoLo > hi))
        consider(this.egoS - EGO.rearOverhang + EGO.length / 2, EGO.length / 2, this.egoSpeed);
    }
    const free = 1 - Math.pow(speed / Math.max(desired, 0.1), 4);
    if (bestGap === Infinity) return Math.max(-IDM.maxDecel, IDM.maxAccel * free);
    const dv = speed - leaderSpeed;
    const sStar =
      IDM.minGap +
      Math.max(0, speed * IDM.headway + (speed * dv) / (2 * Math.sqrt(IDM.maxAccel * IDM.comfortDecel)));
    const gap = Math.max(bestGap, 0.1);
    const a = IDM.maxAccel * (free - (sStar / gap) ** 2);
    return clamp(a, -IDM.maxDecel, IDM.maxAccel);
  }

  private laneAccel(a: Agent): number {
    const dir: 1 | -1 = Math.cos(a.rel) >= 0 ? 1 : -1;
    const half = a.size.width / 2;
    return this.idm(a.s, a.size.length / 2, a.d - half, a.d + half, dir, a.speed, a.desired, a);
  }

  private egoIdmAccel(): number {
    const lat = this.lateral(this.egoS);
    const centre = this.egoS - EGO.rearOverhang + EGO.length / 2;
    return this.idm(
      centre,
      EGO.length / 2,
      lat - EGO.width / 2,
      lat + EGO.width / 2,
      1,
      this.egoSpeed,
      this.egoDesired,
      null,
    );
  }

  private safeStartSpeed(): number {
    // Run the ego's IDM at the desired speed; if it would brake hard, start slower.
    let v = this.egoSpeed;
    for (let i = 0; i < 20 && v > 0.5; i++) {
      const saved = this.egoSpeed;
      this.egoSpeed = v;
      const a = this.egoIdmAccel();
      this.egoSpeed = saved;
      if (a > -IDM.comfortDecel) break;
      v *= 0.8;
    }
    return v;
  }

  // ---------------------------------------------------------------- layout

  private add(
    rng: Rng,
    cls: ActorClass,
    place: { s: number; d: number; rel: number; speed: number; mode: Mode; targetD?: number },
    lightsOn: boolean,
    subtype = drawSubtype(rng, this.attributes.region, cls),
  ): Agent | null {
    const size = drawSize(rng, subtype);
    const candidate: Agent = {
      id: 0,
      cls,
      subtype,
      size,
      color: drawColor(rng, this.attributes.region, cls, subtype),
      s: place.s,
      d: place.d,
      rel: place.rel,
      speed: place.speed,
      desired: place.speed,
      mode: place.mode,
      targetD: place.targetD ?? place.d,
      lightsOn: lightsOn && (cls === 'car' || cls === 'truck' || subtype === 'scooter'),
    };
    if (this.overlaps(candidate)) return null;
    candidate.id = this.nextId++;
    this.agents.push(candidate);
    return candidate;
  }

  private overlaps(c: Agent): boolean {
    const along = (a: Agent): number =>
      Math.abs(Math.cos(a.rel)) * a.size.length + Math.abs(Math.sin(a.rel)) * a.size.width;
    const across = (a: Agent): number =>
      Math.abs(Math.sin(a.rel)) * a.size.length + Math.abs(Math.cos(a.rel)) * a.size.width;
    const margin = c.mode === 'lane' ? 4 : 0.3;
    // the ego's own footprint
    if (
      Math.abs(c.s - (EGO.length / 2 - EGO.rearOverhang)) < (along(c) + EGO.length) / 2 + margin &&
      Math.abs(c.d) < (across(c) + EGO.width) / 2 + 0.2
    ) {
      return true;
    }
    for (const a of this.agents) {
      const m = Math.max(margin, a.mode === 'lane' ? 4 : 0.3);
      if (
        Math.abs(c.s - a.s) < (along(c) + along(a)) / 2 + m &&
        Math.abs(c.d - a.d) < (across(c) + across(a)) / 2 + 0.1
      ) {
        return true;
      }
    }
    return false;
  }

  private populate(rng: Rng, unknownRate: number, lightsOn: boolean): void {
    const { roadType } = this.attributes;
    const road = this.road;
    const sameLanes = road.laneCount - this.oncoming;
    const truckShare = roadType === 'highway' ? 0.25 : roadType === 'rural' ? 0.15 : 0.08;
    const perLane = roadType === 'highway' ? [1, 4] : roadType === 'urban' ? [0, 3] : [0, 2];
    const lo = perLane[0] ?? 0;
    const hi = perLane[1] ?? 2;

    // Moving traffic, with and against the ego's direction.
    for (let lane = 0; lane < road.laneCount; lane++) {
      const oncoming = lane >= sameLanes;
      const count = rng.int(lo, hi);
      for (let n = 0; n < count; n++) {
        const cls: ActorClass = rng.chance(truckShare) ? 'truck' : 'car';
        for (let attempt = 0; attempt < 6; attempt++) {
          const s = rng.range(-25, 120);
          let desired = this.egoDesired * rng.range(0.85, 1.12);
          if (cls === 'truck') desired = Math.min(desired * 0.9, 25);
          const placed = this.add(
            rng,
            cls,
            {
              s,
              d: this.laneD(lane) + rng.normal(0, 0.12),
              rel: oncoming ? Math.PI : 0,
              speed: desired,
              mode: 'lane',
            },
            lightsOn,
          );
          if (placed !== null) break;
        }
      }
    }
    // (A highway's other carriageway lies beyond the barrier, outside this model.)

    const right = this.rightEdge;
    const left = this.leftEdge;
    const shoulder = road.shoulderWidth;
    const parking = 2.2;

    if (roadType === 'urban') {
      // Parked cars on both shoulders, facing their side's direction of travel.
      for (const side of [1, -1] as const) {
        const count = rng.int(0, 5);
        for (let n = 0; n < count; n++) {
          const cls: ActorClass = rng.chance(0.08) ? 'truck' : 'car';
          this.add(
            rng,
            cls,
            {
              s: rng.range(-10, 90),
              d: side === 1 ? right - parking / 2 : left + parking / 2,
              rel: side === 1 ? 0 : Math.PI,
              speed: 0,
              mode: 'parked',
            },
            false,
          );
        }
      }
      // Pedestrians on the sidewalks.
      const walkers = rng.int(1, 8);
      for (let n = 0; n < walkers; n++) this.addSidewalkPedestrian(rng, right, left, shoulder, parking);
      // Sometimes a group waiting or standing together (these make crowd regions far away).
      if (rng.chance(0.35)) {
        const side = rng.sign();
        const s = rng.range(20, 70);
        const dBase = side === 1 ? right - parking - 0.8 : left + parking + 0.8;
        const size = rng.int(3, 6);
        // Packed into about 1 m across and 3 m along the sidewalk.
        for (let n = 0; n < size; n++) {
          for (let attempt = 0; attempt < 5; attempt++) {
            const placed = this.add(
              rng,
              'pedestrian',
              {
                s: s + rng.range(-1.5, 1.5),
                d: dBase - side * rng.range(0, 0.9),
                rel: rng.range(-Math.PI, Math.PI),
                speed: 0,
                mode: 'stand',
              },
              false,
            );
            if (placed !== null) break;
          }
        }
      }
      // Sometimes someone crossing ahead.
      if (rng.chance(0.35)) this.addCrossing(rng, 'pedestrian', rng.range(15, 55), right, left, parking);
      // Cyclists near the right edge (sometimes on the oncoming side).
      const cyclists = rng.int(0, 2);
      for (let n = 0; n < cyclists; n++) this.addCyclist(rng, right, left, lightsOn);
    } else if (roadType === 'rural') {
      if (rng.chance(0.3)) this.addSidewalkPedestrian(rng, right, left, shoulder, 0);
      if (rng.chance(0.05)) this.addCrossing(rng, 'pedestrian', rng.range(25, 60), right, left, 0);
      if (rng.chance(0.35)) this.addCyclist(rng, right, left, lightsOn);
    }

    if (rng.chance(unknownRate)) {
      for (let attempt = 0; attempt < 8; attempt++) {
        if (this.addUnknown(rng, right, left, shoulder, parking) !== null) break;
      }
    }
  }

  private addSidewalkPedestrian(
    rng: Rng,
    right: number,
    left: number,
    shoulder: number,
    inner: number,
  ): void {
    const side = rng.sign();
    const width = Math.max(0.6, shoulder - inner);
    const d =
      side === 1 ? right - inner - rng.range(0.3, width - 0.3) : left + inner + rng.range(0.3, width - 0.3);
    const walking = rng.chance(0.7);
    for (let attempt = 0; attempt < 4; attempt++) {
      const placed = this.add(
        rng,
        'pedestrian',
        {
          s: rng.range(-5, 80),
          d,
          rel: walking ? (rng.chance(0.5) ? 0 : Math.PI) : rng.range(-Math.PI, Math.PI),
          speed: walking ? rng.range(0.9, 1.7) : 0,
          mode: walking ? 'walk' : 'stand',
        },
        false,
      );
      if (placed !== null) return;
    }
  }

  private addCrossing(
    rng: Rng,
    cls: ActorClass,
    s: number,
    right: number,
    left: number,
    inner: number,
  ): void {
    const fromRight = rng.chance(0.5);
    const start = fromRight ? right - inner - 0.5 : left + inner + 0.5;
    const end = fromRight ? left + inner + 1.0 : right - inner - 1.0;
    const speed = cls === 'pedestrian' ? rng.range(1.1, 1.6) : rng.range(1.5, 3.0);
    this.add(
      rng,
      cls,
      {
        s,
        d: start + (fromRight ? 1 : -1) * rng.range(0, 2.5),
        rel: fromRight ? Math.PI / 2 : -Math.PI / 2,
        speed,
        mode: 'cross',
        targetD: end,
      },
      false,
    );
  }

  private addCyclist(rng: Rng, right: number, left: number, lightsOn: boolean): void {
    const oncoming = this.oncoming > 0 && rng.chance(0.3);
    const subtype = drawSubtype(rng, this.attributes.region, 'cyclist');
    const speed = subtype === 'scooter' ? rng.range(8, 12) : rng.range(4, 7);
    for (let attempt = 0; attempt < 4; attempt++) {
      const placed = this.add(
        rng,
        'cyclist',
        {
          s: rng.range(-10, 90),
          d: oncoming ? left - rng.range(0.5, 0.9) : right + rng.range(0.5, 0.9),
          rel: oncoming ? Math.PI : 0,
          speed,
          mode: 'lane',
        },
        lightsOn,
        subtype,
      );
      if (placed !== null) return;
    }
  }

  private addUnknown(rng: Rng, right: number, left: number, shoulder: number, parking: number): Agent | null {
    const subtype = drawSubtype(rng, this.attributes.region, 'unknown');
    const s = rng.range(30, 100);
    if (subtype.startsWith('debris')) {
      const lane = rng.int(0, this.road.laneCount - 1);
      return this.add(
        rng,
        'unknown',
        {
          s,
          d: this.laneD(lane) + rng.range(-1, 1),
          rel: rng.range(-Math.PI, Math.PI),
          speed: 0,
          mode: 'static',
        },
        false,
        subtype,
      );
    }
    if (this.attributes.roadType === 'urban' && subtype === 'dog') {
      const d = rng.chance(0.5)
        ? right - parking - rng.range(0.4, 1.5)
        : left + parking + rng.range(0.4, 1.5);
      return this.add(
        rng,
        'unknown',
        {
          s: rng.range(10, 60),
          d,
          rel: rng.chance(0.5) ? 0 : Math.PI,
          speed: rng.range(0.8, 2),
          mode: 'walk',
        },
        false,
        subtype,
      );
    }
    const fromRight = rng.chance(0.5);
    const start = fromRight ? right - shoulder + 0.5 : left + shoulder - 0.5;
    const end = fromRight ? left + shoulder : right - shoulder;
    const stands = rng.chance(0.3);
    return this.add(
      rng,
      'unknown',
      {
        s,
        d: stands ? (fromRight ? right - 0.8 : left + 0.8) : start,
        rel: stands ? rng.range(-Math.PI, Math.PI) : fromRight ? Math.PI / 2 : -Math.PI / 2,
        speed: stands ? 0 : rng.range(1.2, 3),
        mode: stands ? 'stand' : 'cross',
        targetD: end,
      },
      false,
      subtype,
    );
  }
}

/**
 * Generates a scene of K frames from a seed: the attributes, the world state at each frame and the
 * ego's and actors' motion. The same seed and options always give the same scene.
 */
export function generateScene(seed: number | string, options: SceneOptions = {}): Scene {
  const frames = options.frames ?? 10;
  const frameInterval = options.frameInterval ?? 0.1;
  if (!Number.isInteger(frames) || frames < 1)
    throw new RangeError(`frames must be an integer >= 1, got ${frames}`);
  if (!(frameInterval > 0)) throw new RangeError(`frameInterval must be > 0, got ${frameInterval}`);
  const sim = new WorldSim(seed, options);
  const scene: Scene = {
    sceneId: sim.sceneId,
    seed: sim.seed,
    attributes: sim.attributes,
    frameInterval,
    frames: [],
    ego: [],
    roadPoses: [],
  };
  for (let k = 0; k < frames; k++) {
    if (k > 0) sim.step(frameInterval);
    const state = sim.state();
    state.time = round(k * frameInterval, 6);
    scene.frames.push(state);
    scene.ego.push({ ...sim.ego(), time: state.time });
    scene.roadPoses.push(sim.roadPoses());
  }
  return scene;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** An angle wrapped to (-pi, pi]. */
export function normalizeAngle(a: number): number {
  let x = a % (2 * Math.PI);
  if (x <= -Math.PI) x += 2 * Math.PI;
  else if (x > Math.PI) x -= 2 * Math.PI;
  return x;
}
