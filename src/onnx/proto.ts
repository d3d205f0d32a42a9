/**
 * A minimal ONNX protobuf reader: decodes the fields of ModelProto, GraphProto, NodeProto and
 * ValueInfoProto that graph checks need (IR version, opset imports, producer, nodes' op types and
 * domains, graph inputs/outputs with element types and dims, initializer names). Weights are skipped
 * without copying. A truncated or malformed file is BAD_INPUT naming the file and the field.
 */
import { badInput } from '../core/errors.js';

/** One opset import of a model: the domain ('' = the default ai.onnx domain) and its version. */
export interface OpsetImport {
  domain: string;
  version: number;
}

/** One node of the graph. */
export interface OnnxNode {
  name: string;
  opType: string;
  /** '' for the default domain (ai.onnx). */
  domain: string;
}

/** A graph input or output: name, ONNX element type and dims (numbers, or symbolic names). */
export interface OnnxValueInfo {
  name: string;
  /** TensorProto.DataType (1 = FLOAT, 10 = FLOAT16, 7 = INT64 ...); 0 when not a tensor. */
  elemType: number;
  /** Dims; a symbolic dim is its name, an unknown dim is null. Undefined when the shape is unknown. */
  dims?: Array<number | string | null>;
}

/** What the reader takes from a ModelProto. */
export interface OnnxModelInfo {
  irVersion: number;
  opsetImports: OpsetImport[];
  producerName: string;
  producerVersion: string;
  graph: {
    name: string;
    nodes: OnnxNode[];
    inputs: OnnxValueInfo[];
    outputs: OnnxValueInfo[];
    initializers: string[];
  };
}

/** ONNX TensorProto.DataType names by number (the ones a perception model uses). */
export const ONNX_ELEM_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

/** A bounded protobuf wire-format reader over a byte range (used by the ONNX readers and rewriters). */
export class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    readonly file: string,
    readonly field: string,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  fail(what: string): never {
    throw badInput('the ONNX file is not a valid ModelProto (truncated or corrupt)', {
      file: this.file,
      field: this.field,
      expected: 'a well-formed protobuf ModelProto',
      found: `${what} at byte ${this.pos}`,
    });
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('a varint running past the end');
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    return this.fail('a varint longer than 10 bytes');
  }

  /** A signed int64 varint as a JS number (negative values come as two's complement). */
  int64(): number {
    const v = this.varint();
    return v >= 2 ** 63 ? v - 2 ** 64 : v;
  }

  /** Returns [start, end) of a length-delimited field. */
  bytes(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) this.fail(`a field of ${len} bytes running past the end`);
    this.pos = start + len;
    return [start, start + len];
  }

  string(): string {
    const [s, e] = this.bytes();
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + s, e - s).toString('utf8');
  }

  sub(field: string): Reader {
    const [s, e] = this.bytes();
    return new Reader(this.buf, this.file, field, s, e);
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.advance(8);
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.advance(4);
    else this.fail(`an unsupported wire type ${wire}`);
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) this.fail(`a fixed field running past the end`);
    this.pos += n;
  }

  /** Calls `on(fieldNumber, wireType)` for each field; `on` must consume the value or return false to skip it. */
  each(on: (field: number, wire: number) => boolean): void {
    while (!this.done()) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (field === 0) this.fail('a field number 0');
      if (!on(field, wire)) this.skip(wire);
    }
  }
}

function expectWire(r: Reader, wire: number, want: number, name: string): void {
  if (wire !== want) r.fail(`${name} with wire type ${wire} (expected ${want})`);
}

function readOpset(r: Reader): OpsetImport {
  const o: OpsetImport = { domain: '', version: 0 };
  r.each((f, w) => {
    if (f === 1 && w === 2) o.domain = r.string();
    else if (f === 2 && w === 0) o.version = r.int64();
    else return false;
    return true;
  });
  return o;
}

function readNode(r: Reader): OnnxNode {
  const n: OnnxNode = { name: '', opType: '', domain: '' };
  r.each((f, w) => {
    if (f === 3 && w === 2) n.name = r.string();
    else if (f === 4 && w === 2) n.opType = r.string();
    else if (f === 7 && w === 2) n.domain = r.string();
    else return false;
    return true;
  });
  if (n.opType === '') r.fail('a node without op_type');
  return n;
}

function readShape(r: Reader): Array<number | string | null> {
  const dims: Array<number | string | null> = [];
  r.each((f, w) => {
    if (f !== 1 || w !== 2) return false;
    const d = r.sub('graph.value_info.type.tensor_type.shape.dim');
    let dim: number | string | null = null;
    d.each((df, dw) => {
      if (df === 1 && dw === 0) dim = d.int64();
      else if (df === 2 && dw === 2) dim = d.string();
      else return false;
      return true;
    });
    dims.push(dim);
    return true;
  });
  return dims;
}

function readValueInfo(r: Reader): OnnxValueInfo {
  const v: OnnxValueInfo = { name: '', elemType: 0 };
  r.each((f, w) => {
    if (f === 1 && w === 2) v.name = r.string();
    else if (f === 2 && w === 2) {
      const t = r.sub('graph.value_info.type');
      t.each((tf, tw) => {
        if (tf !== 1 || tw !== 2) return false;
        const tt = t.sub('graph.value_info.type.tensor_type');
        tt.each((ef, ew) => {
          if (ef === 1 && ew === 0) v.elemType = tt.varint();
          else if (ef === 2 && ew === 2)
            v.dims = readShape(tt.sub('graph.value_info.type.tensor_type.shape'));
          else return false;
          return true;
        });
        return true;
      });
    } else return false;
    return true;
  });
  return v;
}

function readTensorName(r: Reader): string {
  let name = '';
  r.each((f, w) => {
    if (f === 8 && w === 2) {
      name = r.string();
      return true;
    }
    return false;
  });
  return name;
}

function readGraph(r: Reader): OnnxModelInfo['graph'] {
  const g: OnnxModelInfo['graph'] = { name: '', nodes: [], inputs: [], outputs: [], initializers: [] };
  r.each((f, w) => {
    if (f === 1) {
      expectWire(r, w, 2, 'graph.node');
      g.nodes.push(readNode(r.sub(`graph.node[${g.nodes.length}]`)));
    } else if (f === 2 && w === 2) g.name = r.string();
    else if (f === 5 && w === 2) g.initializers.push(readTensorName(r.sub('graph.initializer')));
    else if (f === 11 && w === 2) g.inputs.push(readValueInfo(r.sub('graph.input')));
    else if (f === 12 && w === 2) g.outputs.push(readValueInfo(r.sub('graph.output')));
    else return false;
    return true;
  });
  return g;
}

/**
 * Decodes the parts of an ONNX ModelProto that graph checks need. BAD_INPUT naming `file` when the
 * bytes are not a well-formed ModelProto (truncated, garbage) or lack ir_version or a graph.
 */
export function readOnnxModel(bytes: Uint8Array, file: string): OnnxModelInfo {
  const r = new Reader(bytes, file, 'ModelProto', 0, bytes.length);
  let irVersion = 0;
  const opsetImports: OpsetImport[] = [];
  let producerName = '';
  let producerVersion = '';
  let graph: OnnxModelInfo['graph'] | undefined;
  r.each((f, w) => {
    if (f === 1) {
      expectWire(r, w, 0, 'ir_version');
      irVersion = r.int64();
    } else if (f === 2 && w === 2) producerName = r.string();
    else if (f === 3 && w === 2) producerVersion = r.string();
    else if (f === 7) {
      expectWire(r, w, 2, 'graph');
      graph = readGraph(r.sub('graph'));
    } else if (f === 8) {
      expectWire(r, w, 2, 'opset_import');
      opsetImports.push(readOpset(r.sub('opset_import')));
    } else return false;
    return true;
  });
  if (irVersion <= 0 || graph === undefined || opsetImports.length === 0) {
    throw badInput('the file is not an ONNX model', {
      file,
      field: irVersion <= 0 ? 'ir_version' : graph === undefined ? 'graph' : 'opset_import',
      expected: 'a ModelProto with ir_version, opset_import and a graph',
      found: 'the field missing',
    });
  }
  return { irVersion, opsetImports, producerName, producerVersion, graph };
}
