/**
 * Building small ONNX models from scratch in code (the pack's generated preprocess and postprocess
 * models): a GraphBuilder collects nodes, constant initializers and typed graph I/O and encodes a
 * ModelProto through graph.ts's deterministic encoder (same calls, same bytes). Node outputs get
 * unique names from a counter, so a builder reads like the maths it computes.
 */
import {
  DT,
  encodeModel,
  intAttribute,
  intField,
  lenField,
  rawTensor,
  strField,
  type EditableModel,
  type GraphAttribute,
  type GraphNode,
  type GraphTensor,
  type GraphValue,
} from './graph.js';

/** An attribute value: number (INT when integer and `int` is not false, see `floatAttr`), string, or lists. */
export type AttrValue = number | string | number[] | { float: number } | { floats: number[] };

function attribute(name: string, v: AttrValue): GraphAttribute {
  const head = strField(1, name);
  if (typeof v === 'string')
    return { name, bytes: Buffer.concat([head, lenField(4, Buffer.from(v, 'utf8')), intField(20, 3)]) };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: use { float } for a float value`);
    return intAttribute(name, v);
  }
  if (Array.isArray(v)) {
    return {
      name,
      bytes: Buffer.concat([head, ...v.map((x) => intField(8, x)), intField(20, 7)]),
      ints: v,
    };
  }
  if ('float' in v) {
    const f = Buffer.alloc(5);
    f[0] = (2 << 3) | 5;
    f.writeFloatLE(v.float, 1);
    return { name, bytes: Buffer.concat([head, f, intField(20, 1)]) };
  }
  const fl = Buffer.alloc(v.floats.length * 4);
  v.floats.forEach((x, i) => fl.writeFloatLE(x, i * 4));
  return { name, bytes: Buffer.concat([head, lenField(7, fl), intField(20, 6)]) };
}

/** A graph input/output with element type and dims (a string dim is symbolic). */
export function typedValue(name: string, elemType: number, dims: ReadonlyArray<number | string>): GraphValue {
  const shape = Buffer.concat(
    dims.map((d) => lenField(1, typeof d === 'number' ? intField(1, d) : strField(2, d))),
  );
  const tensorType = Buffer.concat([intField(1, elemType), lenField(2, shape)]);
  return { name, bytes: Buffer.concat([strField(1, name), lenField(2, lenField(1, tensorType))]) };
}

/** Collects a graph and encodes it as a ModelProto (IR version and default-domain opset given). */
export class GraphBuilder {
  private readonly nodes: GraphNode[] = [];
  private readonly inits: GraphTensor[] = [];
  private readonly inputs: GraphValue[] = [];
  private readonly outputs: GraphValue[] = [];
  private counter = 0;

  constructor(
    private readonly graphName: string,
    private readonly opset = 17,
    private readonly irVersion = 8,
  ) {}

  /** Declares a graph input; returns its name. */
  input(name: string, elemType: number, dims: ReadonlyArray<number | string>): string {
    this.inputs.push(typedValue(name, elemType, dims));
    return name;
  }

  /** Declares `value` as a graph output named `name` (an Identity node renames it). */
  output(value: string, name: string, elemType: number, dims: ReadonlyArray<number | string>): void {
    this.nodes.push(this.node('Identity', [value], [name], {}));
    this.outputs.push(typedValue(name, elemType, dims));
  }

  /** A float32 constant initializer; returns its name. */
  f32(values: readonly number[], dims: number[] = [values.length]): string {
    const b = Buffer.alloc(values.length * 4);
    values.forEach((v, i) => b.writeFloatLE(v, i * 4));
    return this.init(DT.FLOAT, dims, b);
  }

  /** A float64 constant initializer; returns its name. */
  f64(values: readonly number[], dims: number[] = [values.length]): string {
    const b = Buffer.alloc(values.length * 8);
    values.forEach((v, i) => b.writeDoubleLE(v, i * 8));
    return this.init(DT.DOUBLE, dims, b);
  }

  /** An int64 constant initializer; returns its name. */
  i64(values: readonly number[], dims: number[] = [values.length]): string {
    const b = Buffer.alloc(values.length * 8);
    values.forEach((v, i) => b.writeBigInt64LE(BigInt(v), i * 8));
    return this.init(DT.INT64, dims, b);
  }

  private init(dataType: number, dims: number[], data: Buffer): string {
    const name = `c${this.inits.length}`;
    this.inits.push(rawTensor(name, dataType, dims, data));
    return name;
  }

  private node(
    opType: string,
    inputs: string[],
    outputs: string[],
    attrs: Record<string, AttrValue>,
  ): GraphNode {
    return {
      name: `${opType}_${this.nodes.length}`,
      opType,
      domain: '',
      inputs,
      outputs,
      attributes: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      extra: [],
    };
  }

  /** Adds a node with `outputs` fresh outputs (default 1); returns their names. */
  opN(opType: string, inputs: string[], outputs: number, attrs: Record<string, AttrValue> = {}): string[] {
    const names = Array.from({ length: outputs }, () => `t${this.counter++}`);
    this.nodes.push(this.node(opType, inputs, names, attrs));
    return names;
  }

  /** Adds a node with one output; returns its name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.opN(opType, inputs, 1, attrs)[0]!;
  }

  /** The model as an EditableModel (graph.ts's structure). */
  model(): EditableModel {
    const opset = Buffer.concat([strField(1, ''), intField(2, this.opset)]);
    return {
      head: [intField(1, this.irVersion), strField(2, 'drivegate')],
      tail: [lenField(8, opset)],
      opset: this.opset,
      graph: {
        name: this.graphName,
        nodes: [...this.nodes],
        initializers: [...this.inits],
        inputs: [...this.inputs],
        outputs: [...this.outputs],
        valueInfo: [],
        extra: [],
      },
    };
  }

  /** The encoded ModelProto bytes (deterministic). */
  encode(): Buffer {
    return encodeModel(this.model());
  }
}
