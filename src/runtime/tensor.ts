/**
 * Plain tensors (typed array + dims + element type) as the runtime passes them between threads and
 * to the decoders; independent of onnxruntime's Tensor class so that pure code needs no session.
 */

/** Element types a runtime tensor can have. */
export type TensorType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'int8' | 'bool';

/** The typed arrays behind runtime tensors. */
export type TensorArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

/** A tensor: row-major data with its dims and element type. */
export interface TensorData {
  type: TensorType;
  data: TensorArray;
  dims: number[];
}

/** Named tensors: the feeds or the outputs of one run. */
export type TensorMap = Record<string, TensorData>;

/** A float32 tensor. */
export function float32Tensor(data: Float32Array, dims: number[]): TensorData {
  return { type: 'float32', data, dims };
}

/** The element count of a shape. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Reads element `i` of a tensor as a JS number (int64 converted). */
export function numberAt(t: TensorData, i: number): number {
  const v = t.data[i];
  return typeof v === 'bigint' ? Number(v) : (v ?? Number.NaN);
}
