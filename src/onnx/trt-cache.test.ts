import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DrivegateError } from '../core/errors.js';
import { calibrationCacheText, hexToScale, parseCalibrationCache, scaleToHex } from './trt-cache.js';

test('writes scales as unpadded lowercase hex of the float32 bits (1/127 -> 3c010204, ORT example 4000889d)', () => {
  assert.equal(scaleToHex(1 / 127), '3c010204');
  assert.ok(Math.abs(hexToScale('4000889d') - 2.0083) < 1e-4); // onnxruntime's comment example
  assert.equal(scaleToHex(hexToScale('4000889d')), '4000889d');
  assert.equal(scaleToHex(1e-40), '116c2'); // subnormal: no zero padding
  const text = calibrationCacheText(
    { images: 1 / 127, 'conv/out:0': hexToScale('4000889d') },
    { version: 8601 },
  );
  assert.equal(text, 'TRT-8601-EntropyCalibration2\nimages: 3c010204\nconv/out:0: 4000889d\n');
});

test('round-trips a cache: header version and algorithm, names in order, float32 scales', () => {
  const scales = { a: 0.5, '/net/stem/Conv_output_0': 0.013, 'x:y': 3.25e-5 };
  const text = calibrationCacheText(scales, { version: 100300, algorithm: 'MinMaxCalibration' });
  const parsed = parseCalibrationCache(text, 'c.cache');
  assert.equal(parsed.version, 100300);
  assert.equal(parsed.algorithm, 'MinMaxCalibration');
  assert.deepEqual(Object.keys(parsed.scales), Object.keys(scales));
  for (const [k, v] of Object.entries(scales)) assert.equal(parsed.scales[k], Math.fround(v));
  assert.equal(
    calibrationCacheText(parsed.scales, { version: 100300, algorithm: 'MinMaxCalibration' }),
    text,
  );
});

test('rejects a cache without a TRT header, a malformed line or a repeated tensor, naming file and line', () => {
  const bad = (text: string, line: number): void => {
    assert.throws(
      () => parseCalibrationCache(text, 'bad.cache'),
      (e: unknown) =>
        e instanceof DrivegateError &&
        e.code === 'BAD_INPUT' &&
        e.location.line === line &&
        e.message.includes('bad.cache'),
    );
  };
  bad('images: 3c010204\n', 1);
  bad('TRT-8601-EntropyCalibration2\nimages 3c010204\n', 2);
  bad('TRT-8601-EntropyCalibration2\nimages: 3c01020g\n', 2);
  bad('TRT-8601-EntropyCalibration2\nimages: 0\n', 2);
  bad('TRT-8601-EntropyCalibration2\na: 3c010204\n\na: 3c010204\n', 4);
});

test('refuses to write a name the format cannot carry or a non-positive scale', () => {
  assert.throws(() => calibrationCacheText({ 'a\nb': 1 }), DrivegateError);
  assert.throws(() => calibrationCacheText({ a: 0 }), DrivegateError);
  assert.throws(() => calibrationCacheText({ a: Number.NaN }), DrivegateError);
});
