/**
 * A small animated GIF (GIF89a) encoder: one 256-colour global palette per clip (reserved colours,
 * then the most frequent colours at 5 bits per channel), nearest-colour quantization through a
 * 15-bit lookup table without dithering (deterministic, and fast enough for clips of a few dozen
 * frames), LZW compression with variable code sizes from 9 to 12 bits and a clear
 * code when the table is full, a NETSCAPE2.0 loop extension, and one graphic control extension per
 * frame for its delay. Format facts from the GIF89a specification (W3C/CompuServe, 1990).
 */

/** One frame: RGB pixels (3 bytes each, row-major) of the clip's size. */
export interface GifFrame {
  rgb: Uint8Array;
  /** How long the frame shows, in hundredths of a second. */
  delayCs: number;
}

/**
 * A palette for some frames: the `reserved` colours first (e.g. the colours boxes are drawn in, so
 * they stay exact), then the most frequent colours at 5 bits per channel (ties by colour value, so
 * the palette is deterministic), up to 256 entries. Returns 256 x RGB.
 */
export function buildPalette(
  frames: readonly Uint8Array[],
  reserved: readonly (readonly [number, number, number])[] = [],
): Uint8Array {
  const counts = new Uint32Array(1 << 15);
  for (const rgb of frames)
    for (let j = 0; j + 2 < rgb.length; j += 3)
      counts[((rgb[j]! >> 3) << 10) | ((rgb[j + 1]! >> 3) << 5) | (rgb[j + 2]! >> 3)]!++;
  const p = new Uint8Array(256 * 3);
  let n = 0;
  for (const [r, g, b] of reserved.slice(0, 256)) {
    p[n * 3] = r;
    p[n * 3 + 1] = g;
    p[n * 3 + 2] = b;
    n++;
  }
  // A bin holding a reserved colour is represented by it (reserved colours match exactly, see quantize).
  for (const [r, g, b] of reserved) counts[((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)] = 0;
  const bins: number[] = [];
  for (let i = 0; i < counts.length; i++) if (counts[i]! > 0) bins.push(i);
  bins.sort((a, b) => counts[b]! - counts[a]! || a - b);
  for (const bin of bins) {
    if (n >= 256) break;
    p[n * 3] = ((bin >> 10) << 3) | 4;
    p[n * 3 + 1] = (((bin >> 5) & 31) << 3) | 4;
    p[n * 3 + 2] = ((bin & 31) << 3) | 4;
    n++;
  }
  return p;
}

/** Nearest palette entry for every 15-bit colour (squared RGB distance; lowest index on ties). */
function lookupTable(palette: Uint8Array): Uint8Array {
  const t = new Uint8Array(1 << 15);
  for (let c = 0; c < t.length; c++) {
    const r = ((c >> 10) << 3) | 4;
    const g = (((c >> 5) & 31) << 3) | 4;
    const b = ((c & 31) << 3) | 4;
    let best = 0;
    let bestD = Infinity;
    for (let i = 0; i < 256; i++) {
      const d = (palette[i * 3]! - r) ** 2 + (palette[i * 3 + 1]! - g) ** 2 + (palette[i * 3 + 2]! - b) ** 2;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    t[c] = best;
  }
  return t;
}

/**
 * Maps RGB pixels to palette indices: colours equal to a palette entry (the reserved ones) map to
 * it exactly, others through the 15-bit lookup table.
 */
function quantize(
  rgb: Uint8Array,
  pixels: number,
  table: Uint8Array,
  exact: ReadonlyMap<number, number>,
): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    const r = rgb[j]!;
    const g = rgb[j + 1]!;
    const b = rgb[j + 2]!;
    out[i] = exact.get((r << 16) | (g << 8) | b) ?? table[((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)]!;
  }
  return out;
}

/** A growable byte buffer. */
class Bytes {
  buf = new Uint8Array(1 << 16);
  len = 0;
  push(b: number): void {
    if (this.len === this.buf.length) {
      const n = new Uint8Array(this.buf.length * 2);
      n.set(this.buf);
      this.buf = n;
    }
    this.buf[this.len++] = b;
  }
  u16(v: number): void {
    this.push(v & 0xff);
    this.push((v >> 8) & 0xff);
  }
  bytes(list: ArrayLike<number>): void {
    for (let i = 0; i < list.length; i++) this.push(list[i]!);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/**
 * LZW-compresses palette indices (8-bit minimum code size) into GIF data sub-blocks (each at most
 * 255 bytes, then the zero-length terminator).
 */
function lzwEncode(indices: Uint8Array, out: Bytes): void {
  const minCodeSize = 8;
  const clear = 1 << minCodeSize;
  const eoi = clear + 1;
  // Table of (prefix code, next byte) -> code; -1 when absent.
  const table = new Int32Array(4096 * 256).fill(-1);
  let next = eoi + 1;
  let codeSize = minCodeSize + 1;
  // Bit packer into sub-blocks.
  const block = new Uint8Array(255);
  let blockLen = 0;
  let acc = 0;
  let nbits = 0;
  const byte = (b: number): void => {
    block[blockLen++] = b;
    if (blockLen === 255) {
      out.push(255);
      out.bytes(block);
      blockLen = 0;
    }
  };
  const emit = (code: number): void => {
    acc |= code << nbits;
    nbits += codeSize;
    while (nbits >= 8) {
      byte(acc & 0xff);
      acc >>>= 8;
      nbits -= 8;
    }
  };
  out.push(minCodeSize);
  emit(clear);
  if (indices.length > 0) {
    let prefix = indices[0]!;
    for (let i = 1; i < indices.length; i++) {
      const k = indices[i]!;
      const key = prefix * 256 + k;
      const code = table[key]!;
      if (code >= 0) {
        prefix = code;
        continue;
      }
      emit(prefix);
      if (next === 4096) {
        emit(clear);
        table.fill(-1);
        next = eoi + 1;
        codeSize = minCodeSize + 1;
      } else {
        if (next >= 1 << codeSize) codeSize++;
        table[key] = next++;
      }
      prefix = k;
    }
    emit(prefix);
  }
  emit(eoi);
  if (nbits > 0) byte(acc & 0xff);
  if (blockLen > 0) {
    out.push(blockLen);
    out.bytes(block.subarray(0, blockLen));
  }
  out.push(0);
}

/**
 * Encodes frames of `width` x `height` RGB pixels as a looping animated GIF with one global palette
 * (buildPalette over all frames, `reserved` colours kept exact).
 */
export function encodeGif(
  width: number,
  height: number,
  frames: readonly GifFrame[],
  reserved: readonly (readonly [number, number, number])[] = [],
): Uint8Array {
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 1 ||
    height < 1 ||
    width > 65535 ||
    height > 65535
  ) {
    throw new RangeError(`bad GIF size ${width}x${height}`);
  }
  const out = new Bytes();
  out.bytes([0x47, 0x49, 0x46, 0x38, 0x39, 0x61]); // "GIF89a"
  out.u16(width);
  out.u16(height);
  out.push(0xf7); // global colour table, 8 bits colour resolution, 256 entries
  out.push(0); // background colour index
  out.push(0); // pixel aspect ratio
  const palette = buildPalette(
    frames.map((f) => f.rgb),
    reserved,
  );
  const table = lookupTable(palette);
  const exact = new Map<number, number>();
  reserved.slice(0, 256).forEach(([r, g, b], i) => {
    if (!exact.has((r << 16) | (g << 8) | b)) exact.set((r << 16) | (g << 8) | b, i);
  });
  out.bytes(palette);
  // NETSCAPE2.0: loop forever.
  out.bytes([0x21, 0xff, 0x0b]);
  out.bytes([...'NETSCAPE2.0'].map((c) => c.charCodeAt(0)));
  out.bytes([0x03, 0x01, 0x00, 0x00, 0x00]);
  const pixels = width * height;
  for (const f of frames) {
    if (f.rgb.length !== pixels * 3)
      throw new RangeError(`GIF frame has ${f.rgb.length} bytes, expected ${pixels * 3}`);
    // Graphic control extension: disposal 1 (leave in place), no transparency, delay.
    out.bytes([0x21, 0xf9, 0x04, 0x04]);
    out.u16(Math.max(0, Math.min(65535, Math.round(f.delayCs))));
    out.bytes([0x00, 0x00]);
    // Image descriptor: the whole canvas, no local colour table, not interlaced.
    out.push(0x2c);
    out.u16(0);
    out.u16(0);
    out.u16(width);
    out.u16(height);
    out.push(0);
    lzwEncode(quantize(f.rgb, pixels, table, exact), out);
  }
  out.push(0x3b); // trailer
  return out.result();
}
