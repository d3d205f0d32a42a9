/**
 * TensorRT's INT8 calibration cache (text form), as TensorRT's calibrators write it and
 * onnxruntime's TensorRT execution provider reads it: a header line `TRT-<version>-<algorithm>`
 * and one `<tensor name>: <hex>` line per tensor, the hex being the IEEE-754 float32 bit pattern of
 * the scale (= amax / 127) written as an integer in lowercase hex without `0x` or zero padding
 * (scale 1/127 -> `3c010204`). See /work/shared/reference/formats.md §3 and docs/int8.md.
 */
import { badInput } from '../core/errors.js';

/** TensorRT 8.6.1's NV_TENSORRT_VERSION (major*1000 + minor*100 + patch), the default header version. */
export const DEFAULT_TRT_VERSION = 8601;

/** The calibration algorithm tag of the header. */
export type TrtCalibrationAlgorithm =
  'EntropyCalibration2' | 'EntropyCalibration' | 'MinMaxCalibration' | 'LegacyCalibration';

/** A parsed calibration cache. */
export interface CalibrationCache {
  /** The version number of the header (e.g. 8601). */
  version: number;
  /** The algorithm tag of the header (e.g. EntropyCalibration2). */
  algorithm: string;
  /** Scale per tensor name, in file order. */
  scales: Record<string, number>;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The cache's hex for a scale: float32 bits as an unpadded lowercase hex integer. */
export function scaleToHex(scale: number): string {
  f32[0] = scale;
  return (u32[0] as number).toString(16);
}

/** The float32 scale a cache hex stands for. */
export function hexToScale(hex: string): number {
  u32[0] = Number.parseInt(hex, 16);
  return f32[0] as number;
}

/**
 * The text of a calibration cache for per-tensor scales (written in the given order, one line per
 * tensor, `\n` line ends, a final newline). Names containing a newline or `: ` are refused (the
 * format cannot carry them).
 */
export function calibrationCacheText(
  scales: Record<string, number> | ReadonlyArray<readonly [string, number]>,
  options: { version?: number; algorithm?: TrtCalibrationAlgorithm } = {},
): string {
  const entries = Array.isArray(scales) ? scales : Object.entries(scales as Record<string, number>);
  const lines = [
    `TRT-${options.version ?? DEFAULT_TRT_VERSION}-${options.algorithm ?? 'EntropyCalibration2'}`,
  ];
  for (const [name, scale] of entries as ReadonlyArray<readonly [string, number]>) {
    if (name.includes('\n') || name.includes(': ')) {
      throw badInput('a tensor name cannot be written to a TensorRT calibration cache', {
        field: name,
        expected: 'a tensor name without a newline or ": "',
        found: JSON.stringify(name),
      });
    }
    if (!Number.isFinite(scale) || scale <= 0) {
      throw badInput('a calibration scale must be a positive finite number', {
        field: name,
        expected: 'scale > 0',
        found: String(scale),
      });
    }
    lines.push(`${name}: ${scaleToHex(scale)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Parses a calibration cache. BAD_INPUT naming `file` and the line for a missing or malformed
 * header, a line without `: `, hex that is not 1-8 hex digits, a non-positive scale or a repeated
 * tensor name. Blank lines are ignored.
 */
export function parseCalibrationCache(text: string, file = 'calibration.cache'): CalibrationCache {
  const lines = text.split(/\r?\n/);
  const header = /^TRT-(\d+)-(\w+)$/.exec((lines[0] ?? '').trim());
  if (header === null) {
    throw badInput('not a TensorRT calibration cache', {
      file,
      line: 1,
      expected: 'a header line TRT-<version>-<algorithm>, e.g. TRT-8601-EntropyCalibration2',
      found: JSON.stringify((lines[0] ?? '').slice(0, 80)),
    });
  }
  const scales: Record<string, number> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '') continue;
    const at = line.lastIndexOf(': ');
    const name = at > 0 ? line.slice(0, at) : '';
    const hex = at > 0 ? line.slice(at + 2).trim() : '';
    if (name === '' || !/^[0-9a-fA-F]{1,8}$/.test(hex)) {
      throw badInput('a calibration cache line is malformed', {
        file,
        line: i + 1,
        expected: '<tensor name>: <1-8 hex digits of the float32 scale>',
        found: JSON.stringify(line.slice(0, 120)),
      });
    }
    const scale = hexToScale(hex);
    if (!Number.isFinite(scale) || scale <= 0) {
      throw badInput('a calibration scale is not a positive finite float', {
        file,
        line: i + 1,
        field: name,
        expected: 'the bits of a positive float32',
        found: `${hex} (${scale})`,
      });
    }
    if (Object.hasOwn(scales, name)) {
      throw badInput('a tensor appears twice in the calibration cache', {
        file,
        line: i + 1,
        field: name,
        expected: 'one line per tensor',
        found: 'a repeated name',
      });
    }
    scales[name] = scale;
  }
  return { version: Number(header[1]), algorithm: header[2] as string, scales };
}
