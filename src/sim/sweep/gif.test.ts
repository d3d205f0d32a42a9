import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../../core/random.js';
import { buildPalette, encodeGif } from './gif.js';

const PY = '/usr/bin/python3';
const hasPil = existsSync(PY) && spawnSync(PY, ['-c', 'import PIL'], { encoding: 'utf8' }).status === 0;

/** Decodes a GIF with Pillow: every frame's RGB bytes (hex) and its duration. */
function decodeWithPillow(gif: Uint8Array): {
  size: [number, number];
  frames: { rgb: string; duration: number }[];
  loop: unknown;
} {
  const dir = mkdtempSync(join(tmpdir(), 'dg-gif-'));
  try {
    const file = join(dir, 'a.gif');
    writeFileSync(file, gif);
    const code = `
import json, sys
from PIL import Image, ImageSequence
im = Image.open(sys.argv[1])
frames = [{"rgb": f.convert("RGB").tobytes().hex(), "duration": f.info.get("duration")} for f in ImageSequence.Iterator(im)]
print(json.dumps({"size": im.size, "frames": frames, "loop": im.info.get("loop")}))`;
    const r = spawnSync(PY, ['-c', code, file], { encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as ReturnType<typeof decodeWithPillow>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Random frames drawn from `colours` (so the palette holds every colour exactly). */
function randomFrames(
  w: number,
  h: number,
  n: number,
  colours: [number, number, number][],
  seed: number,
): Uint8Array[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const rgb = new Uint8Array(w * h * 3);
    for (let i = 0; i < w * h; i++) {
      // Runs of one colour (compressible) mixed with noise (fills the LZW table, forcing clear codes).
      const c = colours[Math.floor(rand() * colours.length)]!;
      const len = rand() < 0.5 ? 1 : 1 + Math.floor(rand() * 20);
      for (let k = 0; k < len && i < w * h; k++, i++) rgb.set(c, i * 3);
      i--;
    }
    return rgb;
  });
}

test(
  'Pillow decodes the animation pixel for pixel, with delays and looping',
  { skip: !hasPil && 'needs /usr/bin/python3 with Pillow (python3-pil)' },
  () => {
    const rand = mulberry32(7);
    const colours: [number, number, number][] = Array.from({ length: 200 }, () => [
      Math.floor(rand() * 256),
      Math.floor(rand() * 256),
      Math.floor(rand() * 256),
    ]);
    const w = 173;
    const h = 61;
    const frames = randomFrames(w, h, 4, colours, 11);
    const gif = encodeGif(
      w,
      h,
      frames.map((rgb, i) => ({ rgb, delayCs: 10 + i * 5 })),
      colours,
    );
    const d = decodeWithPillow(gif);
    assert.deepEqual(d.size, [w, h]);
    assert.equal(d.loop, 0);
    assert.equal(d.frames.length, 4);
    d.frames.forEach((f, i) => {
      assert.equal(f.duration, (10 + i * 5) * 10);
      assert.equal(f.rgb, Buffer.from(frames[i]!).toString('hex'), `frame ${i} differs`);
    });
  },
);

test(
  'a frame of one colour and a 1x1 frame encode and decode',
  { skip: !hasPil && 'needs /usr/bin/python3 with Pillow (python3-pil)' },
  () => {
    const flat = new Uint8Array(64 * 64 * 3).fill(200);
    const d = decodeWithPillow(encodeGif(64, 64, [{ rgb: flat, delayCs: 5 }], [[200, 200, 200]]));
    assert.equal(d.frames[0]!.rgb, Buffer.from(flat).toString('hex'));
    const one = decodeWithPillow(
      encodeGif(1, 1, [{ rgb: new Uint8Array([1, 2, 3]), delayCs: 5 }], [[1, 2, 3]]),
    );
    assert.equal(one.frames[0]!.rgb, '010203');
  },
);

test('colours beyond the palette map to the nearest entry, and the same frames give the same bytes', () => {
  const rgb = new Uint8Array(32 * 8 * 3);
  for (let i = 0; i < 32 * 8; i++) rgb.set([i % 256, (i * 7) % 256, (i * 13) % 256], i * 3);
  const a = encodeGif(32, 8, [{ rgb, delayCs: 10 }]);
  const b = encodeGif(32, 8, [{ rgb: rgb.slice(), delayCs: 10 }]);
  assert.deepEqual(a, b);
  assert.equal(Buffer.from(a.subarray(0, 6)).toString('latin1'), 'GIF89a');
  assert.equal(a[a.length - 1], 0x3b);
  const p = buildPalette([rgb], [[255, 0, 0]]);
  assert.deepEqual([...p.subarray(0, 3)], [255, 0, 0]);
});

test('refuses a frame of the wrong size', () => {
  assert.throws(() => encodeGif(4, 4, [{ rgb: new Uint8Array(10), delayCs: 1 }]), /expected 48/);
});
