import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { crc32, decodePng, encodePng, encodePngGray, encodePngGray16, encodePngPalette } from './png.js';

function pattern(w: number, h: number): Uint8Array {
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 37 + ((i / 3) | 0) * 11) & 0xff;
  return rgb;
}

test('crc32 matches the published check value for "123456789"', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('an RGB image round-trips through pngjs decoding byte for byte', () => {
  const rgb = pattern(37, 19);
  const png = encodePng(rgb, 37, 19);
  const back = decodePng(png);
  assert.equal(back.width, 37);
  assert.equal(back.height, 19);
  assert.deepEqual(Buffer.from(back.rgb), Buffer.from(rgb));
});

test('encoding is deterministic: same pixels, same bytes', () => {
  const rgb = pattern(64, 32);
  assert.deepEqual(encodePng(rgb, 64, 32), encodePng(rgb, 64, 32));
});

test('grayscale, 16-bit grayscale and palette images decode to the values written', () => {
  const gray = new Uint8Array([0, 50, 100, 150, 200, 255]);
  const g = PNG.sync.read(encodePngGray(gray, 3, 2));
  assert.deepEqual([...g.data.filter((_, i) => i % 4 === 0)], [...gray]);

  const g16 = new Uint16Array([0, 1, 300, 65535]);
  const d16 = PNG.sync.read(encodePngGray16(g16, 2, 2), { skipRescale: true });
  assert.deepEqual(
    [...new Uint16Array(d16.data.buffer, d16.data.byteOffset, 16).filter((_, i) => i % 4 === 0)],
    [...g16],
  );

  const idx = new Uint8Array([0, 1, 2, 1]);
  const pal = decodePng(
    encodePngPalette(idx, 2, 2, [
      [0, 0, 0],
      [255, 0, 0],
      [0, 0, 255],
    ]),
  );
  assert.deepEqual([...pal.rgb], [0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 0, 0]);
});

test('rejects a pixel buffer whose length does not match the size', () => {
  assert.throws(() => encodePng(new Uint8Array(10), 2, 2), /wrong length/);
});

test('rejects bytes that are not a PNG, naming the file', () => {
  assert.throws(() => decodePng(Buffer.from('nope'), 'x.png'), /x\.png/);
});
