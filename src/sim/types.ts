/**
 * The data contract of closed-loop simulation (#17), shared by its three parts:
 *
 * - `openscenario/` parses .xosc files (and their .xodr road) into a `Scenario` and expands
 *   parameter sweeps into `ScenarioVariant`s;
 * - `engine/` runs one variant with one seed and one perception mode (`simulateRun`) and returns a
 *   `RunResult`;
 * - `sweep/` runs variants x seeds x models on a worker pool, writes the outputs and judges the
 *   Sim Gate.
 *
 * Everything here is plain data (JSON-serialisable, except recorded frame pixels), so it crosses
 * worker threads and checkpoint files unchanged.
 *
 * Frames: the **road frame** has x metres along the road's reference line (OpenDRIVE s), y metres
 * to the left of it (OpenDRIVE t), heading h radians counter-clockwise from +x. Right-hand
 * traffic: driving lanes lie right of the reference line with OpenDRIVE ids -1 (next to the
 * reference line) .. -laneCount, lane -k has its centre at y = -(k - 0.5) * laneWidth.
 */
import type { ActorClass, TimeOfDay, Weather } from '../world/types.js';

/** A value a scenario parameter can take after resolution. */
export type ParamValue = string | number | boolean;

/** The straight road a scenario runs on (from the OpenDRIVE file its RoadNetwork names). */
export interface SimRoad {
  /** The file it came from (relative to the scenario), for messages. */
  file: string;
  /** Length of the road, metres. */
  length: number;
  /** Number of driving lanes in +x direction (OpenDRIVE ids -1 .. -laneCount). */
  laneCount: number;
  /** Lane width, metres. */
  laneWidth: number;
  /** Sidewalk/shoulder width beyond the rightmost lane, metres (pedestrians start there). */
  shoulderWidth: number;
  /** Speed limit, m/s (OpenDRIVE `<speed max unit>`; default 50 km/h urban). */
  speedLimit: number;
  /** What the renderer draws (surface, markings, scenery). */
  roadType: 'highway' | 'urban' | 'rural';
}

/** What kind of thing an entity is, and how big. */
export interface EntitySpec {
  /** ScenarioObject name (unique). */
  name: string;
  /** True for the vehicle the controller drives: the entity named "Ego" or "hero" (case-insensitive). */
  isEgo: boolean;
  /** World class for rendering and metrics: Vehicle category car/van/bus -> car, truck/trailer -> truck, bicycle/motorbike -> cyclist; Pedestrian -> pedestrian. */
  cls: ActorClass;
  /** Appearance subtype as src/world/appearance.ts knows it ('sedan', 'adult', 'child', ...). */
  subtype: string;
  /** BoundingBox dimensions, metres. */
  size: { length: number; width: number; height: number };
  /** Performance limits (Vehicle Performance; pedestrians: maxSpeed 3, accel/decel 2). */
  maxSpeed: number;
  maxAcceleration: number;
  maxDeceleration: number;
}

/** A position as the subset supports it. */
export type SimPosition =
  | { kind: 'world'; x: number; y: number; h: number }
  /** LanePosition: lane centre + offset (left positive), s along the road. */
  | { kind: 'lane'; laneId: number; s: number; offset: number }
  /** RelativeLanePosition / RelativeObjectPosition resolved against another entity at the time it is used. */
  | { kind: 'relativeObject'; entity: string; dx: number; dy: number };

/** OpenSCENARIO TransitionDynamics. */
export interface TransitionDynamics {
  shape: 'step' | 'linear' | 'cubic' | 'sinusoidal';
  dimension: 'time' | 'distance' | 'rate';
  value: number;
}

/** A private action of the subset. */
export type SimAction =
  | { kind: 'teleport'; position: SimPosition }
  /** SpeedAction with AbsoluteTargetSpeed (m/s). On the ego it sets the controller's set speed. */
  | { kind: 'speed'; target: number; dynamics: TransitionDynamics }
  /** LaneChangeAction: absolute lane id, or relative to an entity's lane (positive = to the left). */
  | {
      kind: 'laneChange';
      target: { absolute: number } | { relative: { entity: string; value: number } };
      targetLaneOffset: number;
      dynamics: TransitionDynamics;
    };

/** Comparison rules (1.0 has the first three; 1.1+ adds the rest). */
export type Rule = 'greaterThan' | 'lessThan' | 'equalTo' | 'greaterOrEqual' | 'lessOrEqual' | 'notEqualTo';

/** A condition of the subset (ByValue SimulationTime; ByEntity with one triggering entity, 'any'/'all' rule kept). */
export type SimConditionKind =
  | { kind: 'simulationTime'; value: number; rule: Rule }
  | { kind: 'reachPosition'; entities: string[]; position: SimPosition; tolerance: number }
  | {
      kind: 'relativeDistance';
      entities: string[];
      ref: string;
      value: number;
      rule: Rule;
      freespace: boolean;
      distanceType: 'longitudinal' | 'lateral' | 'cartesian';
    }
  | { kind: 'timeHeadway'; entities: string[]; ref: string; value: number; rule: Rule; freespace: boolean }
  | {
      kind: 'timeToCollision';
      entities: string[];
      target: { entity: string } | { position: SimPosition };
      value: number;
      rule: Rule;
      freespace: boolean;
    };

/** A Condition element: the check plus its name, delay and edge. */
export type SimCondition = SimConditionKind & {
  name: string;
  delay: number;
  edge: 'rising' | 'falling' | 'risingOrFalling' | 'none';
  /** For ByEntity conditions: TriggeringEntities triggeringEntitiesRule. */
  triggeringRule?: 'any' | 'all';
  /** Line in the .xosc, for messages. */
  line: number;
};

/** A Trigger: fires when any ConditionGroup has all of its conditions true. */
export interface SimTrigger {
  groups: SimCondition[][];
}

/** An Event with its place in the story. */
export interface SimEvent {
  /** "story/act/maneuverGroup/maneuver/event" names, for logs. */
  path: string;
  name: string;
  /** The ManeuverGroup's actors (EntityRef names). */
  actors: string[];
  actions: SimAction[];
  start: SimTrigger;
  priority: 'overwrite' | 'skip' | 'parallel';
  maximumExecutionCount: number;
  /** The enclosing Act's start trigger (must have fired before this event can start); null = immediately. */
  actStart: SimTrigger | null;
}

/** Environment as the renderer understands it, from the Environment element. */
export interface SimEnvironment {
  weather: Weather;
  timeOfDay: TimeOfDay;
  /** Fog visual range, metres, when given. */
  fogVisualRange: number | null;
  /** Precipitation intensity (1.0: intensity; 1.1+: precipitationIntensity mm/h), when given. */
  precipitationIntensity: number | null;
  /** TimeOfDay dateTime as written. */
  dateTime: string | null;
}

/** A parsed, parameter-resolved scenario. */
export interface Scenario {
  file: string;
  /** OpenSCENARIO revision the FileHeader declares. */
  version: '1.0' | '1.1' | '1.3';
  /** FileHeader description. */
  description: string;
  /** Scenario family for filters and gates (e.g. "CCRs"): a `family` parameter, else the file stem. */
  family: string;
  /** Scenario category for the gate (e.g. "ncap", "cut-in"): a `category` parameter, else "default". */
  category: string;
  /** Resolved parameter values (declared defaults overridden by the sweep). */
  parameters: Record<string, ParamValue>;
  road: SimRoad;
  entities: EntitySpec[];
  /** Name of the ego entity. */
  ego: string;
  /** Init Private actions per entity. */
  init: Array<{ entity: string; actions: SimAction[] }>;
  events: SimEvent[];
  /** The Storyboard StopTrigger; the engine also stops at `maxDuration`. */
  stop: SimTrigger | null;
  environment: SimEnvironment;
  /** Upper bound on simulated time, seconds (a `max_duration` parameter, else 30). */
  maxDuration: number;
}

/** One point of a sweep: a scenario with one set of parameter values. */
export interface ScenarioVariant {
  /** Stable id: `<family>/<k>=<v>,...` over the swept parameters, sorted by name. */
  id: string;
  family: string;
  category: string;
  /** The scenario file. */
  file: string;
  /** The swept parameters and their values for this variant. */
  parameters: Record<string, ParamValue>;
  scenario: Scenario;
}

/** Where perception comes from in a run. */
export type PerceptionSpec =
  | { kind: 'ground-truth' }
  /** An ONNX model (+ inference config) run through src/runtime; `label` names it in outputs. */
  | { kind: 'model'; modelPath: string; configPath: string; label: string };

/** Options of one run. */
export interface RunOptions {
  /** Randomizes appearance, fine conditions, background density; same seed, same result. */
  seed: number;
  perception: PerceptionSpec;
  /** Physics step, seconds (default 0.01). */
  dt?: number;
  /** Camera + perception rate, Hz (default 10). */
  perceptionHz?: number;
  /** Record frames for a clip (camera RGB with detections, top-down state) at the perception rate. */
  record?: boolean;
}

/** Metrics of one run. Distances in metres, speeds m/s, times seconds. */
export interface RunMetrics {
  collision: boolean;
  /** Entity the ego hit first, and its class. */
  collisionEntity: string | null;
  collisionClass: ActorClass | null;
  /** Relative speed at first contact (0 when none). */
  impactSpeedMps: number;
  /** Minimum time to collision with any actor in the ego's path (null if never closing). */
  minTtcS: number | null;
  /** Minimum bumper-to-bumper (free-space) distance to any actor. */
  minDistanceM: number;
  maxDecelMps2: number;
  maxJerkMps3: number;
  /**
   * Braking episodes for perceived objects (any FCW/AEB activation, or an ACC deceleration command
   * beyond 2 m/s^2) with no real threat at any time during them (ground truth: no in-path actor
   * with TTC <= 3 s or within 2 m, none crossing into the path within 3 s, no lead the ACC law
   * would brake for beyond 2 m/s^2).
   */
  falseBrakeEvents: number;
  /** True when the ego's footprint left its lane's boundaries. */
  laneDeparture: boolean;
  /** Seconds spent above the road speed limit (+1 m/s slack). */
  speedLimitViolationS: number;
  /** Seconds from the threat entering the ego path to the first matching tracked detection (null: never detected / no threat). */
  timeToFirstDetectionS: number | null;
  /** Time of the first forward collision warning / AEB activation (null: none). */
  fcwTimeS: number | null;
  aebTimeS: number | null;
  /** Near miss: no collision but min TTC < 1.0 s or min distance < 0.5 m. */
  nearMiss: boolean;
  /** Class of the scenario's threat (the non-ego entity that came closest), for VRU statistics. */
  threatClass: ActorClass | null;
  /** Distance the ego drove and simulated duration. */
  distanceM: number;
  durationS: number;
  /** Why it ended: 'stop-trigger' | 'max-duration' | 'collision' | 'road-end'. */
  endReason: string;
}

/** One recorded frame (only with `record: true`). */
export interface RecordedFrame {
  time: number;
  width: number;
  height: number;
  /** Ego camera RGB, 3 bytes per pixel. */
  rgb: Uint8Array;
  /** Detections drawn on it: box [x, y, w, h] in pixels, class, score, estimated distance (m). */
  detections: Array<{
    box: [number, number, number, number];
    cls: string;
    score: number;
    distanceM: number | null;
  }>;
  /** Top-down state: every entity's road-frame pose and size. */
  entities: Array<{
    name: string;
    cls: ActorClass;
    x: number;
    y: number;
    h: number;
    length: number;
    width: number;
  }>;
  egoSpeed: number;
  egoAccel: number;
  /** Controller state: 'cruise' | 'follow' | 'fcw' | 'aeb-partial' | 'aeb-full'. */
  mode: string;
}

/** What `simulateRun` returns. */
export interface RunResult {
  variantId: string;
  seed: number;
  /** PerceptionSpec label ('ground-truth' or the model label). */
  model: string;
  metrics: RunMetrics;
  /** The randomization drawn from the seed (weather detail, colours, densities), for the summary. */
  randomization: Record<string, ParamValue>;
  /** Wall-clock seconds the run took, and simulated seconds (for real-time factors). */
  wallS: number;
  simS: number;
  frames?: RecordedFrame[];
}
