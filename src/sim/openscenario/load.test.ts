import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { DrivegateError } from '../../core/errors.js';
import { packageRoot } from '../../core/paths.js';
import {
  initialSpeed,
  loadScenario,
  loadVariants,
  parseFilter,
  schemaPath,
  validateScenarioFile,
} from './index.js';

const td = (f: string): string => join(packageRoot(), 'src', 'sim', 'openscenario', 'testdata', f);

/** 1-based line of the first occurrence of `needle` in a file. */
function lineOf(file: string, needle: string): number {
  const text = readFileSync(file, 'utf8');
  const i = text.indexOf(needle);
  assert.ok(i >= 0, `${needle} in ${file}`);
  return text.slice(0, i).split('\n').length;
}

async function rejects(p: Promise<unknown>, check: (e: DrivegateError) => void): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DrivegateError, String(e));
    check(e);
    return true;
  });
}

test('accepts OpenSCENARIO 1.0, 1.1 and 1.3 headers, each validated against its own XSD', async () => {
  for (const [file, version] of [
    ['minimal_1_0.xosc', '1.0'],
    ['minimal_1_1.xosc', '1.1'],
    ['minimal_1_3.xosc', '1.3'],
  ] as const) {
    const s = await loadScenario(td(file));
    assert.equal(s.version, version);
    assert.equal(s.family, file.replace('.xosc', ''));
    assert.equal(s.category, 'default');
    assert.equal(s.maxDuration, 30);
  }
});

test('builds the scenario: entities, road-frame positions, actions, triggers and stop', async () => {
  const s = await loadScenario(td('minimal_1_0.xosc'));
  assert.equal(s.ego, 'Ego');
  assert.deepEqual(
    s.entities.map((e) => [e.name, e.isEgo, e.cls, e.subtype]),
    [
      ['Ego', true, 'car', 'sedan'],
      ['Lead', false, 'truck', 'box_truck'],
      ['Walker', false, 'pedestrian', 'child'],
    ],
  );
  assert.deepEqual(s.entities[1]?.size, { length: 7.5, width: 2.4, height: 3.3 });
  assert.equal(s.entities[2]?.maxSpeed, 3);
  assert.equal(s.road.laneCount, 2);
  assert.equal(s.road.file, 'straight.xodr');
  assert.equal(initialSpeed(s, 'Ego'), 10);
  assert.deepEqual(s.init[1]?.actions[0], {
    kind: 'teleport',
    position: { kind: 'lane', laneId: -1, s: 80, offset: 0.5 },
  });
  // the sidewalk lane (-3) comes out as a world position at the sidewalk centre
  assert.deepEqual(s.init[2]?.actions[0], {
    kind: 'teleport',
    position: { kind: 'world', x: 120, y: -(2 * 3.5 + 1.5), h: 0 },
  });
  const ev = s.events[0];
  assert.equal(ev?.path, 'story/act/lead_group/lead_brakes/brake');
  assert.deepEqual(ev?.actors, ['Lead']);
  assert.deepEqual(ev?.actions, [
    { kind: 'speed', target: 0, dynamics: { shape: 'linear', dimension: 'rate', value: 4 } },
  ]);
  assert.deepEqual(ev?.start.groups[0]?.[0], {
    kind: 'simulationTime',
    value: 2,
    rule: 'greaterThan',
    name: 'brake_time',
    delay: 0,
    edge: 'rising',
    line: lineOf(td('minimal_1_0.xosc'), '<Condition name="brake_time"'),
  });
  assert.equal(ev?.actStart?.groups[0]?.[0]?.kind, 'simulationTime');
  assert.equal(s.stop?.groups[0]?.[0]?.kind, 'simulationTime');
  assert.deepEqual(s.environment, {
    weather: 'clear',
    timeOfDay: 'day',
    fogVisualRange: null,
    precipitationIntensity: null,
    dateTime: null,
  });
});

test('substitutes parameter overrides wherever they are referenced', async () => {
  const s = await loadScenario(td('minimal_1_1.xosc'), {
    ego_speed: 22.5,
    lead_s: 150,
    lead_lane: -2,
    brake_time: 4,
  });
  assert.equal(initialSpeed(s, 'Ego'), 22.5);
  assert.deepEqual(s.init[1]?.actions[0], {
    kind: 'teleport',
    position: { kind: 'lane', laneId: -2, s: 150, offset: 0.5 },
  });
  const c = s.events[0]?.start.groups[0]?.[0];
  assert.equal(c?.kind === 'simulationTime' ? c.value : null, 4);
  assert.equal(s.parameters['ego_speed'], 22.5);
  await rejects(loadScenario(td('minimal_1_1.xosc'), { not_declared: 1 }), (e) =>
    assert.match(e.message, /does not declare/),
  );
  await rejects(loadScenario(td('minimal_1_1.xosc'), { lead_lane: -7 }), (e) => {
    assert.match(e.message, /laneId outside the road/);
    assert.equal(e.location.line, lineOf(td('minimal_1_1.xosc'), 'laneId="$lead_lane"'));
  });
});

test('refuses an undeclared parameter reference naming the attribute and line', async () => {
  const f = td('undeclared_parameter.xosc');
  await rejects(loadScenario(f), (e) => {
    assert.equal(e.code, 'BAD_INPUT');
    assert.match(e.message, /undeclared parameter \$ego_sped/);
    assert.equal(e.location.field, 'AbsoluteTargetSpeed@value');
    assert.equal(e.location.line, lineOf(f, '$ego_sped'));
  });
});

test('refuses a file that breaks its XSD, with the file and line of the error', async () => {
  const f = td('xsd_error.xosc');
  await rejects(loadScenario(f), (e) => {
    assert.equal(e.code, 'BAD_INPUT');
    assert.match(e.message, /does not validate against the OpenSCENARIO 1\.0 XSD/);
    assert.match(e.message, /Performanse/);
    assert.equal(e.location.line, lineOf(f, '<Performanse'));
    assert.equal(e.location.file, relative(process.cwd(), f));
  });
});

test('refuses an OpenSCENARIO revision it has no schema for (1.2)', async () => {
  await rejects(loadScenario(td('revision_1_2.xosc')), (e) => {
    assert.match(e.message, /unsupported OpenSCENARIO revision/);
    assert.equal(e.found, '1.2');
  });
});

const unsupported: Array<[string, string, string, string | null]> = [
  ['unsupported_trajectory.xosc', 'RoutingAction', '<RoutingAction>', 'FollowTrajectoryAction'],
  ['unsupported_collision.xosc', 'CollisionCondition', '<CollisionCondition>', null],
  ['unsupported_routing.xosc', 'RoutingAction', '<RoutingAction>', 'AssignRouteAction'],
];
for (const [file, element, needle, inner] of unsupported) {
  test(`refuses ${element}${inner !== null ? `/${inner}` : ''} outside the subset, naming element and line (${file})`, async () => {
    const f = td(file);
    await rejects(loadScenario(f), (e) => {
      assert.equal(e.code, 'BAD_INPUT');
      assert.equal(e.exitCode, 2);
      const line = lineOf(f, needle);
      assert.equal(e.location.line, line);
      assert.ok(e.message.includes(`line ${line}: <${element}>`), e.message);
      if (inner !== null) assert.ok(e.message.includes(`<${inner}>`), e.message);
    });
  });
}

test('lists every unsupported element of a file, not just the first', async () => {
  const f = td('unsupported_catalog_controller.xosc');
  await rejects(loadScenario(f), (e) => {
    const details = e.details as { unsupported: Array<{ element: string; line: number }> };
    assert.deepEqual(
      details.unsupported.map((u) => [u.element, u.line]),
      [
        ['VehicleCatalog', lineOf(f, '<VehicleCatalog>')],
        ['ObjectController', lineOf(f, '<ObjectController>')],
      ],
    );
  });
});

test('expands a distribution: range x set is a cartesian product with typed values and stable ids', async () => {
  const v = await loadVariants(td('sweep_range.xosc'));
  assert.equal(v.length, 5 * 2);
  assert.deepEqual(
    [...new Set(v.map((x) => x.parameters['ego_speed']))].sort((a, b) => Number(a) - Number(b)),
    [5, 7.5, 10, 12.5, 15],
  );
  const one = v.find((x) => x.parameters['ego_speed'] === 7.5 && x.parameters['lead_lane'] === -2);
  assert.equal(one?.id, 'minimal_1_1/ego_speed=7.5,lead_lane=-2');
  assert.deepEqual(one?.scenario.init[1]?.actions[0], {
    kind: 'teleport',
    position: { kind: 'lane', laneId: -2, s: 80, offset: 0.5 },
  });
  assert.equal(initialSpeed(one?.scenario ?? (undefined as never), 'Ego'), 7.5);
  assert.equal(new Set(v.map((x) => x.id)).size, v.length);
});

test('a plain scenario file is one variant with its defaults', async () => {
  const v = await loadVariants(td('minimal_1_3.xosc'));
  assert.equal(v.length, 1);
  assert.equal(v[0]?.id, 'minimal_1_3/default');
  assert.deepEqual(v[0]?.parameters, {});
});

test('refuses distributions that sweep undeclared parameters or use stochastic distributions', async () => {
  await rejects(loadVariants(td('sweep_unknown_param.xosc')), (e) =>
    assert.match(e.message, /sweeps parameter 'lead_lanes'/),
  );
  await rejects(loadVariants(td('sweep_stochastic.xosc')), (e) => {
    assert.match(e.message, /<Stochastic>/);
    assert.equal(e.location.line, lineOf(td('sweep_stochastic.xosc'), '<Stochastic'));
  });
});

test('validateScenarioFile reports kind, version and variant count', async () => {
  assert.deepEqual(await validateScenarioFile(td('sweep_range.xosc')), {
    file: relative(process.cwd(), td('sweep_range.xosc')),
    kind: 'distribution',
    version: '1.1',
    variants: 10,
  });
  assert.equal((await validateScenarioFile(td('minimal_1_0.xosc'))).kind, 'scenario');
});

test('a filter applies to loaded variants', async () => {
  const v = await loadVariants(td('sweep_range.xosc'), parseFilter('lead_lane=-1,ego_speed=5,ego_speed=15'));
  assert.deepEqual(
    v.map((x) => x.id),
    ['minimal_1_1/ego_speed=15,lead_lane=-1', 'minimal_1_1/ego_speed=5,lead_lane=-1'],
  );
});

test('a missing schema folder is UNAVAILABLE and says where to put the XSDs', () => {
  const before = process.env['DRIVEGATE_SCHEMAS'];
  process.env['DRIVEGATE_SCHEMAS'] = join(packageRoot(), 'no-such-schemas');
  try {
    assert.throws(
      () => schemaPath('1.3'),
      (e: unknown) =>
        e instanceof DrivegateError && e.code === 'UNAVAILABLE' && /DRIVEGATE_SCHEMAS/.test(e.message),
    );
  } finally {
    if (before === undefined) delete process.env['DRIVEGATE_SCHEMAS'];
    else process.env['DRIVEGATE_SCHEMAS'] = before;
  }
});

test('maps Environment to weather and time of day (precipitation over fog, fog under 1 km, hour bands)', async () => {
  const ccrs = join(packageRoot(), 'examples', 'scenarios', 'ncap', 'CCRs.xosc');
  const env = async (o: Record<string, string | number>): Promise<[string, string]> => {
    const e = (await loadScenario(ccrs, o)).environment;
    return [e.weather, e.timeOfDay];
  };
  assert.deepEqual(await env({}), ['clear', 'day']);
  assert.deepEqual(await env({ fog_visual_range: 999 }), ['fog', 'day']);
  assert.deepEqual(await env({ fog_visual_range: 1000 }), ['clear', 'day']);
  assert.deepEqual(await env({ fog_visual_range: 60, precipitation: 'rain', precipitation_intensity: 4 }), [
    'rain',
    'day',
  ]);
  assert.deepEqual(await env({ precipitation: 'snow', precipitation_intensity: 1 }), ['snow', 'day']);
  assert.deepEqual(await env({ precipitation: 'rain', precipitation_intensity: 0 }), ['clear', 'day']);
  assert.deepEqual(await env({ date_time: '2025-06-21T19:30:00' }), ['clear', 'dusk']);
  assert.deepEqual(await env({ date_time: '2025-06-21T06:00:00' }), ['clear', 'dusk']);
  assert.deepEqual(await env({ date_time: '2025-06-21T04:59:00' }), ['clear', 'night']);
  assert.deepEqual(await env({ date_time: '2025-06-21T21:00:00' }), ['clear', 'night']);
  const cutIn = await loadScenario(join(packageRoot(), 'examples', 'scenarios', 'cut-in', 'cut-in.xosc'), {
    precipitation: 'rain',
    precipitation_intensity: 2,
  });
  assert.equal(cutIn.environment.weather, 'rain');
  assert.equal(cutIn.environment.precipitationIntensity, 2);
});

test('refuses a LanePosition on a road the OpenDRIVE file does not have', async () => {
  const f = td('minimal_1_0.xosc');
  const text = readFileSync(f, 'utf8').replace(
    'roadId="1" laneId="-1" s="20"',
    'roadId="7" laneId="-1" s="20"',
  );
  const dirTmp = mkdtempSync(join(tmpdir(), 'dg-osc-'));
  try {
    copyFileSync(td('straight.xodr'), join(dirTmp, 'straight.xodr'));
    writeFileSync(join(dirTmp, 'x.xosc'), text);
    await rejects(loadScenario(join(dirTmp, 'x.xosc')), (e) => {
      assert.match(e.message, /LanePosition names another road; expected 1, found 7/);
      assert.equal(e.location.line, lineOf(join(dirTmp, 'x.xosc'), 'roadId="7"'));
    });
  } finally {
    rmSync(dirTmp, { recursive: true, force: true });
  }
});
