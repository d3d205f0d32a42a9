/**
 * Builds a `Scenario` from a parsed, XSD-valid, in-subset OpenSCENARIO ScenarioDefinition and a set of
 * parameter values: resolves `$param` / `${expr}` attributes in their scopes, converts positions into
 * the road frame, maps entities to world classes and the Environment to weather and time of day.
 */
import { basename, extname } from 'node:path';
import { badInput } from '../../core/errors.js';
import { SUBTYPE_SIZES } from '../../world/appearance.js';
import type { ActorClass, TimeOfDay, Weather } from '../../world/types.js';
import type {
  EntitySpec,
  ParamValue,
  Rule,
  Scenario,
  SimAction,
  SimCondition,
  SimEnvironment,
  SimEvent,
  SimPosition,
  SimRoad,
  SimTrigger,
  TransitionDynamics,
} from '../types.js';
import { ParamScope, readDeclarations } from './params.js';
import type { RoadOrigin } from './road.js';
import type { OscVersion } from './xsd.js';
import type { XNode } from './xml.js';
import { child, childrenNamed } from './xml.js';

/** What the builder needs besides the element tree. */
export interface BuildInput {
  file: string;
  root: XNode;
  version: OscVersion;
  road: SimRoad;
  origin: RoadOrigin;
  /** Values replacing declared defaults of global parameters. */
  overrides: ReadonlyMap<string, ParamValue>;
}

const RULES: ReadonlySet<string> = new Set([
  'greaterThan',
  'lessThan',
  'equalTo',
  'greaterOrEqual',
  'lessOrEqual',
  'notEqualTo',
]);

/** Builds the Scenario (throws BAD_INPUT naming file, line and attribute on bad values). */
export function buildScenario(input: BuildInput): Scenario {
  const { file, root, road, origin } = input;
  const fail = (msg: string, node: XNode, field?: string, expected?: string, found?: string): never => {
    throw badInput(msg, {
      file,
      line: field !== undefined ? (node.attrLines[field] ?? node.line) : node.line,
      ...(field !== undefined ? { field: `${node.name}@${field}` } : {}),
      ...(expected !== undefined ? { expected } : {}),
      ...(found !== undefined ? { found } : {}),
    });
  };
  const need = (node: XNode, name: string): XNode => child(node, name) ?? fail(`missing <${name}>`, node);

  const globals = new ParamScope().declare(
    readDeclarations(child(root, 'ParameterDeclarations')),
    file,
    input.overrides,
  );
  for (const name of input.overrides.keys()) {
    if (globals.get(name) === undefined) {
      throw badInput(`sweep sets parameter '${name}' that the scenario does not declare`, { file });
    }
  }
  const parameters: Record<string, ParamValue> = {};
  for (const d of readDeclarations(child(root, 'ParameterDeclarations'))) {
    const v = globals.get(d.name);
    if (v !== undefined) parameters[d.name] = v;
  }

  // Typed attribute readers over a scope.
  const raw = (scope: ParamScope, n: XNode, attr: string): ParamValue | undefined => {
    const r = n.attrs[attr];
    if (r === undefined) return undefined;
    return scope.resolve(r, { file, line: n.attrLines[attr] ?? n.line, field: `${n.name}@${attr}` });
  };
  const str = (scope: ParamScope, n: XNode, attr: string, dflt?: string): string => {
    const v = raw(scope, n, attr);
    if (v === undefined) return dflt ?? fail(`missing attribute '${attr}'`, n, attr);
    return String(v);
  };
  const num = (scope: ParamScope, n: XNode, attr: string, dflt?: number): number => {
    const v = raw(scope, n, attr);
    if (v === undefined) return dflt ?? fail(`missing attribute '${attr}'`, n, attr);
    const x = typeof v === 'number' ? v : typeof v === 'boolean' ? NaN : Number(v);
    if (!Number.isFinite(x)) fail('not a number', n, attr, 'a number', `'${String(v)}'`);
    return x;
  };
  const bool = (scope: ParamScope, n: XNode, attr: string, dflt?: boolean): boolean => {
    const v = raw(scope, n, attr);
    if (v === undefined) return dflt ?? fail(`missing attribute '${attr}'`, n, attr);
    if (v === true || v === 'true' || v === '1' || v === 1) return true;
    if (v === false || v === 'false' || v === '0' || v === 0) return false;
    return fail('not a boolean', n, attr, 'true or false', `'${String(v)}'`);
  };
  const oneOf = <T extends string>(
    scope: ParamScope,
    n: XNode,
    attr: string,
    allowed: readonly T[],
    dflt?: T,
  ): T => {
    const v = str(scope, n, attr, dflt);
    if (!(allowed as readonly string[]).includes(v))
      fail(`unsupported value of '${attr}'`, n, attr, allowed.join('|'), `'${v}'`);
    return v as T;
  };

  // Entities.
  const entities: EntitySpec[] = [];
  /** BoundingBox Center (x forward, y left) of each entity relative to its reference point. */
  const centers = new Map<string, { x: number; y: number }>();
  for (const so of childrenNamed(need(root, 'Entities'), 'ScenarioObject')) {
    const name = str(globals, so, 'name');
    if (entities.some((e) => e.name === name)) fail(`duplicate entity name '${name}'`, so, 'name');
    const obj = so.children[0] ?? fail('ScenarioObject without Vehicle or Pedestrian', so);
    const scope = globals.declare(readDeclarations(child(obj, 'ParameterDeclarations')), file);
    const dims = need(need(obj, 'BoundingBox'), 'Dimensions');
    const size = {
      length: num(scope, dims, 'length'),
      width: num(scope, dims, 'width'),
      height: num(scope, dims, 'height'),
    };
    const center = need(need(obj, 'BoundingBox'), 'Center');
    centers.set(name, { x: num(scope, center, 'x'), y: num(scope, center, 'y') });
    const props = new Map<string, string>();
    for (const p of childrenNamed(child(obj, 'Properties') ?? obj, 'Property'))
      props.set(str(scope, p, 'name'), str(scope, p, 'value'));
    let cls: ActorClass;
    let subtype: string;
    let perf: { maxSpeed: number; maxAcceleration: number; maxDeceleration: number };
    if (obj.name === 'Vehicle') {
      const cat = str(scope, obj, 'vehicleCategory');
      const byCat: Record<string, [ActorClass, string]> = {
        car: ['car', 'sedan'],
        van: ['car', 'van'],
        bus: ['car', 'van'],
        truck: ['truck', 'box_truck'],
        trailer: ['truck', 'flatbed'],
        semitrailer: ['truck', 'semi'],
        bicycle: ['cyclist', 'bicycle'],
        motorbike: ['cyclist', 'scooter'],
      };
      const m =
        byCat[cat] ??
        fail(
          `vehicleCategory '${cat}' is outside the supported subset`,
          obj,
          'vehicleCategory',
          Object.keys(byCat).join('|'),
          cat,
        );
      [cls, subtype] = m;
      const p = need(obj, 'Performance');
      perf = {
        maxSpeed: num(scope, p, 'maxSpeed'),
        maxAcceleration: num(scope, p, 'maxAcceleration'),
        maxDeceleration: num(scope, p, 'maxDeceleration'),
      };
    } else {
      const cat = str(scope, obj, 'pedestrianCategory');
      if (cat === 'animal') {
        cls = 'unknown';
        subtype = size.length > 1.2 ? 'deer' : 'dog';
      } else {
        cls = 'pedestrian';
        subtype = size.height < 1.4 ? 'child' : 'adult';
      }
      perf = { maxSpeed: 3, maxAcceleration: 2, maxDeceleration: 2 };
    }
    const sub = props.get('subtype');
    if (sub !== undefined) {
      if (SUBTYPE_SIZES[sub] === undefined)
        fail(
          `unknown appearance subtype '${sub}'`,
          obj,
          undefined,
          Object.keys(SUBTYPE_SIZES).join('|'),
          sub,
        );
      subtype = sub;
    }
    const isEgo = /^(ego|hero)$/i.test(name);
    if (isEgo && obj.name !== 'Vehicle') fail(`the ego entity '${name}' must be a Vehicle`, so);
    entities.push({ name, isEgo, cls, subtype, size, ...perf });
  }
  const egos = entities.filter((e) => e.isEgo);
  if (egos.length !== 1) {
    throw badInput('a scenario needs exactly one ego entity (named "Ego" or "hero")', {
      file,
      line: need(root, 'Entities').line,
      found: egos.length === 0 ? 'none' : egos.map((e) => e.name).join(', '),
    });
  }
  const ego = egos[0]?.name ?? '';
  const entityRef = (scope: ParamScope, n: XNode, attr: string): string => {
    const name = str(scope, n, attr);
    if (!entities.some((e) => e.name === name))
      fail(`unknown entity '${name}'`, n, attr, entities.map((e) => e.name).join('|'), name);
    return name;
  };

  // Positions, in the road frame.
  const cos = Math.cos(origin.hdg);
  const sin = Math.sin(origin.hdg);
  const shoulderLane = -(road.laneCount + 1);
  const position = (scope: ParamScope, pos: XNode): SimPosition => {
    const p = pos.children[0] ?? fail('empty <Position>', pos);
    if (p.name === 'WorldPosition') {
      const dx = num(scope, p, 'x') - origin.x;
      const dy = num(scope, p, 'y') - origin.y;
      return {
        kind: 'world',
        x: dx * cos + dy * sin,
        y: -dx * sin + dy * cos,
        h: num(scope, p, 'h', origin.hdg) - origin.hdg,
      };
    }
    if (p.name === 'RelativeObjectPosition') {
      return {
        kind: 'relativeObject',
        entity: entityRef(scope, p, 'entityRef'),
        dx: num(scope, p, 'dx'),
        dy: num(scope, p, 'dy'),
      };
    }
    // LanePosition
    const roadId = str(scope, p, 'roadId');
    if (roadId !== origin.roadId) fail('LanePosition names another road', p, 'roadId', origin.roadId, roadId);
    const laneId = Math.round(num(scope, p, 'laneId'));
    const s = num(scope, p, 's');
    const offset = num(scope, p, 'offset', 0);
    if (s < 0 || s > road.length) fail('s outside the road', p, 's', `0..${road.length}`, String(s));
    const isShoulder = laneId === shoulderLane && road.shoulderWidth > 0;
    if (!isShoulder && (laneId > -1 || laneId < -road.laneCount)) {
      fail(
        'laneId outside the road',
        p,
        'laneId',
        `-1..${road.shoulderWidth > 0 ? shoulderLane : -road.laneCount}`,
        String(laneId),
      );
    }
    const o = child(p, 'Orientation');
    if (!isShoulder && o === undefined) return { kind: 'lane', laneId, s, offset };
    const y = isShoulder
      ? -(road.laneCount * road.laneWidth + road.shoulderWidth / 2) + offset
      : -(-laneId - 0.5) * road.laneWidth + offset;
    let h = 0;
    if (o !== undefined) {
      const type = oneOf(scope, o, 'type', ['relative', 'absolute'] as const, 'relative');
      for (const a of ['p', 'r'])
        if (num(scope, o, a, 0) !== 0) fail('pitch/roll orientations are outside the subset', o, a, '0');
      h = num(scope, o, 'h', 0) - (type === 'absolute' ? origin.hdg : 0);
    }
    return { kind: 'world', x: s, y, h };
  };

  const dynamics = (scope: ParamScope, d: XNode): TransitionDynamics => ({
    shape: oneOf(scope, d, 'dynamicsShape', ['step', 'linear', 'cubic', 'sinusoidal'] as const),
    dimension: oneOf(scope, d, 'dynamicsDimension', ['time', 'distance', 'rate'] as const),
    value: num(scope, d, 'value'),
  });

  const privateAction = (scope: ParamScope, pa: XNode): SimAction => {
    const a = pa.children[0] ?? fail('empty <PrivateAction>', pa);
    if (a.name === 'TeleportAction')
      return { kind: 'teleport', position: position(scope, need(a, 'Position')) };
    if (a.name === 'LongitudinalAction') {
      const sa = need(a, 'SpeedAction');
      const target = num(scope, need(need(sa, 'SpeedActionTarget'), 'AbsoluteTargetSpeed'), 'value');
      if (target < 0) fail('negative target speed', sa, undefined, '>= 0', String(target));
      return { kind: 'speed', target, dynamics: dynamics(scope, need(sa, 'SpeedActionDynamics')) };
    }
    const lc = need(a, 'LaneChangeAction');
    const t = need(lc, 'LaneChangeTarget').children[0] ?? fail('empty <LaneChangeTarget>', lc);
    let target: { absolute: number } | { relative: { entity: string; value: number } };
    if (t.name === 'AbsoluteTargetLane') {
      const lane = Math.round(num(scope, t, 'value'));
      if (lane > -1 || lane < -road.laneCount)
        fail('target lane outside the road', t, 'value', `-1..${-road.laneCount}`, String(lane));
      target = { absolute: lane };
    } else {
      target = {
        relative: { entity: entityRef(scope, t, 'entityRef'), value: Math.round(num(scope, t, 'value')) },
      };
    }
    return {
      kind: 'laneChange',
      target,
      targetLaneOffset: num(scope, lc, 'targetLaneOffset', 0),
      dynamics: dynamics(scope, need(lc, 'LaneChangeActionDynamics')),
    };
  };

  const rule = (scope: ParamScope, n: XNode): Rule => {
    const r = str(scope, n, 'rule');
    if (!RULES.has(r)) fail('unknown rule', n, 'rule', [...RULES].join('|'), r);
    return r as Rule;
  };
  const condition = (scope: ParamScope, c: XNode): SimCondition => {
    const base = {
      name: str(scope, c, 'name'),
      delay: num(scope, c, 'delay', 0),
      edge: oneOf(scope, c, 'conditionEdge', ['rising', 'falling', 'risingOrFalling', 'none'] as const),
      line: c.line,
    };
    const byValue = child(c, 'ByValueCondition');
    if (byValue !== undefined) {
      const st = need(byValue, 'SimulationTimeCondition');
      return { ...base, kind: 'simulationTime', value: num(scope, st, 'value'), rule: rule(scope, st) };
    }
    const be = need(c, 'ByEntityCondition');
    const te = need(be, 'TriggeringEntities');
    const triggeringRule = oneOf(scope, te, 'triggeringEntitiesRule', ['any', 'all'] as const);
    const entitiesOf = childrenNamed(te, 'EntityRef').map((r) => entityRef(scope, r, 'entityRef'));
    if (entitiesOf.length === 0) fail('no triggering entity', te);
    const ec = need(be, 'EntityCondition').children[0] ?? fail('empty <EntityCondition>', be);
    if (ec.attrs['coordinateSystem'] !== undefined) {
      const cs = str(scope, ec, 'coordinateSystem');
      if (cs !== 'entity' && cs !== 'road')
        fail('unsupported coordinateSystem', ec, 'coordinateSystem', 'entity|road', cs);
    }
    if (ec.name === 'TimeToCollisionCondition' && ec.attrs['relativeDistanceType'] !== undefined) {
      const rt = str(scope, ec, 'relativeDistanceType');
      if (rt === 'lateral')
        fail(
          'a lateral time to collision is outside the subset',
          ec,
          'relativeDistanceType',
          'longitudinal|cartesianDistance|euclidianDistance',
          rt,
        );
    }
    const common = { ...base, triggeringRule, entities: entitiesOf };
    switch (ec.name) {
      case 'ReachPositionCondition':
        return {
          ...common,
          kind: 'reachPosition',
          position: position(scope, need(ec, 'Position')),
          tolerance: num(scope, ec, 'tolerance'),
        };
      case 'RelativeDistanceCondition': {
        const t = oneOf(scope, ec, 'relativeDistanceType', [
          'longitudinal',
          'lateral',
          'cartesianDistance',
          'euclidianDistance',
        ] as const);
        return {
          ...common,
          kind: 'relativeDistance',
          ref: entityRef(scope, ec, 'entityRef'),
          value: num(scope, ec, 'value'),
          rule: rule(scope, ec),
          freespace: bool(scope, ec, 'freespace'),
          distanceType: t === 'longitudinal' || t === 'lateral' ? t : 'cartesian',
        };
      }
      case 'TimeHeadwayCondition':
        return {
          ...common,
          kind: 'timeHeadway',
          ref: entityRef(scope, ec, 'entityRef'),
          value: num(scope, ec, 'value'),
          rule: rule(scope, ec),
          freespace: bool(scope, ec, 'freespace'),
        };
      default: {
        // TimeToCollisionCondition
        const tgt =
          need(ec, 'TimeToCollisionConditionTarget').children[0] ??
          fail('empty TimeToCollisionConditionTarget', ec);
        return {
          ...common,
          kind: 'timeToCollision',
          target:
            tgt.name === 'EntityRef'
              ? { entity: entityRef(scope, tgt, 'entityRef') }
              : { position: position(scope, tgt) },
          value: num(scope, ec, 'value'),
          rule: rule(scope, ec),
          freespace: bool(scope, ec, 'freespace'),
        };
      }
    }
  };
  const trigger = (scope: ParamScope, t: XNode | undefined): SimTrigger | null =>
    t === undefined
      ? null
      : {
          groups: childrenNamed(t, 'ConditionGroup').map((g) =>
            childrenNamed(g, 'Condition').map((c) => condition(scope, c)),
          ),
        };

  // Storyboard.
  const sb = need(root, 'Storyboard');
  const init: Scenario['init'] = [];
  let envNode: XNode | undefined;
  let envScope = globals;
  const initActions = need(need(sb, 'Init'), 'Actions');
  for (const a of initActions.children) {
    if (a.name === 'GlobalAction') {
      const env = need(need(a, 'EnvironmentAction'), 'Environment');
      if (envNode !== undefined) fail('more than one EnvironmentAction in Init', a);
      envNode = env;
      envScope = globals.declare(readDeclarations(child(env, 'ParameterDeclarations')), file);
      continue;
    }
    const entity = entityRef(globals, a, 'entityRef');
    const c = centers.get(entity) ?? { x: 0, y: 0 };
    const actions = childrenNamed(a, 'PrivateAction').map((pa) => toCentre(privateAction(globals, pa), c));
    const existing = init.find((i) => i.entity === entity);
    if (existing !== undefined) existing.actions.push(...actions);
    else init.push({ entity, actions });
  }
  for (const e of entities) {
    const acts = init.find((i) => i.entity === e.name)?.actions ?? [];
    if (!acts.some((a) => a.kind === 'teleport')) {
      throw badInput(
        `entity '${e.name}' has no TeleportAction in Init (every entity needs a start position)`,
        { file, line: initActions.line },
      );
    }
  }

  const events: SimEvent[] = [];
  for (const story of childrenNamed(sb, 'Story')) {
    const sScope = globals.declare(readDeclarations(child(story, 'ParameterDeclarations')), file);
    const sName = str(sScope, story, 'name');
    for (const act of childrenNamed(story, 'Act')) {
      const aName = str(sScope, act, 'name');
      const actStart = trigger(sScope, child(act, 'StartTrigger'));
      for (const mg of childrenNamed(act, 'ManeuverGroup')) {
        const mgName = str(sScope, mg, 'name');
        const actorsNode = need(mg, 'Actors');
        if (bool(sScope, actorsNode, 'selectTriggeringEntities')) {
          fail(
            'selectTriggeringEntities="true" is outside the supported subset',
            actorsNode,
            'selectTriggeringEntities',
            'false',
            'true',
          );
        }
        const actors = childrenNamed(actorsNode, 'EntityRef').map((r) => entityRef(sScope, r, 'entityRef'));
        const mgMax = num(sScope, mg, 'maximumExecutionCount');
        if (mgMax !== 1)
          fail(
            'ManeuverGroup maximumExecutionCount other than 1 is outside the subset',
            mg,
            'maximumExecutionCount',
            '1',
            String(mgMax),
          );
        for (const man of childrenNamed(mg, 'Maneuver')) {
          const mScope = sScope.declare(readDeclarations(child(man, 'ParameterDeclarations')), file);
          const mName = str(mScope, man, 'name');
          for (const ev of childrenNamed(man, 'Event')) {
            const eName = str(mScope, ev, 'name');
            const actions = childrenNamed(ev, 'Action').map((a) =>
              privateAction(mScope, need(a, 'PrivateAction')),
            );
            if (actions.length > 0 && actors.length === 0)
              fail('event with private actions but the ManeuverGroup has no actors', ev);
            const pr = oneOf(mScope, ev, 'priority', ['overwrite', 'override', 'skip', 'parallel'] as const);
            const st = child(ev, 'StartTrigger');
            const start: SimTrigger = trigger(mScope, st) ?? {
              groups: [
                [
                  {
                    kind: 'simulationTime',
                    value: 0,
                    rule: 'greaterOrEqual',
                    name: '(no StartTrigger)',
                    delay: 0,
                    edge: 'none',
                    line: ev.line,
                  },
                ],
              ],
            };
            events.push({
              path: `${sName}/${aName}/${mgName}/${mName}/${eName}`,
              name: eName,
              actors,
              actions,
              start,
              priority: pr === 'override' ? 'overwrite' : pr,
              maximumExecutionCount: num(mScope, ev, 'maximumExecutionCount', 1),
              actStart,
            });
          }
        }
      }
    }
  }

  const header = need(root, 'FileHeader');
  const family =
    parameters['family'] !== undefined ? String(parameters['family']) : basename(file, extname(file));
  const category = parameters['category'] !== undefined ? String(parameters['category']) : 'default';
  const maxDuration = parameters['max_duration'] !== undefined ? Number(parameters['max_duration']) : 30;
  if (!Number.isFinite(maxDuration) || maxDuration <= 0)
    throw badInput('max_duration must be a positive number of seconds', {
      file,
      found: String(parameters['max_duration']),
    });

  return {
    file,
    version: input.version,
    description: header.attrs['description'] ?? '',
    family,
    category,
    parameters,
    road,
    entities,
    ego,
    init,
    events,
    stop: trigger(globals, child(sb, 'StopTrigger')),
    environment: environment(envNode, envScope, { str, num }, file),
    maxDuration,
  };
}

/**
 * Moves an Init teleport from the entity's reference point (what OpenSCENARIO positions locate) to the
 * centre of its bounding box (what the engine simulates): centre = position + BoundingBox Center.
 */
function toCentre(a: SimAction, c: { x: number; y: number }): SimAction {
  if (a.kind !== 'teleport' || (c.x === 0 && c.y === 0)) return a;
  const p = a.position;
  if (p.kind === 'world') {
    const cos = Math.cos(p.h);
    const sin = Math.sin(p.h);
    return {
      kind: 'teleport',
      position: { ...p, x: p.x + c.x * cos - c.y * sin, y: p.y + c.x * sin + c.y * cos },
    };
  }
  if (p.kind === 'lane')
    return { kind: 'teleport', position: { ...p, s: p.s + c.x, offset: p.offset + c.y } };
  return { kind: 'teleport', position: { ...p, dx: p.dx + c.x, dy: p.dy + c.y } };
}

interface Readers {
  str: (scope: ParamScope, n: XNode, attr: string, dflt?: string) => string;
  num: (scope: ParamScope, n: XNode, attr: string, dflt?: number) => number;
}

/** Fog thinner than this visual range (metres) counts as clear (meteorological fog is < 1 km). */
export const FOG_VISUAL_RANGE_M = 1000;

/**
 * Maps an Environment element to the renderer's weather and time of day: precipitation (rain/snow with
 * intensity > 0) wins, else fog when the visual range is below 1 km, else clear; the hour of
 * TimeOfDay@dateTime gives night (< 05:00 or >= 21:00), dusk (05:00-07:00, 18:00-21:00) or day; without
 * TimeOfDay the Sun elevation decides (< -0.1 rad night, < 0.15 rad dusk). No Environment: clear day.
 */
function environment(env: XNode | undefined, scope: ParamScope, r: Readers, file: string): SimEnvironment {
  const out: SimEnvironment = {
    weather: 'clear',
    timeOfDay: 'day',
    fogVisualRange: null,
    precipitationIntensity: null,
    dateTime: null,
  };
  if (env === undefined) return out;
  const weather = child(env, 'Weather');
  let w: Weather = 'clear';
  const fog = weather === undefined ? undefined : child(weather, 'Fog');
  if (fog !== undefined) {
    out.fogVisualRange = r.num(scope, fog, 'visualRange');
    if (out.fogVisualRange < FOG_VISUAL_RANGE_M) w = 'fog';
  }
  const pr = weather === undefined ? undefined : child(weather, 'Precipitation');
  if (pr !== undefined) {
    const type = r.str(scope, pr, 'precipitationType');
    const intensity =
      pr.attrs['precipitationIntensity'] !== undefined
        ? r.num(scope, pr, 'precipitationIntensity')
        : r.num(scope, pr, 'intensity', 0);
    out.precipitationIntensity = intensity;
    if (intensity > 0 && type === 'rain') w = 'rain';
    if (intensity > 0 && type === 'snow') w = 'snow';
  }
  out.weather = w;
  const tod = child(env, 'TimeOfDay');
  const sun = weather === undefined ? undefined : child(weather, 'Sun');
  let t: TimeOfDay = 'day';
  if (tod !== undefined) {
    const dt = r.str(scope, tod, 'dateTime');
    out.dateTime = dt;
    const m = /T(\d{2}):(\d{2})/.exec(dt);
    if (m === null)
      throw badInput('TimeOfDay dateTime without a time', {
        file,
        line: tod.attrLines['dateTime'] ?? tod.line,
        expected: 'YYYY-MM-DDThh:mm:ss',
        found: dt,
      });
    const hour = Number(m[1]) + Number(m[2]) / 60;
    t = hour < 5 || hour >= 21 ? 'night' : hour < 7 || hour >= 18 ? 'dusk' : 'day';
  } else if (sun !== undefined) {
    const el = r.num(scope, sun, 'elevation');
    t = el < -0.1 ? 'night' : el < 0.15 ? 'dusk' : 'day';
  }
  out.timeOfDay = t;
  return out;
}
