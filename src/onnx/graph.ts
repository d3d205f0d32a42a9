/**
 * An editable ONNX graph: decodes a ModelProto into nodes (inputs, outputs, attributes), initializers
 * (with their little-endian data) and graph I/O, lets a rewriter change them, and encodes the result
 * back. Fields the editor does not model (doc strings, metadata, training info, unknown attributes)
 * are carried over as their original bytes, so a decode/encode round trip keeps the model's meaning.
 * Encoding is deterministic: the same graph gives the same bytes. Used by int8 quantization.
 */
import { badInput } from '../core/errors.js';
import { Reader } from './proto.js';

/** ONNX TensorProto.DataType numbers used by the editor and the graph builder (build.ts). */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;

/** AttributeProto.AttributeType numbers. */
const ATTR_INT = 2;

/** One attribute of a node: its name, its original bytes, and its value when it is an INT or INTS. */
export interface GraphAttribute {
  name: string;
  /** The encoded AttributeProto. */
  bytes: Buffer;
  i?: number;
  ints?: number[];
}

/** One node of an editable graph. */
export interface GraphNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: GraphAttribute[];
  /** Other NodeProto fields (doc_string, overload...) as encoded bytes, key included. */
  extra: Buffer[];
}

/** An initializer: name, type, dims and (for tensors stored as raw_data or float_data) the raw LE data. */
export interface GraphTensor {
  name: string;
  dataType: number;
  dims: number[];
  /** Little-endian element bytes; undefined when the tensor uses another storage (then `bytes` is kept). */
  data?: Buffer;
  /** The original encoded TensorProto, re-emitted when `data` is undefined. */
  bytes?: Buffer;
}

/** A graph input/output/value_info entry: its name and encoded ValueInfoProto. */
export interface GraphValue {
  name: string;
  bytes: Buffer;
}

/** An editable model: the graph plus the other ModelProto fields (kept as encoded bytes, in order). */
export interface EditableModel {
  /** ModelProto fields before and after the graph, as encoded bytes (key included). */
  head: Buffer[];
  tail: Buffer[];
  /** Default-domain opset version (0 when absent). */
  opset: number;
  graph: {
    name: string;
    nodes: GraphNode[];
    initializers: GraphTensor[];
    inputs: GraphValue[];
    outputs: GraphValue[];
    valueInfo: GraphValue[];
    /** Other GraphProto fields (doc_string, sparse initializers, quantization annotations). */
    extra: Buffer[];
  };
}

// ---------------------------------------------------------------------------------------------
// protobuf encoding helpers

/** A protobuf varint (non-negative integers below 2^53, or negative int64 as two's complement). */
export function varintBytes(n: number): number[] {
  const out: number[] = [];
  if (n < 0) {
    let v = BigInt.asUintN(64, BigInt(n));
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return out;
  }
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function key(field: number, wire: number): number[] {
  return varintBytes(field * 8 + wire);
}

/** A length-delimited field. */
export function lenField(field: number, payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([...key(field, 2), ...varintBytes(payload.length)]), payload]);
}

/** A string field. */
export function strField(field: number, s: string): Buffer {
  return lenField(field, Buffer.from(s, 'utf8'));
}

/** A varint field. */
export function intField(field: number, n: number): Buffer {
  return Buffer.from([...key(field, 0), ...varintBytes(n)]);
}

/** An INT attribute (AttributeProto name/i/type). */
export function intAttribute(name: string, value: number): GraphAttribute {
  const bytes = Buffer.concat([strField(1, name), intField(3, value), intField(20, ATTR_INT)]);
  return { name, bytes, i: value };
}

/** A value-info entry for a tensor of `elemType` with an unknown shape (enough for a graph output). */
export function tensorValue(name: string, elemType: number): GraphValue {
  const tensorType = intField(1, elemType);
  const type = lenField(1, tensorType);
  return { name, bytes: Buffer.concat([strField(1, name), lenField(2, type)]) };
}

/** An initializer from raw little-endian data. */
export function rawTensor(name: string, dataType: number, dims: number[], data: Buffer): GraphTensor {
  return { name, dataType, dims, data };
}

// ---------------------------------------------------------------------------------------------
// decoding

function slice(r: Reader, from: number): Buffer {
  return Buffer.from(r.buf.buffer, r.buf.byteOffset + from, r.pos - from);
}

function decodeAttribute(r: Reader): GraphAttribute {
  const start = r.pos;
  const a: GraphAttribute = { name: '', bytes: Buffer.alloc(0) };
  let type = 0;
  let i: number | undefined;
  const ints: number[] = [];
  r.each((f, w) => {
    if (f === 1 && w === 2) a.name = r.string();
    else if (f === 3 && w === 0) i = r.int64();
    else if (f === 8 && w === 0) ints.push(r.int64());
    else if (f === 8 && w === 2) {
      const p = r.sub('graph.node.attribute.ints');
      while (!p.done()) ints.push(p.int64());
    } else if (f === 20 && w === 0) type = r.varint();
    else return false;
    return true;
  });
  a.bytes = Buffer.from(r.buf.buffer, r.buf.byteOffset + start, r.end - start);
  if (type === ATTR_INT && i !== undefined) a.i = i;
  if (type === 7) a.ints = ints;
  return a;
}

function decodeNode(r: Reader): GraphNode {
  const n: GraphNode = {
    name: '',
    opType: '',
    domain: '',
    inputs: [],
    outputs: [],
    attributes: [],
    extra: [],
  };
  r.each((f, w) => {
    const at = r.pos;
    if (f === 1 && w === 2) n.inputs.push(r.string());
    else if (f === 2 && w === 2) n.outputs.push(r.string());
    else if (f === 3 && w === 2) n.name = r.string();
    else if (f === 4 && w === 2) n.opType = r.string();
    else if (f === 7 && w === 2) n.domain = r.string();
    else if (f === 5 && w === 2) n.attributes.push(decodeAttribute(r.sub('graph.node.attribute')));
    else {
      // keep the key too: back up over it
      r.skip(w);
      n.extra.push(Buffer.concat([Buffer.from(key(f, w)), slice(r, at)]));
    }
    return true;
  });
  if (n.opType === '') r.fail('a node without op_type');
  return n;
}

function decodeTensor(r: Reader, file: string): GraphTensor {
  const start = r.pos;
  const t: GraphTensor = { name: '', dataType: 0, dims: [] };
  let raw: Buffer | undefined;
  const floats: number[] = [];
  let other = false;
  r.each((f, w) => {
    if (f === 1 && w === 0) t.dims.push(r.int64());
    else if (f === 1 && w === 2) {
      const p = r.sub('graph.initializer.dims');
      while (!p.done()) t.dims.push(p.int64());
    } else if (f === 2 && w === 0) t.dataType = r.varint();
    else if (f === 8 && w === 2) t.name = r.string();
    else if (f === 9 && w === 2) {
      const [s, e] = r.bytes();
      raw = Buffer.from(r.buf.buffer, r.buf.byteOffset + s, e - s);
    } else if (f === 4 && w === 2) {
      const [s, e] = r.bytes();
      const b = Buffer.from(r.buf.buffer, r.buf.byteOffset + s, e - s);
      for (let o = 0; o + 4 <= b.length; o += 4) floats.push(b.readFloatLE(o));
    } else if (f === 4 && w === 5) {
      const [s] = [r.pos];
      r.skip(5);
      floats.push(Buffer.from(r.buf.buffer, r.buf.byteOffset + s, 4).readFloatLE(0));
    } else if (f === 14 && w === 0) {
      if (r.varint() === 1) {
        throw badInput('the model stores weights as external data', {
          file,
          field: `graph.initializer ${t.name}`,
          expected: 'weights embedded in the ONNX file',
          found: 'data_location EXTERNAL',
        });
      }
    } else {
      if (f !== 3 && f !== 12) other = true; // segment/doc_string are harmless; typed data fields count
      return false;
    }
    return true;
  });
  if (raw !== undefined) t.data = raw;
  else if (t.dataType === DT.FLOAT && floats.length > 0 && !other) {
    const b = Buffer.alloc(floats.length * 4);
    floats.forEach((v, i) => b.writeFloatLE(v, i * 4));
    t.data = b;
  } else if (t.dataType === DT.FLOAT && floats.length === 0 && !other && t.dims.includes(0)) {
    t.data = Buffer.alloc(0);
  }
  if (t.data === undefined) t.bytes = Buffer.from(r.buf.buffer, r.buf.byteOffset + start, r.end - start);
  return t;
}

function valueName(r: Reader): string {
  let name = '';
  r.each((f, w) => {
    if (f === 1 && w === 2) {
      name = r.string();
      return true;
    }
    return false;
  });
  return name;
}

function decodeValue(r: Reader): GraphValue {
  const start = r.pos;
  const name = valueName(r);
  return { name, bytes: Buffer.from(r.buf.buffer, r.buf.byteOffset + start, r.end - start) };
}

/** Decodes a ModelProto into an editable model; BAD_INPUT naming `file` when the bytes are not one. */
export function decodeModel(bytes: Uint8Array, file: string): EditableModel {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const top = new Reader(buf, file, 'ModelProto', 0, buf.length);
  const m: EditableModel = {
    head: [],
    tail: [],
    opset: 0,
    graph: { name: '', nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [], extra: [] },
  };
  let seenGraph = false;
  top.each((f, w) => {
    const at = top.pos;
    if (f === 7 && w === 2) {
      seenGraph = true;
      const g = top.sub('graph');
      g.each((gf, gw) => {
        const gat = g.pos;
        if (gf === 1 && gw === 2)
          m.graph.nodes.push(decodeNode(g.sub(`graph.node[${m.graph.nodes.length}]`)));
        else if (gf === 2 && gw === 2) m.graph.name = g.string();
        else if (gf === 5 && gw === 2)
          m.graph.initializers.push(decodeTensor(g.sub('graph.initializer'), file));
        else if (gf === 11 && gw === 2) m.graph.inputs.push(decodeValue(g.sub('graph.input')));
        else if (gf === 12 && gw === 2) m.graph.outputs.push(decodeValue(g.sub('graph.output')));
        else if (gf === 13 && gw === 2) m.graph.valueInfo.push(decodeValue(g.sub('graph.value_info')));
        else {
          g.skip(gw);
          m.graph.extra.push(Buffer.concat([Buffer.from(key(gf, gw)), slice(g, gat)]));
        }
        return true;
      });
      return true;
    }
    if (f === 8 && w === 2) {
      const o = top.sub('opset_import');
      let domain = '';
      let version = 0;
      o.each((of, ow) => {
        if (of === 1 && ow === 2) domain = o.string();
        else if (of === 2 && ow === 0) version = o.int64();
        else return false;
        return true;
      });
      if (domain === '' || domain === 'ai.onnx') m.opset = version;
      (seenGraph ? m.tail : m.head).push(Buffer.concat([Buffer.from(key(f, w)), slice(top, at)]));
      return true;
    }
    top.skip(w);
    (seenGraph ? m.tail : m.head).push(Buffer.concat([Buffer.from(key(f, w)), slice(top, at)]));
    return true;
  });
  if (!seenGraph) {
    throw badInput('the file is not an ONNX model', {
      file,
      field: 'graph',
      expected: 'a ModelProto with a graph',
      found: 'no graph',
    });
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// encoding

function encodeNode(n: GraphNode): Buffer {
  return Buffer.concat([
    ...n.inputs.map((s) => strField(1, s)),
    ...n.outputs.map((s) => strField(2, s)),
    ...(n.name !== '' ? [strField(3, n.name)] : []),
    strField(4, n.opType),
    ...n.attributes.map((a) => lenField(5, a.bytes)),
    ...n.extra,
    ...(n.domain !== '' ? [strField(7, n.domain)] : []),
  ]);
}

function encodeTensor(t: GraphTensor): Buffer {
  if (t.data === undefined) {
    if (t.bytes === undefined) throw new Error(`initializer ${t.name} has neither data nor bytes`);
    return t.bytes;
  }
  return Buffer.concat([
    ...t.dims.map((d) => intField(1, d)),
    intField(2, t.dataType),
    strField(8, t.name),
    lenField(9, t.data),
  ]);
}

/** Encodes an editable model as ModelProto bytes (deterministic). */
export function encodeModel(m: EditableModel): Buffer {
  const g = m.graph;
  const graph = Buffer.concat([
    ...g.nodes.map((n) => lenField(1, encodeNode(n))),
    strField(2, g.name),
    ...g.initializers.map((t) => lenField(5, encodeTensor(t))),
    ...g.extra,
    ...g.inputs.map((v) => lenField(11, v.bytes)),
    ...g.outputs.map((v) => lenField(12, v.bytes)),
    ...g.valueInfo.map((v) => lenField(13, v.bytes)),
  ]);
  return Buffer.concat([...m.head, lenField(7, graph), ...m.tail]);
}

/** The float32 values of an initializer with raw data (a copy). */
export function floatData(t: GraphTensor): Float32Array {
  if (t.data === undefined || t.dataType !== DT.FLOAT)
    throw new Error(`initializer ${t.name} is not raw float32`);
  const out = new Float32Array(t.data.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = t.data.readFloatLE(i * 4);
  return out;
}

/** A deep-enough copy of a model for rewriting (nodes and lists copied; byte payloads shared). */
export function cloneModel(m: EditableModel): EditableModel {
  return {
    head: [...m.head],
    tail: [...m.tail],
    opset: m.opset,
    graph: {
      name: m.graph.name,
      nodes: m.graph.nodes.map((n) => ({
        ...n,
        inputs: [...n.inputs],
        outputs: [...n.outputs],
        attributes: [...n.attributes],
        extra: [...n.extra],
      })),
      initializers: [...m.graph.initializers],
      inputs: [...m.graph.inputs],
      outputs: [...m.graph.outputs],
      valueInfo: [...m.graph.valueInfo],
      extra: [...m.graph.extra],
    },
  };
}
