/**
 * PNG encoding (our own, over node:zlib) and decoding (pngjs) for rendered frames and masks.
 *
 * The encoder writes 8-bit RGB, 8-bit grayscale, 16-bit grayscale and 8-bit palette images. Its bytes
 * are deterministic: fixed filter choice per row (the PNG "minimum sum of absolute differences"
 * heuristic), fixed zlib level and strategy, no time or text chunks. The same pixels give the same
 * file on the same Node/zlib version.
 */
import { deflateSync, constants as zc } from 'node:zlib';
import { PNG } from 'pngjs';
import { badInput } from '../core/errors.js';
import type { Rgb } from './types.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309, as PNG uses it) of `data`. */
export function crc32(data: Uint8Array, start = 0, end = data.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out, 4, 8 + data.length), 8 + data.length);
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Filters raw scanlines (bpp bytes per pixel, stride bytes per row) choosing per row the filter with the least sum. */
function filterRows(raw: Uint8Array, height: number, stride: number, bpp: number): Buffer {
  const out = Buffer.alloc(height * (stride + 1));
  const cand = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    const prev = row - stride;
    let bestSum = Infinity;
    for (let type = 0; type < 5; type++) {
      let sum = 0;
      for (let i = 0; i < stride; i++) {
        const x = raw[row + i]!;
        const a = i >= bpp ? raw[row + i - bpp]! : 0;
        const b = y > 0 ? raw[prev + i]! : 0;
        const c = i >= bpp && y > 0 ? raw[prev + i - bpp]! : 0;
        let f: number;
        if (type === 0) f = x;
        else if (type === 1) f = x - a;
        else if (type === 2) f = x - b;
        else if (type === 3) f = x - ((a + b) >> 1);
        else f = x - paeth(a, b, c);
        f &= 0xff;
        cand[i] = f;
        sum += f < 128 ? f : 256 - f;
      }
      if (sum < bestSum) {
        bestSum = sum;
        out[y * (stride + 1)] = type;
        out.set(cand, y * (stride + 1) + 1);
      }
    }
  }
  return out;
}

function encode(
  raw: Uint8Array,
  width: number,
  height: number,
  bitDepth: number,
  colorType: number,
  bpp: number,
  extra: Buffer[] = [],
): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw badInput('PNG size must be positive integers', {
      expected: 'width, height >= 1',
      found: `${width}x${height}`,
    });
  }
  const stride = width * bpp;
  if (raw.length !== stride * height) {
    throw badInput('PNG pixel buffer has the wrong length', {
      expected: `${stride * height} bytes`,
      found: `${raw.length}`,
    });
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  const idat = deflateSync(filterRows(raw, height, stride, bpp), {
    level: 9,
    memLevel: 9,
    strategy: zc.Z_DEFAULT_STRATEGY,
  });
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    ...extra,
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** Encodes 8-bit RGB pixels (row-major, 3 bytes per pixel) as a PNG file. */
export function encodePng(rgb: Uint8Array, width: number, height: number): Buffer {
  return encode(rgb, width, height, 8, 2, 3);
}

/** Encodes 8-bit grayscale pixels (one byte per pixel) as a PNG file. */
export function encodePngGray(gray: Uint8Array, width: number, height: number): Buffer {
  return encode(gray, width, height, 8, 0, 1);
}

/** Encodes 16-bit grayscale values (e.g. an instance mask of actor id + 1) as a PNG file. */
export function encodePngGray16(values: Uint16Array, width: number, height: number): Buffer {
  const raw = new Uint8Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    raw[2 * i] = values[i]! >> 8;
    raw[2 * i + 1] = values[i]! & 0xff;
  }
  return encode(raw, width, height, 16, 0, 2);
}

/**
 * Encodes palette indices (one byte per pixel) with a palette of up to 256 colours as a PNG file;
 * viewers show the colours, tools that read the indices get the class ids (semantic masks).
 */
export function encodePngPalette(
  indices: Uint8Array,
  width: number,
  height: number,
  palette: readonly Rgb[],
): Buffer {
  if (palette.length === 0 || palette.length > 256) {
    throw badInput('PNG palette size out of range', {
      expected: '1..256 colours',
      found: `${palette.length}`,
    });
  }
  for (let i = 0; i < indices.length; i++) {
    if (indices[i]! >= palette.length) {
      throw badInput('palette index out of range', {
        record: i,
        expected: `< ${palette.length}`,
        found: `${indices[i]}`,
      });
    }
  }
  const plte = Buffer.alloc(palette.length * 3);
  palette.forEach((c, i) => {
    plte[3 * i] = c[0];
    plte[3 * i + 1] = c[1];
    plte[3 * i + 2] = c[2];
  });
  return encode(indices, width, height, 8, 3, 1, [chunk('PLTE', plte)]);
}

/** A decoded image: RGB bytes, row-major, 3 per pixel. */
export interface DecodedImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** Decodes any PNG (via pngjs) to 8-bit RGB (alpha dropped, gray and palette expanded). */
export function decodePng(buf: Uint8Array, file = '<buffer>'): DecodedImage {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  } catch (err) {
    throw badInput(`not a readable PNG: ${(err as Error).message}`, { file, cause: err });
  }
  const { width, height, data } = png;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    rgb[3 * i] = data[j]!;
    rgb[3 * i + 1] = data[j + 1]!;
    rgb[3 * i + 2] = data[j + 2]!;
  }
  return { width, height, rgb };
}
