/**
 * Tensors on the wire (KServe v2 / Triton): datatype names and sizes, JSON `data` arrays (nested or
 * flat, row-major) and the binary tensor data extension (little-endian, unpadded). Converts between
 * them and the runtime's typed-array tensors. Pure.
 */
import { badInput } from '../core/errors.js';
import type { TensorArray, TensorData, TensorType } from '../runtime/tensor.js';

/** The API datatypes drivegate can run (onnxruntime-node CPU tensors). */
const RUNTIME_TYPE: Record<string, TensorType> = {
  FP32: 'float32',
  FP64: 'float64',
  INT32: 'int32',
  INT64: 'int64',
  UINT8: 'uint8',
  INT8: 'int8',
  BOOL: 'bool',
};

/** Bytes per element of each API datatype (BYTES is variable: undefined). */
export const DATATYPE_SIZE: Record<string, number> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
  BF16: 2,
};

/** The runtime tensor type of an API datatype, undefined when drivegate cannot run it. */
export function runtimeType(datatype: string): TensorType | undefined {
  return RUNTIME_TYPE[datatype];
}

/** The API datatype of an onnxruntime element type name ('float32' -> 'FP32'). */
export function datatypeOfOrt(type: string): string | undefined {
  const map: Record<string, string> = {
    float32: 'FP32',
    float64: 'FP64',
    float16: 'FP16',
    int32: 'INT32',
    int64: 'INT64',
    int16: 'INT16',
    int8: 'INT8',
    uint8: 'UINT8',
    uint16: 'UINT16',
    uint32: 'UINT32',
    uint64: 'UINT64',
    bool: 'BOOL',
    string: 'BYTES',
  };
  return map[type];
}

/** A zero-filled typed array of `n` elements of the runtime element type `type`. */
export function allocate(type: TensorType, n: number): TensorArray {
  switch (type) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(n);
  }
}

const RANGE: Partial<Record<TensorType, [number, number]>> = {
  int32: [-2147483648, 2147483647],
  int8: [-128, 127],
  uint8: [0, 255],
};

/**
 * Reads a JSON `data` array (nested or flat, row-major) into a typed array of `count` elements.
 * A wrong element count, a non-number (non-boolean for BOOL) or an out-of-range integer is BAD_INPUT
 * naming the input.
 */
export function decodeJsonData(data: unknown, datatype: string, count: number, where: string): TensorArray {
  const type = runtimeType(datatype);
  if (type === undefined)
    throw badInput(`${where}: datatype ${datatype} is not supported in JSON by this server`);
  if (!Array.isArray(data))
    throw badInput(`${where}: 'data' must be an array`, { expected: 'a JSON array', found: typeof data });
  const out = allocate(type, count);
  let n = 0;
  const stack: Array<{ a: unknown[]; i: number }> = [{ a: data, i: 0 }];
  const integer = type === 'int32' || type === 'int8' || type === 'uint8' || type === 'int64';
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.a.length) {
      stack.pop();
      continue;
    }
    const v = top.a[top.i++];
    if (Array.isArray(v)) {
      stack.push({ a: v, i: 0 });
      continue;
    }
    if (n >= count) {
      throw badInput(`${where}: the data has more elements than the shape says`, {
        expected: `${count} elements`,
        found: 'more',
      });
    }
    if (type === 'bool') {
      if (typeof v !== 'boolean')
        throw badInput(`${where}: element ${n} is not a boolean`, {
          expected: 'true or false',
          found: JSON.stringify(v),
        });
      (out as Uint8Array)[n++] = v ? 1 : 0;
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw badInput(`${where}: element ${n} is not a number`, {
        expected: `a ${datatype} value`,
        found: JSON.stringify(v) ?? String(v),
      });
    }
    if (integer) {
      const r = RANGE[type];
      if (!Number.isInteger(v) || (r !== undefined && (v < r[0] || v > r[1]))) {
        throw badInput(`${where}: element ${n} is not a ${datatype}`, {
          expected: `an integer${r !== undefined ? ` in ${r[0]}..${r[1]}` : ''}`,
          found: String(v),
        });
      }
    }
    if (type === 'int64') (out as BigInt64Array)[n++] = BigInt(v);
    else (out as Float32Array)[n++] = v;
  }
  if (n !== count)
    throw badInput(`${where}: the data has fewer elements than the shape says`, {
      expected: `${count} elements`,
      found: `${n}`,
    });
  return out;
}

/** Reads little-endian binary tensor data (exactly count elements' bytes) into an owned typed array. */
export function decodeBinaryData(
  bytes: Uint8Array,
  datatype: string,
  count: number,
  where: string,
): TensorArray {
  const type = runtimeType(datatype);
  const size = DATATYPE_SIZE[datatype];
  if (type === undefined || size === undefined)
    throw badInput(`${where}: datatype ${datatype} is not supported by this server`);
  if (bytes.byteLength !== count * size) {
    throw badInput(`${where}: binary data size does not match the shape`, {
      expected: `${count * size} bytes (${count} x ${datatype})`,
      found: `${bytes.byteLength} bytes`,
    });
  }
  const out = allocate(type, count);
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
  return out;
}

/**
 * Binary tensor data as a typed array over the same memory, without a copy, when its offset suits the
 * element size (else a copy, as decodeBinaryData). The caller hands over the bytes: the tensor shares
 * them. Little-endian hosts only, as the wire format is little-endian.
 */
export function viewBinaryData(
  bytes: Uint8Array,
  datatype: string,
  count: number,
  where: string,
): TensorArray {
  const type = runtimeType(datatype);
  const size = DATATYPE_SIZE[datatype];
  if (
    type === undefined ||
    size === undefined ||
    bytes.byteLength !== count * size ||
    bytes.byteOffset % size !== 0
  )
    return decodeBinaryData(bytes, datatype, count, where);
  const buf = bytes.buffer;
  const at = bytes.byteOffset;
  switch (type) {
    case 'float32':
      return new Float32Array(buf, at, count);
    case 'float64':
      return new Float64Array(buf, at, count);
    case 'int32':
      return new Int32Array(buf, at, count);
    case 'int64':
      return new BigInt64Array(buf, at, count);
    case 'int8':
      return new Int8Array(buf, at, count);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf, at, count);
  }
}

/** A tensor's elements as a flat JSON array (INT64 as numbers, BOOL as booleans). */
export function encodeJsonData(t: TensorData): Array<number | boolean> {
  if (t.type === 'bool') return Array.from(t.data as Uint8Array, (v) => v !== 0);
  if (t.data instanceof BigInt64Array) return Array.from(t.data, (v) => Number(v));
  return Array.from(t.data as Float32Array);
}

/** A tensor's raw little-endian bytes (a view, no copy). */
export function tensorBytes(t: TensorData): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** The API datatype of a runtime tensor. */
export function datatypeOf(t: TensorData): string {
  return datatypeOfOrt(t.type) ?? t.type;
}
