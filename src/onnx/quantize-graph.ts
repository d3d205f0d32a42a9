/**
 * The graph side of int8 quantization, pure (bytes in, bytes out): finding the float activations and
 * the quantizable nodes of a model, exposing activations as graph outputs for calibration, and
 * rewriting the model into ONNX QDQ form (QuantizeLinear/DequantizeLinear pairs on activations,
 * int8 per-channel weights feeding DequantizeLinear with `axis`, optional int32 bias).
 */
import { badInput } from '../core/errors.js';
import { FLOAT_OPS } from './fp16.js';
import {
  DT,
  cloneModel,
  encodeModel,
  floatData,
  intAttribute,
  rawTensor,
  tensorValue,
  type EditableModel,
  type GraphNode,
  type GraphTensor,
} from './graph.js';

/** Op types int8 quantization rewrites (their weights per channel, their activations per tensor). */
export const QUANTIZABLE_OPS: ReadonlySet<string> = new Set(['Conv', 'ConvTranspose', 'MatMul']);

/** Ops whose output is float when their first input is (shape/layout ops). */
const PASS_THROUGH_OPS = new Set(
  'Reshape Flatten Transpose Squeeze Unsqueeze Identity Slice Split Pad Gather Expand Tile Dropout DepthToSpace SpaceToDepth Min Max ReduceMean ReduceMax ReduceMin ReduceSum'.split(
    ' ',
  ),
);

/** Activation element type of the QDQ model. */
export type ActivationType = 'int8' | 'uint8';

/** One quantizable node: where it is, and which of its inputs are weights or activations. */
export interface QuantizableNode {
  /** Index in the graph's node list. */
  index: number;
  /** The node's name (or `<op>_<index>` when it has none); unique in the model. */
  key: string;
  opType: string;
  /** Input positions holding float activations. */
  activations: number[];
  /** Input position of the weight initializer and its per-channel axis (null = per tensor). */
  weight?: { input: number; axis: number | null };
  /** Input position of a float bias initializer (Conv/ConvTranspose input 2). */
  bias?: number;
}

/** What quantization needs to know about a model's graph. */
export interface GraphAnalysis {
  /** Float activation tensors in graph order (float graph inputs, then float node outputs). */
  activations: string[];
  quantizable: QuantizableNode[];
  graphInputs: string[];
  graphOutputs: string[];
}

/** The ranges of one activation tensor used to build its Q/DQ parameters. */
export interface ActivationRange {
  /** Symmetric range bound (int8: scale = amax / 127). */
  amax: number;
  /** Observed min and max (uint8 ranges clip them to ±amax). */
  min: number;
  max: number;
}

/** What to quantize and how. */
export interface QdqPlan {
  /** Keys of the nodes to quantize. */
  nodes: ReadonlySet<string>;
  ranges: ReadonlyMap<string, ActivationRange>;
  activationType: ActivationType;
  /** Q/DQ on the (non-graph-output) outputs of quantized nodes too (onnxruntime fuses QLinearConv only then). */
  outputQdq: boolean;
  /** Bias as int32 (scale = input scale x weight scale) feeding DequantizeLinear; else kept float. */
  biasInt32: boolean;
}

function attr(n: GraphNode, name: string): number | undefined {
  return n.attributes.find((a) => a.name === name)?.i;
}

/** The node key used in plans and reports: its name, or `<op>_<index>` when unnamed. */
export function nodeKey(n: GraphNode, index: number): string {
  return n.name !== '' ? n.name : `${n.opType}_${index}`;
}

/** Finds float activations and quantizable nodes. */
export function analyzeGraph(m: EditableModel): GraphAnalysis {
  const inits = new Map(m.graph.initializers.map((t) => [t.name, t]));
  const float = new Set<string>();
  const activations: string[] = [];
  const graphInputs = m.graph.inputs.map((v) => v.name).filter((n) => !inits.has(n));
  for (const v of m.graph.inputs) {
    if (inits.has(v.name)) continue;
    float.add(v.name);
    activations.push(v.name);
  }
  const quantizable: QuantizableNode[] = [];
  const keys = new Set<string>();
  m.graph.nodes.forEach((n, index) => {
    const floatIn = n.inputs.some((i) => float.has(i));
    const producesFloat =
      n.domain === '' &&
      (FLOAT_OPS.has(n.opType) || (PASS_THROUGH_OPS.has(n.opType) && float.has(n.inputs[0] ?? '')));
    if (producesFloat && floatIn) {
      const outs = n.opType === 'Dropout' ? n.outputs.slice(0, 1) : n.outputs;
      for (const o of outs) {
        if (o !== '' && !float.has(o)) {
          float.add(o);
          activations.push(o);
        }
      }
    }
    let key = nodeKey(n, index);
    while (keys.has(key)) key = `${key}_${index}`;
    keys.add(key);
    if (n.domain !== '' || !QUANTIZABLE_OPS.has(n.opType)) return;
    const q: QuantizableNode = { index, key, opType: n.opType, activations: [] };
    const isFloatInit = (name: string | undefined): GraphTensor | undefined => {
      const t = name !== undefined ? inits.get(name) : undefined;
      return t !== undefined && t.dataType === DT.FLOAT && t.data !== undefined ? t : undefined;
    };
    if (n.opType === 'Conv' || n.opType === 'ConvTranspose') {
      const w = isFloatInit(n.inputs[1]);
      if (w === undefined || w.dims.length < 3 || !float.has(n.inputs[0] ?? '')) return;
      const group = attr(n, 'group') ?? 1;
      if (n.opType === 'ConvTranspose' && group !== 1) return;
      q.activations.push(0);
      q.weight = { input: 1, axis: n.opType === 'Conv' ? 0 : 1 };
      const b = isFloatInit(n.inputs[2]);
      if (b !== undefined && b.dims.length === 1) q.bias = 2;
      else if ((n.inputs[2] ?? '') !== '') return; // a computed bias: leave the node in FP32
    } else {
      // MatMul
      for (const pos of [0, 1]) {
        const name = n.inputs[pos] ?? '';
        const w = isFloatInit(name);
        if (w !== undefined) {
          if (q.weight !== undefined) return; // two constant inputs: nothing to gain
          q.weight = { input: pos, axis: pos === 1 && w.dims.length === 2 ? 1 : null };
        } else if (float.has(name)) q.activations.push(pos);
        else return;
      }
    }
    quantizable.push(q);
  });
  return {
    activations,
    quantizable,
    graphInputs,
    graphOutputs: m.graph.outputs.map((v) => v.name),
  };
}

/**
 * A copy of the model whose float activations `tensors` are graph outputs too (for calibration);
 * the original outputs come first and keep their order.
 */
export function exposeTensors(m: EditableModel, tensors: readonly string[]): Buffer {
  const c = cloneModel(m);
  const have = new Set(c.graph.outputs.map((o) => o.name));
  const inputs = new Set(c.graph.inputs.map((o) => o.name));
  for (const t of tensors) {
    if (have.has(t) || inputs.has(t)) continue;
    c.graph.outputs.push(tensorValue(t, DT.FLOAT));
    have.add(t);
  }
  return encodeModel(c);
}

/** Round half to even (as QuantizeLinear does). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Symmetric per-channel (or per-tensor when axis is null) int8 quantization of a float weight. */
export function quantizeWeight(
  w: Float32Array,
  dims: readonly number[],
  axis: number | null,
): { q: Int8Array; scales: Float32Array } {
  const channels = axis === null ? 1 : (dims[axis] as number);
  const inner = axis === null ? w.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const chOf = (i: number): number => (axis === null ? 0 : Math.floor(i / inner) % channels);
  const amax = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) {
    const c = chOf(i);
    const a = Math.abs(w[i] as number);
    if (a > (amax[c] as number)) amax[c] = a;
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = Math.fround((amax[c] as number) / 127);
    scales[c] = s > 1.1754943508222875e-38 ? s : 1;
  }
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const v = roundHalfEven(Math.fround((w[i] as number) / (scales[chOf(i)] as number)));
    q[i] = Math.max(-127, Math.min(127, v));
  }
  return { q, scales };
}

function f32Buffer(values: ArrayLike<number>): Buffer {
  const b = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) b.writeFloatLE(values[i] as number, i * 4);
  return b;
}

function i32Buffer(values: ArrayLike<number>): Buffer {
  const b = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) b.writeInt32LE(values[i] as number, i * 4);
  return b;
}

/** Q/DQ parameters of an activation: float32 scale and zero point in the activation type. */
export function activationParams(
  r: ActivationRange,
  type: ActivationType,
): { scale: number; zeroPoint: number } {
  if (type === 'int8') {
    const s = Math.fround(r.amax / 127);
    return { scale: Number.isFinite(s) && s > 1.1754943508222875e-38 ? s : 1, zeroPoint: 0 };
  }
  const lo = Math.min(0, Math.max(r.min, -r.amax));
  const hi = Math.max(0, Math.min(r.max, r.amax));
  const s = Math.fround((hi - lo) / 255);
  if (!(s > 1.1754943508222875e-38)) return { scale: 1, zeroPoint: 0 };
  return { scale: s, zeroPoint: Math.max(0, Math.min(255, roundHalfEven(-lo / s))) };
}

/**
 * Rewrites the model into QDQ form per the plan and returns its bytes. The graph's inputs and
 * outputs keep their names and float types; graph outputs never get a Q/DQ pair.
 */
export function buildQdqModel(
  base: EditableModel,
  analysis: GraphAnalysis,
  plan: QdqPlan,
  file: string,
): Buffer {
  const m = cloneModel(base);
  const inits = new Map(m.graph.initializers.map((t) => [t.name, t]));
  const names = new Set<string>([...inits.keys(), ...m.graph.inputs.map((v) => v.name)]);
  for (const n of m.graph.nodes) {
    for (const o of n.outputs) names.add(o);
    names.add(n.name);
  }
  const fresh = (base: string): string => {
    let s = base;
    for (let i = 1; names.has(s); i++) s = `${base}_${i}`;
    names.add(s);
    return s;
  };
  const graphOutputs = new Set(analysis.graphOutputs);
  const selected = analysis.quantizable.filter((q) => plan.nodes.has(q.key));
  const zpType = plan.activationType === 'int8' ? DT.INT8 : DT.UINT8;

  const consumers = new Map<string, number[]>();
  m.graph.nodes.forEach((n, i) => {
    for (const t of n.inputs) consumers.set(t, [...(consumers.get(t) ?? []), i]);
  });
  // Which activations get a Q/DQ pair, and whether every consumer or only quantized ones read it.
  // With uint8 activations a Relu that is the only consumer of a quantized node's output is folded
  // into the output's QuantizeLinear (zero point 0 clamps at 0): Q reads the node's output, the Relu
  // is dropped, and the Relu's consumers read the DequantizeLinear.
  const actAll = new Set<string>();
  const actQuantOnly = new Set<string>();
  const qSource = new Map<string, string>(); // activation -> tensor its QuantizeLinear reads (folded Relu)
  const dropped = new Set<number>();
  for (const q of selected) {
    const n = m.graph.nodes[q.index] as GraphNode;
    for (const pos of q.activations) actQuantOnly.add(n.inputs[pos] as string);
    if (!plan.outputQdq) continue;
    for (const o of n.outputs) {
      if (o === '' || graphOutputs.has(o)) continue;
      const users = consumers.get(o) ?? [];
      const relu = users.length === 1 ? (m.graph.nodes[users[0] as number] as GraphNode) : undefined;
      const r = relu?.outputs[0];
      if (
        plan.activationType === 'uint8' &&
        relu?.opType === 'Relu' &&
        relu.domain === '' &&
        r !== undefined &&
        !graphOutputs.has(r)
      ) {
        actAll.add(r);
        qSource.set(r, o);
        dropped.add(users[0] as number);
      } else actAll.add(o);
    }
  }
  const newInits: GraphTensor[] = [];
  const dq = new Map<string, string>(); // activation -> its DequantizeLinear output
  const qdqNodes = new Map<string, GraphNode[]>(); // activation -> [Q, DQ]
  const scaleOf = new Map<string, number>();
  for (const t of [...analysis.activations].filter((a) => actAll.has(a) || actQuantOnly.has(a))) {
    const r = plan.ranges.get(t);
    if (r === undefined) {
      throw badInput('no calibration range for an activation to quantize', {
        file,
        field: t,
        expected: 'a range for every quantized activation',
        found: 'none',
      });
    }
    const { scale, zeroPoint } = activationParams(r, plan.activationType);
    scaleOf.set(t, scale);
    const sName = fresh(`${t}_scale`);
    const zName = fresh(`${t}_zero_point`);
    newInits.push(rawTensor(sName, DT.FLOAT, [], f32Buffer([scale])));
    newInits.push(rawTensor(zName, zpType, [], Buffer.from([zeroPoint & 0xff])));
    const qOut = fresh(`${t}_quantized`);
    const dqOut = fresh(`${t}_dequantized`);
    dq.set(t, dqOut);
    qdqNodes.set(t, [
      node(fresh(`${t}_QuantizeLinear`), 'QuantizeLinear', [qSource.get(t) ?? t, sName, zName], [qOut]),
      node(fresh(`${t}_DequantizeLinear`), 'DequantizeLinear', [qOut, sName, zName], [dqOut]),
    ]);
  }

  // Weights and biases.
  const weightDq = new Map<number, GraphNode[]>(); // node index -> DQ nodes to place before it
  const replaced = new Map<string, string>(); // weight name -> DQ output (shared weights quantized once)
  const usedFloat = new Set<string>();
  for (const q of selected) {
    const n = m.graph.nodes[q.index] as GraphNode;
    const before: GraphNode[] = [];
    let wScales: Float32Array | undefined;
    if (q.weight !== undefined) {
      const wName = n.inputs[q.weight.input] as string;
      const w = inits.get(wName) as GraphTensor;
      const { q: qw, scales } = quantizeWeight(floatData(w), w.dims, q.weight.axis);
      wScales = scales;
      let out = replaced.get(`${wName}`);
      if (out === undefined) {
        const qName = fresh(`${wName}_quantized`);
        const sName = fresh(`${wName}_scale`);
        const zName = fresh(`${wName}_zero_point`);
        const perChannel = q.weight.axis !== null;
        newInits.push(
          rawTensor(qName, DT.INT8, w.dims, Buffer.from(qw.buffer, qw.byteOffset, qw.byteLength)),
        );
        newInits.push(rawTensor(sName, DT.FLOAT, perChannel ? [scales.length] : [], f32Buffer(scales)));
        newInits.push(
          rawTensor(
            zName,
            DT.INT8,
            perChannel ? [scales.length] : [],
            Buffer.alloc(perChannel ? scales.length : 1),
          ),
        );
        out = fresh(`${wName}_dequantized`);
        const d = node(fresh(`${wName}_DequantizeLinear`), 'DequantizeLinear', [qName, sName, zName], [out]);
        if (perChannel) d.attributes.push(intAttribute('axis', q.weight.axis as number));
        before.push(d);
        replaced.set(wName, out);
      }
      n.inputs[q.weight.input] = out;
    }
    if (q.bias !== undefined && plan.biasInt32 && wScales !== undefined) {
      const bName = n.inputs[q.bias] as string;
      const b = floatData(inits.get(bName) as GraphTensor);
      const inScale = scaleOf.get(n.inputs[q.activations[0] ?? 0] as string) ?? 1;
      const bScales = new Float32Array(b.length);
      const qb = new Int32Array(b.length);
      for (let c = 0; c < b.length; c++) {
        const s = Math.fround(inScale * (wScales[wScales.length === 1 ? 0 : c] as number));
        bScales[c] = s > 0 ? s : 1;
        qb[c] = Math.max(
          -2147483647,
          Math.min(2147483647, roundHalfEven((b[c] as number) / (bScales[c] as number))),
        );
      }
      const qName = fresh(`${bName}_quantized`);
      const sName = fresh(`${bName}_scale`);
      const zName = fresh(`${bName}_zero_point`);
      newInits.push(rawTensor(qName, DT.INT32, [b.length], i32Buffer(qb)));
      newInits.push(rawTensor(sName, DT.FLOAT, [b.length], f32Buffer(bScales)));
      newInits.push(rawTensor(zName, DT.INT32, [b.length], Buffer.alloc(b.length * 4)));
      const out = fresh(`${bName}_dequantized`);
      const d = node(fresh(`${bName}_DequantizeLinear`), 'DequantizeLinear', [qName, sName, zName], [out]);
      d.attributes.push(intAttribute('axis', 0));
      before.push(d);
      n.inputs[q.bias] = out;
    }
    for (const pos of q.activations) {
      const t = n.inputs[pos] as string;
      const d = dq.get(t);
      if (d !== undefined) n.inputs[pos] = d;
    }
    weightDq.set(q.index, before);
  }
  // Every consumer of an output-quantized tensor reads the DQ output.
  const ownQdq = new Set<GraphNode>([...qdqNodes.values()].flat());
  for (const n of m.graph.nodes) {
    if (ownQdq.has(n)) continue;
    n.inputs = n.inputs.map((i) => (actAll.has(i) ? (dq.get(i) as string) : i));
  }
  m.graph.nodes.forEach((n, i) => {
    if (!dropped.has(i)) for (const t of n.inputs) usedFloat.add(t);
  });

  // Assemble the node list: Q/DQ of graph inputs first, weight DQs before their node, activation
  // Q/DQ right after the producing node.
  const nodes: GraphNode[] = [];
  for (const t of analysis.graphInputs) nodes.push(...(qdqNodes.get(t) ?? []));
  const placeAfter = new Map<string, string>(); // producer output -> activation whose Q/DQ follows it
  for (const [t, src] of qSource) placeAfter.set(src, t);
  m.graph.nodes.forEach((n, i) => {
    if (dropped.has(i)) return;
    nodes.push(...(weightDq.get(i) ?? []));
    nodes.push(n);
    for (const o of n.outputs) {
      const t = placeAfter.get(o) ?? o;
      nodes.push(...(qdqNodes.get(t) ?? []));
    }
  });
  m.graph.nodes = nodes;
  m.graph.initializers = [...m.graph.initializers.filter((t) => usedFloat.has(t.name)), ...newInits];
  return encodeModel(m);
}

function node(name: string, opType: string, inputs: string[], outputs: string[]): GraphNode {
  return { name, opType, domain: '', inputs, outputs, attributes: [], extra: [] };
}
