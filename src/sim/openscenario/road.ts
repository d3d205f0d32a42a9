/**
 * The OpenDRIVE subset drivegate simulates on: one straight road (planView of `line` geometries that
 * continue one another along one heading), one lane section, driving lanes right of the reference line
 * (ids -1..-n, equal constant widths) and optionally one sidewalk/shoulder/border/curb lane beyond them,
 * `<type>` with `<speed max unit>`. Anything else is refused with the element and line.
 */
import { readFileSync } from 'node:fs';
import { badInput } from '../../core/errors.js';
import type { SimRoad } from '../types.js';
import type { XNode } from './xml.js';
import { child, childrenNamed, parseXml } from './xml.js';

const EDGE_LANE_TYPES = new Set(['sidewalk', 'shoulder', 'border', 'curb', 'walking', 'biking', 'none']);

/** Reads and parses an OpenDRIVE file into a SimRoad; `label` names it in messages (default: the path). */
export function loadRoad(path: string, label: string = path): SimRoad {
  return loadRoadWithOrigin(path, label).road;
}

/** Parses OpenDRIVE XML text into a SimRoad (the straight-road subset). */
export function parseOpenDrive(text: string, file: string): SimRoad {
  return parseOpenDriveWithOrigin(text, file).road;
}

/** Where the road's reference line starts in OpenDRIVE inertial coordinates, and its heading. */
export interface RoadOrigin {
  x: number;
  y: number;
  hdg: number;
  /** The road's OpenDRIVE id (LanePositions must name it). */
  roadId: string;
}

/** Reads an OpenDRIVE file into a SimRoad and the origin of its reference line. */
export function loadRoadWithOrigin(
  path: string,
  label: string = path,
): { road: SimRoad; origin: RoadOrigin } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw badInput(`cannot read OpenDRIVE file: ${(err as Error).message}`, { file: label });
  }
  return parseOpenDriveWithOrigin(text, label);
}

/** Parses OpenDRIVE XML text into a SimRoad and the origin (x, y, hdg) of its reference line. */
export function parseOpenDriveWithOrigin(text: string, file: string): { road: SimRoad; origin: RoadOrigin } {
  const root = parseXml(text, file);
  const fail = (msg: string, node: XNode, extra: { expected?: string; found?: string } = {}): never => {
    throw badInput(msg, { file, line: node.line, ...extra });
  };
  if (root.name !== 'OpenDRIVE')
    fail('not an OpenDRIVE file', root, { expected: '<OpenDRIVE>', found: `<${root.name}>` });
  const header = child(root, 'header');
  if (header === undefined) return fail('missing <header>', root);
  const major = Number(header.attrs['revMajor']);
  const minor = Number(header.attrs['revMinor']);
  if (major !== 1 || !(minor >= 4)) {
    fail('unsupported OpenDRIVE revision', header, {
      expected: '1.4 or later',
      found: `${header.attrs['revMajor']}.${header.attrs['revMinor']}`,
    });
  }
  for (const c of root.children) {
    if (c.name === 'junction' || c.name === 'controller' || c.name === 'station') {
      fail(`<${c.name}> is outside the supported OpenDRIVE subset (one straight road)`, c);
    }
  }
  const roads = childrenNamed(root, 'road');
  const road = roads[0];
  if (road === undefined) return fail('no <road>', root);
  if (roads.length > 1)
    fail('more than one <road>', roads[1] ?? root, {
      expected: 'one straight road',
      found: `${roads.length} roads`,
    });
  const num = (n: XNode, attr: string): number => {
    const v = Number(n.attrs[attr]);
    if (n.attrs[attr] === undefined || !Number.isFinite(v)) {
      fail(`bad or missing attribute '${attr}' on <${n.name}>`, n, {
        expected: 'a number',
        found: String(n.attrs[attr]),
      });
    }
    return v;
  };
  const length = num(road, 'length');
  if (length <= 0) fail('road length must be positive', road);

  // planView: straight `line` geometries, collinear and contiguous.
  const plan = child(road, 'planView');
  if (plan === undefined) return fail('missing <planView>', road);
  const geoms = childrenNamed(plan, 'geometry');
  if (geoms.length === 0) fail('<planView> has no <geometry>', plan);
  let hdg0 = 0;
  const origin: RoadOrigin = { x: 0, y: 0, hdg: 0, roadId: road.attrs['id'] ?? '' };
  geoms.forEach((g, i) => {
    const shape = g.children[0];
    if (shape === undefined || shape.name !== 'line' || g.children.length !== 1) {
      fail(`geometry '${shape?.name ?? 'none'}' is outside the supported subset`, shape ?? g, {
        expected: '<line/>',
        found: `<${shape?.name ?? 'nothing'}>`,
      });
    }
    const hdg = num(g, 'hdg');
    if (i === 0) {
      hdg0 = hdg;
      origin.x = num(g, 'x');
      origin.y = num(g, 'y');
      origin.hdg = hdg;
    } else if (Math.abs(hdg - hdg0) > 1e-9)
      fail('geometries change heading (not one straight road)', g, {
        expected: `hdg ${hdg0}`,
        found: String(hdg),
      });
  });

  // Lanes: exactly one lane section, right driving lanes of equal constant width.
  const lanes = child(road, 'lanes');
  if (lanes === undefined) return fail('missing <lanes>', road);
  for (const c of lanes.children)
    if (c.name === 'laneOffset') fail('<laneOffset> is outside the supported subset', c);
  const sections = childrenNamed(lanes, 'laneSection');
  const section = sections[0];
  if (section === undefined) return fail('no <laneSection>', lanes);
  if (sections.length > 1)
    fail('more than one <laneSection>', sections[1] ?? lanes, { expected: 'one lane section' });
  const left = child(section, 'left');
  for (const l of left === undefined ? [] : childrenNamed(left, 'lane')) {
    if (l.attrs['type'] === 'driving')
      fail('driving lanes left of the reference line (oncoming traffic) are outside the supported subset', l);
  }
  const right = child(section, 'right');
  if (right === undefined)
    return fail('no <right> lanes (drivegate drives right of the reference line)', section);
  const rightLanes = childrenNamed(right, 'lane')
    .map((l) => ({ node: l, id: Number(l.attrs['id']) }))
    .sort((a, b) => b.id - a.id);
  const widthOf = (l: XNode): number => {
    const ws = childrenNamed(l, 'width');
    const w = ws[0];
    if (w === undefined) return fail(`lane ${l.attrs['id']} has no <width>`, l);
    if (ws.length > 1)
      fail(`lane ${l.attrs['id']} changes width`, ws[1] ?? l, { expected: 'one constant <width>' });
    for (const k of ['b', 'c', 'd']) {
      if (w.attrs[k] !== undefined && Number(w.attrs[k]) !== 0)
        fail(`lane ${l.attrs['id']} width is not constant`, w, { expected: `${k}="0"`, found: w.attrs[k] });
    }
    return num(w, 'a');
  };
  let laneCount = 0;
  let laneWidth = 0;
  let shoulderWidth = 0;
  let expectId = -1;
  for (const { node, id } of rightLanes) {
    if (id !== expectId)
      fail('right lane ids must run -1, -2, ... without gaps', node, {
        expected: String(expectId),
        found: String(id),
      });
    expectId--;
    const type = node.attrs['type'] ?? '';
    if (type === 'driving') {
      if (shoulderWidth > 0) fail('a driving lane beyond the sidewalk/shoulder lane', node);
      const w = widthOf(node);
      if (laneCount > 0 && Math.abs(w - laneWidth) > 1e-6)
        fail('driving lanes of different widths', node, { expected: `${laneWidth}`, found: `${w}` });
      laneWidth = w;
      laneCount++;
    } else if (EDGE_LANE_TYPES.has(type)) {
      if (laneCount === 0) fail(`a ${type} lane before any driving lane`, node);
      if (shoulderWidth > 0)
        fail('more than one lane beyond the driving lanes', node, { expected: 'one sidewalk/shoulder lane' });
      shoulderWidth = widthOf(node);
    } else {
      fail(`lane type '${type}' is outside the supported subset`, node, {
        expected: 'driving, or one of ' + [...EDGE_LANE_TYPES].join('/'),
      });
    }
  }
  if (laneCount === 0) fail('no driving lane right of the reference line', right);
  if (laneWidth <= 0) fail('lane width must be positive', right);

  // Road type and speed limit.
  const types = childrenNamed(road, 'type');
  let roadType: SimRoad['roadType'] = 'urban';
  let speedLimit = 50 / 3.6;
  const t = types[0];
  if (types.length > 1) fail('more than one road <type> record', types[1] ?? road, { expected: 'one' });
  if (t !== undefined) {
    const ty = t.attrs['type'] ?? '';
    roadType = ty === 'motorway' ? 'highway' : ty === 'rural' ? 'rural' : 'urban';
    const sp = child(t, 'speed');
    if (sp !== undefined) {
      const max = sp.attrs['max'] ?? '';
      const unit = sp.attrs['unit'] ?? 'm/s';
      const v = Number(max);
      if (!Number.isFinite(v) || v <= 0)
        fail('bad <speed max>', sp, { expected: 'a positive number', found: `'${max}'` });
      const factor = unit === 'km/h' ? 1 / 3.6 : unit === 'mph' ? 0.44704 : unit === 'm/s' ? 1 : NaN;
      if (!Number.isFinite(factor))
        fail('bad <speed unit>', sp, { expected: 'm/s, km/h or mph', found: unit });
      speedLimit = v * factor;
    }
  }
  return { road: { file, length, laneCount, laneWidth, shoulderWidth, speedLimit, roadType }, origin };
}
