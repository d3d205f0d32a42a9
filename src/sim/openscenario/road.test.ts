import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DrivegateError } from '../../core/errors.js';
import { packageRoot } from '../../core/paths.js';
import { loadRoad, parseOpenDrive, parseOpenDriveWithOrigin } from './road.js';

const roads = join(packageRoot(), 'examples', 'scenarios', 'roads');
const urban = readFileSync(join(roads, 'urban_2lane.xodr'), 'utf8');

test('reads the example roads: lanes, widths, shoulder, speed limit and road type', () => {
  assert.deepEqual(loadRoad(join(roads, 'urban_2lane.xodr'), 'urban'), {
    file: 'urban',
    length: 600,
    laneCount: 2,
    laneWidth: 3.5,
    shoulderWidth: 3,
    speedLimit: 60 / 3.6,
    roadType: 'urban',
  });
  const hw = loadRoad(join(roads, 'highway_3lane.xodr'));
  assert.equal(hw.laneCount, 3);
  assert.equal(hw.roadType, 'highway');
  assert.ok(Math.abs(hw.speedLimit - 130 / 3.6) < 1e-9);
});

test('reports the reference line origin of the first geometry', () => {
  const moved = urban.replace('x="0" y="0" hdg="0"', 'x="100" y="-20" hdg="0.5"');
  assert.deepEqual(parseOpenDriveWithOrigin(moved, 'r.xodr').origin, {
    x: 100,
    y: -20,
    hdg: 0.5,
    roadId: '1',
  });
});

function refused(text: string, pattern: RegExp, line?: number): void {
  assert.throws(
    () => parseOpenDrive(text, 'r.xodr'),
    (e: unknown) =>
      e instanceof DrivegateError &&
      e.code === 'BAD_INPUT' &&
      pattern.test(e.message) &&
      (line === undefined || e.location.line === line),
  );
}

function lineOf(text: string, needle: string): number {
  return text.slice(0, text.indexOf(needle)).split('\n').length;
}

test('refuses curved geometry naming the element and its line', () => {
  const arc = urban.replace('<line/>', '<arc curvature="0.01"/>');
  refused(arc, /geometry 'arc' is outside the supported subset/, lineOf(arc, '<arc'));
});

test('refuses oncoming driving lanes, lane gaps, varying widths and unknown lane types', () => {
  const left = urban.replace(
    '<right>',
    '<left><lane id="1" type="driving" level="false"><width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane></left>\n        <right>',
  );
  refused(left, /left of the reference line/);
  refused(urban.replace('id="-2"', 'id="-5"'), /without gaps/);
  refused(urban.replace('a="3.5" b="0"', 'a="3.5" b="0.1"'), /width is not constant/);
  refused(urban.replace('type="sidewalk"', 'type="parking"'), /lane type 'parking'/);
  refused(urban.replace('revMinor="4"', 'revMinor="3"'), /unsupported OpenDRIVE revision/);
});

test('reads speed units and defaults to 50 km/h urban without a type record', () => {
  assert.ok(
    Math.abs(parseOpenDrive(urban.replace('unit="km/h"', 'unit="mph"'), 'r').speedLimit - 60 * 0.44704) <
      1e-9,
  );
  const untyped = urban.replace(/<type s="0"[\s\S]*?<\/type>/, '');
  const r = parseOpenDrive(untyped, 'r');
  assert.equal(r.roadType, 'urban');
  assert.ok(Math.abs(r.speedLimit - 50 / 3.6) < 1e-9);
  refused(urban.replace('unit="km/h"', 'unit="knots"'), /bad <speed unit>/);
});
