/**
 * Image pre-processing as an inference config prescribes: PNG decoding, bilinear resize (half-pixel
 * centres, no antialias: the same sampling as torch.nn.functional.interpolate(mode='bilinear',
 * align_corners=False)) or letterbox, normalisation, NCHW float32 batch assembly, and the transform
 * that maps input-tensor pixels back to the original image. Pure functions except `readPngFile`.
 */
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { badInput } from '../core/errors.js';
import type { InferenceConfig } from './config.js';
import { float32Tensor, type TensorData } from './tensor.js';

/** An 8-bit RGB image, row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * How an original image sits in the model input: input x = x * scaleX + padX (likewise y).
 * `width`/`height` are the original image's size (for clipping).
 */
export interface ImageTransform {
  width: number;
  height: number;
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
  /** Size of the resized image inside the input (equals the input size in 'resize' mode). */
  resizedWidth: number;
  resizedHeight: number;
}

/** Decodes PNG bytes to RGB (alpha dropped, grey expanded, 16-bit reduced). `file` names errors. */
export function decodePng(bytes: Uint8Array, file = '<png>'): RgbImage {
  let png: { width: number; height: number; data: Buffer };
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw badInput('cannot decode the image', {
      file,
      expected: 'a PNG image',
      found: err instanceof Error ? err.message : String(err),
    });
  }
  const { width, height, data } = png;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    rgb[i * 3] = data[j]!;
    rgb[i * 3 + 1] = data[j + 1]!;
    rgb[i * 3 + 2] = data[j + 2]!;
  }
  return { width, height, data: rgb };
}

/** Reads and decodes a PNG file; a missing or unreadable file is BAD_INPUT naming it. */
export function readPngFile(file: string): RgbImage {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw badInput('cannot read the image', {
      file,
      expected: 'a readable PNG file',
      found: (err as NodeJS.ErrnoException).code ?? String(err),
    });
  }
  return decodePng(bytes, file);
}

/** The transform that places a width x height image into the config's input. */
export function planTransform(width: number, height: number, cfg: InferenceConfig): ImageTransform {
  const W = cfg.input.width;
  const H = cfg.input.height;
  if (cfg.preprocess.resize.mode === 'resize') {
    return {
      width,
      height,
      scaleX: W / width,
      scaleY: H / height,
      padX: 0,
      padY: 0,
      resizedWidth: W,
      resizedHeight: H,
    };
  }
  const s = Math.min(W / width, H / height);
  const rw = Math.max(1, Math.min(W, Math.round(width * s)));
  const rh = Math.max(1, Math.min(H, Math.round(height * s)));
  return {
    width,
    height,
    scaleX: rw / width,
    scaleY: rh / height,
    padX: Math.floor((W - rw) / 2),
    padY: Math.floor((H - rh) / 2),
    resizedWidth: rw,
    resizedHeight: rh,
  };
}

/** Source sample positions for a bilinear resize of n source pixels to m (half-pixel centres). */
function samples(n: number, m: number): { i0: Int32Array; i1: Int32Array; f: Float32Array } {
  const i0 = new Int32Array(m);
  const i1 = new Int32Array(m);
  const f = new Float32Array(m);
  const scale = n / m;
  for (let d = 0; d < m; d++) {
    const src = Math.max(0, (d + 0.5) * scale - 0.5);
    const a = Math.min(Math.floor(src), n - 1);
    i0[d] = a;
    i1[d] = Math.min(a + 1, n - 1);
    f[d] = src - a;
  }
  return { i0, i1, f };
}

/**
 * Writes one image into `out` at element `offset` as normalised NCHW planes of the config's input
 * size; returns the transform used.
 */
export function preprocessInto(
  img: RgbImage,
  cfg: InferenceConfig,
  out: Float32Array,
  offset: number,
): ImageTransform {
  const W = cfg.input.width;
  const H = cfg.input.height;
  const t = planTransform(img.width, img.height, cfg);
  const { scale, mean, std } = cfg.preprocess.normalize;
  const plane = W * H;
  for (let c = 0; c < 3; c++) {
    const pad = (cfg.preprocess.resize.pad_value * scale - mean[c]!) / std[c]!;
    out.fill(pad, offset + c * plane, offset + (c + 1) * plane);
  }
  const sx = samples(img.width, t.resizedWidth);
  const sy = samples(img.height, t.resizedHeight);
  const a = [0, 1, 2].map((c) => scale / std[c]!);
  const b = [0, 1, 2].map((c) => -mean[c]! / std[c]!);
  const src = img.data;
  const rowStride = img.width * 3;
  for (let y = 0; y < t.resizedHeight; y++) {
    const y0 = sy.i0[y]! * rowStride;
    const y1 = sy.i1[y]! * rowStride;
    const fy = sy.f[y]!;
    const base = offset + (y + t.padY) * W + t.padX;
    for (let x = 0; x < t.resizedWidth; x++) {
      const x0 = sx.i0[x]! * 3;
      const x1 = sx.i1[x]! * 3;
      const fx = sx.f[x]!;
      for (let c = 0; c < 3; c++) {
        const top = src[y0 + x0 + c]! + (src[y0 + x1 + c]! - src[y0 + x0 + c]!) * fx;
        const bot = src[y1 + x0 + c]! + (src[y1 + x1 + c]! - src[y1 + x0 + c]!) * fx;
        const v = top + (bot - top) * fy;
        out[base + c * plane + x] = v * a[c]! + b[c]!;
      }
    }
  }
  return t;
}

/** Pre-processes images into one NCHW float32 batch tensor, with each image's transform. */
export function preprocessBatch(
  images: readonly RgbImage[],
  cfg: InferenceConfig,
): { tensor: TensorData; transforms: ImageTransform[] } {
  const per = 3 * cfg.input.width * cfg.input.height;
  const data = new Float32Array(per * images.length);
  const transforms = images.map((img, i) => preprocessInto(img, cfg, data, i * per));
  return {
    tensor: float32Tensor(data, [images.length, 3, cfg.input.height, cfg.input.width]),
    transforms,
  };
}
