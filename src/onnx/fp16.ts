/**
 * FP16 emulation in an FP32 graph, for hosts whose onnxruntime lacks FP16 kernels: every FP32
 * initializer is rounded to the nearest float16 value (in place), and every output of a
 * float-producing node is passed through Cast(FLOAT16) -> Cast(FLOAT), so activations carry fp16
 * precision and range (overflow becomes Inf) while the graph still runs in FP32. The model's own
 * inputs and outputs keep their names and FP32 types. The result measures what an FP16 build would
 * lose numerically; it is evidence, not a deployable FP16 model.
 */
import { badInput } from '../core/errors.js';
import { varintBytes } from './graph.js';
import { ONNX_ELEM_TYPES, Reader } from './proto.js';

/** Ops whose outputs are float tensors when their inputs are (the ones emulation rounds). */
export const FLOAT_OPS: ReadonlySet<string> = new Set(
  (
    'Add Sub Mul Div Conv ConvTranspose Relu LeakyRelu Sigmoid Tanh HardSigmoid HardSwish Gemm MatMul ' +
    'BatchNormalization InstanceNormalization LayerNormalization MaxPool AveragePool GlobalAveragePool ' +
    'GlobalMaxPool Softmax LogSoftmax Exp Log Sqrt Pow Clip Elu Selu PRelu Resize Upsample Concat Neg Abs Erf Mish'
  ).split(' '),
);

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds a float32 to the nearest float16 value (round-to-nearest-even; overflow -> ±Inf), as float32. */
export function roundToFp16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  f32[0] = x;
  const bits = u32[0] as number;
  const sign = bits >>> 31 ? -1 : 1;
  const a = Math.abs(x);
  if (a >= 65520) return sign * Infinity; // rounds past the largest half (65504)
  // Spacing of fp16 values around a: 2^(e-10) for normal numbers, 2^-24 for subnormals.
  const e = Math.max(Math.floor(Math.log2(a)), -14);
  const ulp = 2 ** (e - 10);
  const q = a / ulp;
  let r = Math.round(q);
  if (Math.abs(q - Math.trunc(q) - 0.5) < 1e-12 && r % 2 === 1) r -= 1; // ties to even
  f32[0] = sign * r * ulp;
  return f32[0];
}

function lenField(field: number, payload: Uint8Array): Buffer {
  return Buffer.concat([
    Buffer.from([...varintBytes(field * 8 + 2), ...varintBytes(payload.length)]),
    payload,
  ]);
}

function strField(field: number, s: string): Buffer {
  return lenField(field, Buffer.from(s, 'utf8'));
}

function castNode(name: string, input: string, output: string, to: number): Buffer {
  const attr = Buffer.concat([
    strField(1, 'to'),
    Buffer.from([0x18, ...varintBytes(to)]),
    Buffer.from([0xa0, 0x01, 2]),
  ]);
  return Buffer.concat([
    strField(1, input),
    strField(2, output),
    strField(3, name),
    strField(4, 'Cast'),
    lenField(5, attr),
  ]);
}

/** What emulation changed. */
export interface Fp16EmulationInfo {
  initializersRounded: number;
  weightsRounded: number;
  activationsCast: number;
  /** Node outputs left in FP32 (ops not known to produce floats). */
  skippedOps: string[];
}

/** Returns an FP16-emulating copy of an FP32 ONNX model (see the module doc). `file` names it in errors. */
export function emulateFp16(bytes: Uint8Array, file: string): { model: Buffer; info: Fp16EmulationInfo } {
  const buf = Buffer.from(bytes); // a copy: initializers are rounded in place
  const info: Fp16EmulationInfo = {
    initializersRounded: 0,
    weightsRounded: 0,
    activationsCast: 0,
    skippedOps: [],
  };
  const model = replaceGraph(buf, file, (g) => {
    const graphParts: Buffer[] = [];
    const extraNodes: Buffer[] = [];
    let gStart = g.pos;
    g.each((gf, gw) => {
      if (gf === 5 && gw === 2) {
        const t = g.sub('graph.initializer');
        let dataType = 0;
        let raw: [number, number] | undefined;
        t.each((tf, tw) => {
          if (tf === 2 && tw === 0) dataType = t.varint();
          else if (tf === 9 && tw === 2) raw = t.bytes();
          else return false;
          return true;
        });
        if (dataType === 1 && raw !== undefined) {
          info.initializersRounded++;
          for (let o = raw[0]; o + 4 <= raw[1]; o += 4) {
            buf.writeFloatLE(roundToFp16(buf.readFloatLE(o)), o);
            info.weightsRounded++;
          }
        }
        graphParts.push(buf.subarray(gStart, g.pos));
      } else if (gf === 1 && gw === 2) {
        const n = g.sub('graph.node');
        const kept: Buffer[] = [];
        const outputs: string[] = [];
        let opType = '';
        let name = '';
        let s = n.pos;
        n.each((nf, nw) => {
          if (nf === 2 && nw === 2) {
            outputs.push(n.string());
          } else {
            if (nf === 4 && nw === 2) opType = n.string();
            else if (nf === 3 && nw === 2) name = n.string();
            else n.skip(nw);
            kept.push(buf.subarray(s, n.pos));
          }
          s = n.pos;
          return true;
        });
        const emulate = FLOAT_OPS.has(opType);
        if (!emulate && !info.skippedOps.includes(opType)) info.skippedOps.push(opType);
        const newOutputs = outputs.map((o) => (emulate && o !== '' ? `${o}__fp32` : o));
        const node = Buffer.concat([...newOutputs.map((o) => strField(2, o)), ...kept]);
        graphParts.push(lenField(1, node));
        if (emulate) {
          outputs.forEach((o, i) => {
            if (o === '') return;
            const base = `${name !== '' ? name : opType}_${i}`;
            extraNodes.push(lenField(1, castNode(`${base}_to_fp16`, `${o}__fp32`, `${o}__fp16`, 10)));
            extraNodes.push(lenField(1, castNode(`${base}_to_fp32`, `${o}__fp16`, o, 1)));
            info.activationsCast++;
          });
        }
      } else {
        g.skip(gw);
        graphParts.push(buf.subarray(gStart, g.pos));
      }
      gStart = g.pos;
      return true;
    });
    return Buffer.concat([...graphParts, ...extraNodes]);
  });
  return { model, info };
}

/**
 * Copies a ModelProto with its graph (field 7) replaced by what `rewrite` makes of it (GraphProto
 * bytes); every other field is kept byte for byte, in order.
 */
function replaceGraph(buf: Buffer, file: string, rewrite: (graph: Reader) => Buffer): Buffer {
  const top = new Reader(buf, file, 'ModelProto', 0, buf.length);
  const parts: Buffer[] = [];
  let fieldStart = 0;
  top.each((f, w) => {
    if (f === 7 && w === 2) parts.push(lenField(7, rewrite(top.sub('graph'))));
    else {
      top.skip(w);
      parts.push(buf.subarray(fieldStart, top.pos));
    }
    fieldStart = top.pos;
    return true;
  });
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Real FP16 conversion: weights and compute in float16, sensitive ops and the model's I/O in FP32.
// ---------------------------------------------------------------------------------------------

/**
 * Ops kept in FP32 by default when converting to FP16 (inputs cast up, outputs cast down): ops whose
 * fp16 result loses range or accumulates error (exponentials, logs, powers, reductions, divisions,
 * normalisations), the score head's Sigmoid, and ops whose float inputs the ONNX spec fixes to FP32
 * or whose indices matter (Resize/Upsample scales, TopK, NonMaxSuppression, RoiAlign, Range, CumSum).
 */
export const DEFAULT_FP32_OPS: readonly string[] = (
  'Exp Log Pow Sqrt Reciprocal Div Erf Softmax LogSoftmax Sigmoid ReduceMean ReduceSum ReduceSumSquare ' +
  'ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceProd LayerNormalization InstanceNormalization ' +
  'GroupNormalization MeanVarianceNormalization LpNormalization Resize Upsample TopK NonMaxSuppression ' +
  'RoiAlign Range CumSum RandomNormal RandomUniform RandomNormalLike RandomUniformLike EyeLike'
).split(' ');

const FLOAT = 1;
const FLOAT16 = 10;
const INT64 = 7;
const BOOL = 9;

/** The IEEE binary16 bits of the float16 value nearest to `x` (ties to even; |x| >= 65520 -> ±Inf; NaN -> NaN). */
export function fp16Bits(x: number): number {
  f32[0] = x;
  const sign = ((u32[0] as number) >>> 16) & 0x8000;
  if (Number.isNaN(x)) return 0x7e00;
  const r = roundToFp16(Math.abs(x));
  if (r === Infinity) return sign | 0x7c00;
  if (r === 0) return sign;
  if (r < 2 ** -14) return sign | Math.round(r / 2 ** -24);
  f32[0] = r;
  const bits = u32[0] as number;
  const exp = ((bits >>> 23) & 0xff) - 127;
  return sign | ((exp + 15) << 10) | ((bits >>> 13) & 0x3ff);
}

/** What the FP16 conversion did (for export_report.json). */
export interface Fp16ConversionInfo {
  /** Float initializers stored as FLOAT16 / kept FP32 (consumed only by FP32-kept ops). */
  initializersConverted: number;
  initializersKeptFp32: number;
  weightsConverted: number;
  /** Weights beyond ±65504 clamped to the largest finite half, and non-zero weights that became 0. */
  weightsClamped: number;
  weightsUnderflowed: number;
  /** Nodes computing in FP16, nodes kept in FP32 (by op type), and the Cast nodes added. */
  nodesFp16: number;
  nodesKeptFp32: Record<string, number>;
  castsAdded: number;
  /** The op types kept in FP32 by the conversion's rule. */
  keepFp32Ops: string[];
}

interface RawNode {
  inputs: string[];
  outputs: string[];
  name: string;
  opType: string;
  domain: string;
  /** Raw bytes of each attribute's payload (field 5), with its parsed name, and the rest of the node. */
  attrs: Array<{ name: string; bytes: Buffer }>;
  rest: Buffer[];
  index: number;
}

interface RawTensor {
  name: string;
  dataType: number;
  /** The tensor's dims fields, verbatim. */
  dimFields: Buffer[];
  floats?: Float32Array;
  external: boolean;
  bytes: Buffer;
}

function parseTensor(r: Reader): RawTensor {
  const buf = Buffer.from(r.buf.buffer, r.buf.byteOffset, r.buf.byteLength);
  const start = r.pos;
  const t: RawTensor = { name: '', dataType: 0, dimFields: [], external: false, bytes: Buffer.alloc(0) };
  let raw: [number, number] | undefined;
  const floats: number[] = [];
  let s = r.pos;
  r.each((f, w) => {
    if (f === 1) {
      r.skip(w);
      t.dimFields.push(buf.subarray(s, r.pos));
    } else if (f === 2 && w === 0) t.dataType = r.varint();
    else if (f === 8 && w === 2) t.name = r.string();
    else if (f === 9 && w === 2) raw = r.bytes();
    else if (f === 4 && w === 2) {
      const [a, b] = r.bytes();
      for (let o = a; o + 4 <= b; o += 4) floats.push(buf.readFloatLE(o));
    } else if (f === 4 && w === 5) {
      floats.push(buf.readFloatLE(r.pos));
      r.skip(5);
    } else if ((f === 13 && w === 2) || (f === 14 && w === 0)) {
      r.skip(w);
      if (f === 13) t.external = true;
      if (f === 14) t.external = true;
    } else r.skip(w);
    s = r.pos;
    return true;
  });
  if (t.dataType === FLOAT) {
    if (raw !== undefined) {
      const [a, b] = raw;
      const arr = new Float32Array((b - a) >> 2);
      for (let i = 0; i < arr.length; i++) arr[i] = buf.readFloatLE(a + 4 * i);
      t.floats = arr;
    } else t.floats = Float32Array.from(floats);
  }
  t.bytes = buf.subarray(start, r.end);
  return t;
}

function int64Field(field: number, v: number): Buffer {
  return Buffer.from([...varintBytes(field * 8), ...varintBytes(v)]);
}

/** A TensorProto with `t`'s name and dims holding `floats` as FLOAT16 raw data; counts clamped/underflowed values. */
function fp16Tensor(t: RawTensor, floats: Float32Array, info: Fp16ConversionInfo): Buffer {
  const raw = Buffer.alloc(floats.length * 2);
  for (let i = 0; i < floats.length; i++) {
    let v = floats[i] as number;
    if (v > 65504) {
      v = 65504;
      info.weightsClamped++;
    } else if (v < -65504) {
      v = -65504;
      info.weightsClamped++;
    }
    const bits = fp16Bits(v);
    if (v !== 0 && (bits & 0x7fff) === 0) info.weightsUnderflowed++;
    raw.writeUInt16LE(bits, 2 * i);
  }
  info.weightsConverted += floats.length;
  return Buffer.concat([...t.dimFields, int64Field(2, FLOAT16), strField(8, t.name), lenField(9, raw)]);
}

function parseAttr(r: Reader): { name: string; type: number; i?: number; t?: RawTensor; hasGraph: boolean } {
  const a: { name: string; type: number; i?: number; t?: RawTensor; hasGraph: boolean } = {
    name: '',
    type: 0,
    hasGraph: false,
  };
  r.each((f, w) => {
    if (f === 1 && w === 2) a.name = r.string();
    else if (f === 20 && w === 0) a.type = r.varint();
    else if (f === 3 && w === 0) a.i = r.int64();
    else if (f === 5 && w === 2) a.t = parseTensor(r.sub('graph.node.attribute.t'));
    else if ((f === 6 || f === 11) && w === 2) {
      a.hasGraph = true;
      r.skip(w);
    } else r.skip(w);
    return true;
  });
  return a;
}

/** The element types a node's outputs get, given its input types (the rules FP16 conversion needs). */
function outputTypes(n: RawNode, types: Map<string, number>, file: string): number[] {
  const attr = (name: string): ReturnType<typeof parseAttr> | undefined => {
    const a = n.attrs.find((x) => x.name === name);
    return a === undefined
      ? undefined
      : parseAttr(new Reader(a.bytes, file, 'graph.node.attribute', 0, a.bytes.length));
  };
  const first = n.inputs.find((i) => i !== '');
  const t0 = first === undefined ? 0 : (types.get(first) ?? 0);
  const all = (t: number): number[] => n.outputs.map(() => t);
  if (n.domain !== '' && n.domain !== 'ai.onnx') return all(0);
  switch (n.opType) {
    case 'Cast':
      return all(attr('to')?.i ?? 0);
    case 'Constant': {
      const v = attr('value');
      if (v?.t !== undefined) return all(v.t.dataType);
      if (attr('value_float') !== undefined || attr('value_floats') !== undefined) return all(FLOAT);
      return all(INT64);
    }
    case 'ConstantOfShape':
      return all(attr('value')?.t?.dataType ?? FLOAT);
    case 'Shape':
    case 'Size':
    case 'ArgMax':
    case 'ArgMin':
    case 'NonZero':
    case 'NonMaxSuppression':
      return all(INT64);
    case 'TopK':
    case 'MaxPool':
      return n.outputs.map((_, i) => (i === 0 ? t0 : INT64));
    case 'Dropout':
      return n.outputs.map((_, i) => (i === 0 ? t0 : BOOL));
    case 'Equal':
    case 'Greater':
    case 'GreaterOrEqual':
    case 'Less':
    case 'LessOrEqual':
    case 'Not':
    case 'And':
    case 'Or':
    case 'Xor':
    case 'IsNaN':
    case 'IsInf':
      return all(BOOL);
    case 'Where':
      return all(types.get(n.inputs[1] ?? '') ?? 0);
    case 'DequantizeLinear':
      return all(FLOAT);
    case 'QuantizeLinear':
      return all(types.get(n.inputs[2] ?? '') ?? 2);
    case 'RandomNormal':
    case 'RandomUniform':
    case 'RandomNormalLike':
    case 'RandomUniformLike':
    case 'EyeLike':
      return all(attr('dtype')?.i ?? (n.opType.endsWith('Like') ? t0 : FLOAT));
    default:
      return all(t0);
  }
}

function castTo(name: string, input: string, output: string, to: number): Buffer {
  return lenField(1, castNode(name, input, output, to));
}

/**
 * Converts an FP32 ONNX model to FP16: float initializers become FLOAT16 (clamped to ±65504), every
 * node computes in FP16 except the ops in `keepFp32Ops` (their float inputs are cast to FP32 and their
 * float outputs back to FP16), and the model's float inputs and outputs stay FP32 with a Cast at
 * each boundary. Cast nodes with to=FLOAT and float Constant/ConstantOfShape values inside the FP16
 * region are retyped. value_info is dropped (it would carry stale FP32 types). The result is
 * deterministic: the same bytes and options give the same bytes. BAD_INPUT naming `file` for
 * external data or subgraphs.
 */
export function convertToFp16(
  bytes: Uint8Array,
  file: string,
  options: { keepFp32Ops?: readonly string[] } = {},
): { model: Buffer; info: Fp16ConversionInfo } {
  const keep = new Set(options.keepFp32Ops ?? DEFAULT_FP32_OPS);
  const buf = Buffer.from(bytes);
  const info: Fp16ConversionInfo = {
    initializersConverted: 0,
    initializersKeptFp32: 0,
    weightsConverted: 0,
    weightsClamped: 0,
    weightsUnderflowed: 0,
    nodesFp16: 0,
    nodesKeptFp32: {},
    castsAdded: 0,
    keepFp32Ops: [...keep].sort(),
  };
  const model = replaceGraph(buf, file, (g) => convertGraph(buf, g, file, keep, info));
  return { model, info };
}

function fail(file: string, field: string, message: string, expected: string, found: string): never {
  throw badInput(message, { file, field, expected, found });
}

function convertGraph(
  buf: Buffer,
  g: Reader,
  file: string,
  keep: Set<string>,
  info: Fp16ConversionInfo,
): Buffer {
  const nodes: RawNode[] = [];
  const inits: RawTensor[] = [];
  const inputs: Array<{ name: string; elemType: number; bytes: Buffer }> = [];
  const outputs: Array<{ name: string; elemType: number; bytes: Buffer }> = [];
  const other: Buffer[] = [];
  let s = g.pos;
  g.each((gf, gw) => {
    if (gf === 1 && gw === 2) {
      const r = g.sub(`graph.node[${nodes.length}]`);
      const n: RawNode = {
        inputs: [],
        outputs: [],
        name: '',
        opType: '',
        domain: '',
        attrs: [],
        rest: [],
        index: nodes.length,
      };
      let ns = r.pos;
      r.each((nf, nw) => {
        if (nf === 1 && nw === 2) n.inputs.push(r.string());
        else if (nf === 2 && nw === 2) n.outputs.push(r.string());
        else if (nf === 3 && nw === 2) n.name = r.string();
        else if (nf === 4 && nw === 2) n.opType = r.string();
        else if (nf === 7 && nw === 2) n.domain = r.string();
        else if (nf === 5 && nw === 2) {
          const [a, b] = r.bytes();
          const ab = buf.subarray(a, b);
          const parsed = parseAttr(new Reader(buf, file, 'graph.node.attribute', a, b));
          if (parsed.hasGraph) {
            fail(
              file,
              `graph.node[${n.index}]`,
              `node '${n.name}' (${n.opType}) has a subgraph; FP16 conversion does not handle subgraphs`,
              'a graph without If/Loop/Scan subgraphs',
              `attribute '${parsed.name}'`,
            );
          }
          n.attrs.push({ name: parsed.name, bytes: Buffer.from(ab) });
        } else {
          r.skip(nw);
          n.rest.push(buf.subarray(ns, r.pos));
        }
        ns = r.pos;
        return true;
      });
      nodes.push(n);
    } else if (gf === 5 && gw === 2) {
      const t = parseTensor(g.sub('graph.initializer'));
      if (t.external)
        fail(
          file,
          `graph.initializer '${t.name}'`,
          'FP16 conversion needs the weights inside the model file',
          'an initializer with raw or typed data',
          'external data',
        );
      inits.push(t);
    } else if ((gf === 11 || gf === 12) && gw === 2) {
      const [a, b] = g.bytes();
      let name = '';
      let elemType = 0;
      const vr = new Reader(buf, file, 'graph.value_info', a, b);
      vr.each((vf, vw) => {
        if (vf === 1 && vw === 2) name = vr.string();
        else if (vf === 2 && vw === 2) {
          const tr = vr.sub('graph.value_info.type');
          tr.each((tf, tw) => {
            if (tf !== 1 || tw !== 2) return false;
            const tt = tr.sub('graph.value_info.type.tensor_type');
            tt.each((ef, ew) => {
              if (ef === 1 && ew === 0) elemType = tt.varint();
              else return false;
              return true;
            });
            return true;
          });
        } else return false;
        return true;
      });
      (gf === 11 ? inputs : outputs).push({ name, elemType, bytes: buf.subarray(s, g.pos) });
    } else if (gf === 13 && gw === 2) {
      g.skip(gw); // value_info: dropped (stale types after conversion)
    } else {
      g.skip(gw);
      other.push(buf.subarray(s, g.pos));
    }
    s = g.pos;
    return true;
  });

  // Element types of every tensor.
  const types = new Map<string, number>();
  const initNames = new Set(inits.map((t) => t.name));
  for (const t of inits) types.set(t.name, t.dataType);
  for (const i of inputs) if (!initNames.has(i.name)) types.set(i.name, i.elemType);
  for (const n of nodes) {
    const ts = outputTypes(n, types, file);
    n.outputs.forEach((o, k) => {
      if (o !== '') types.set(o, ts[k] ?? 0);
    });
  }
  const isFloat = (t: string): boolean => t !== '' && types.get(t) === FLOAT;
  const kept = (n: RawNode): boolean =>
    keep.has(n.opType) ||
    (n.domain !== '' && n.domain !== 'ai.onnx') ||
    (n.opType === 'Constant' && n.attrs.every((a) => a.name !== 'value')) ||
    (n.opType === 'ConstantOfShape' && n.attrs.every((a) => a.name !== 'value'));
  const consumers = new Map<string, RawNode[]>();
  for (const n of nodes)
    for (const i of n.inputs) if (i !== '') consumers.set(i, [...(consumers.get(i) ?? []), n]);

  // The native precision of each float tensor: FP32 for graph inputs, initializers feeding only
  // kept ops, and outputs of kept ops; FP16 otherwise.
  const graphIn = new Set(inputs.filter((i) => !initNames.has(i.name)).map((i) => i.name));
  const graphOut = new Set(outputs.map((o) => o.name));
  const native32 = new Set<string>(graphIn);
  for (const t of inits) {
    const c = consumers.get(t.name) ?? [];
    if (t.dataType === FLOAT && c.length > 0 && c.every(kept)) native32.add(t.name);
  }
  for (const n of nodes) if (kept(n)) for (const o of n.outputs) if (isFloat(o)) native32.add(o);
  const nativeName = (t: string): string => (!native32.has(t) && graphOut.has(t) ? `${t}__fp16` : t);
  const nameIn = (t: string, fp32: boolean): string => {
    if (native32.has(t) === fp32) return nativeName(t);
    if (fp32 && graphOut.has(t)) return t;
    return `${t}__${fp32 ? 'fp32' : 'fp16'}`;
  };

  const outNodes: Buffer[] = [];
  const made = new Set<string>();
  const need = (t: string, fp32: boolean): string => {
    const name = nameIn(t, fp32);
    if (native32.has(t) !== fp32 && !made.has(name) && !(fp32 && graphOut.has(t))) {
      made.add(name);
      outNodes.push(
        castTo(`${t}__cast_to_${fp32 ? 'fp32' : 'fp16'}`, nativeName(t), name, fp32 ? FLOAT : FLOAT16),
      );
      info.castsAdded++;
    }
    return name;
  };

  const newInits: Buffer[] = [];
  for (const t of inits) {
    if (t.dataType === FLOAT && !native32.has(t.name) && t.floats !== undefined) {
      newInits.push(lenField(5, fp16Tensor(t, t.floats, info)));
      info.initializersConverted++;
    } else {
      if (t.dataType === FLOAT) info.initializersKeptFp32++;
      newInits.push(lenField(5, t.bytes));
    }
  }

  for (const n of nodes) {
    const k = kept(n);
    if (k) info.nodesKeptFp32[n.opType] = (info.nodesKeptFp32[n.opType] ?? 0) + 1;
    else info.nodesFp16++;
    const ins = n.inputs.map((i) => (isFloat(i) ? need(i, k) : i));
    const outs = n.outputs.map((o) => (isFloat(o) ? nativeName(o) : o));
    const attrs = n.attrs.map((a) => {
      if (k) return a.bytes;
      if (n.opType === 'Cast' && a.name === 'to') {
        const p = parseAttr(new Reader(a.bytes, file, 'graph.node.attribute', 0, a.bytes.length));
        if (p.i === FLOAT)
          return Buffer.concat([strField(1, 'to'), int64Field(3, FLOAT16), int64Field(20, 2)]);
      }
      if ((n.opType === 'Constant' || n.opType === 'ConstantOfShape') && a.name === 'value') {
        const p = parseAttr(new Reader(a.bytes, file, 'graph.node.attribute', 0, a.bytes.length));
        if (p.t?.dataType === FLOAT && p.t.floats !== undefined) {
          return Buffer.concat([
            strField(1, 'value'),
            lenField(5, fp16Tensor(p.t, p.t.floats, info)),
            int64Field(20, 4),
          ]);
        }
      }
      return a.bytes;
    });
    const node = Buffer.concat([
      ...ins.map((i) => strField(1, i)),
      ...outs.map((o) => strField(2, o)),
      ...(n.name !== '' ? [strField(3, n.name)] : []),
      strField(4, n.opType),
      ...attrs.map((a) => lenField(5, a)),
      ...(n.domain !== '' ? [strField(7, n.domain)] : []),
      ...n.rest,
    ]);
    outNodes.push(lenField(1, node));
    for (const o of n.outputs) {
      if (isFloat(o) && graphOut.has(o) && !native32.has(o)) {
        outNodes.push(castTo(`${o}__cast_to_fp32`, nativeName(o), o, FLOAT));
        info.castsAdded++;
      }
    }
  }
  return Buffer.concat([
    ...outNodes,
    ...other,
    ...newInits,
    ...inputs.map((i) => i.bytes),
    ...outputs.map((o) => o.bytes),
  ]);
}

/**
 * Counts of a model's initializers by element type name, of its nodes by "domain:op", and of the Cast
 * nodes onnxruntime inserted (named or wired "Inserted..."), for reports.
 */
export function graphComposition(
  bytes: Uint8Array,
  file: string,
): { initializers: Record<string, number>; nodes: Record<string, number>; insertedCasts: number } {
  let insertedCasts = 0;
  const initializers: Record<string, number> = {};
  const nodes: Record<string, number> = {};
  const top = new Reader(bytes, file, 'ModelProto', 0, bytes.length);
  top.each((f, w) => {
    if (f !== 7 || w !== 2) return false;
    const g = top.sub('graph');
    g.each((gf, gw) => {
      if (gf === 5 && gw === 2) {
        const t = g.sub('graph.initializer');
        let dt = 0;
        t.each((tf, tw) => {
          if (tf === 2 && tw === 0) dt = t.varint();
          else return false;
          return true;
        });
        const k = ONNX_ELEM_TYPES[dt] ?? `type${dt}`;
        initializers[k] = (initializers[k] ?? 0) + 1;
      } else if (gf === 1 && gw === 2) {
        const n = g.sub('graph.node');
        let op = '';
        let domain = '';
        let inserted = false;
        n.each((nf, nw) => {
          if (nf === 4 && nw === 2) op = n.string();
          else if (nf === 7 && nw === 2) domain = n.string();
          else if (nf >= 1 && nf <= 3 && nw === 2) inserted = n.string().startsWith('Inserted') || inserted;
          else return false;
          return true;
        });
        if (op === 'Cast' && inserted) insertedCasts++;
        const k = `${domain === '' ? 'ai.onnx' : domain}:${op}`;
        nodes[k] = (nodes[k] ?? 0) + 1;
      } else return false;
      return true;
    });
    return true;
  });
  const sort = (r: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { initializers: sort(initializers), nodes: sort(nodes), insertedCasts };
}
