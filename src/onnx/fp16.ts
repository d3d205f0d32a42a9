/**
 * FP16 emulation in an FP32 graph, for hosts whose onnxruntime lacks FP16 kernels: every FP32
 * initializer is rounded to the nearest float16 value (in place), and every output of a
 * float-producing node is passed through Cast(FLOAT16) -> Cast(FLOAT), so activations carry fp16
 * precision and range (overflow becomes Inf) while the graph still runs in FP32. The model's own
 * inputs and outputs keep their names and FP32 types. The result measures what an FP16 build would
 * lose numerically; it is evidence, not a deployable FP16 model.
 */
import { Reader } from './proto.js';

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

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function lenField(field: number, payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([...varint(field * 8 + 2), ...varint(payload.length)]), payload]);
}

function strField(field: number, s: string): Buffer {
  return lenField(field, Buffer.from(s, 'utf8'));
}

function castNode(name: string, input: string, output: string, to: number): Buffer {
  const attr = Buffer.concat([
    strField(1, 'to'),
    Buffer.from([0x18, ...varint(to)]),
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
  const top = new Reader(buf, file, 'ModelProto', 0, buf.length);
  const modelParts: Buffer[] = [];
  let fieldStart = 0;
  top.each((f, w) => {
    if (f !== 7 || w !== 2) {
      top.skip(w);
      modelParts.push(buf.subarray(fieldStart, top.pos));
      fieldStart = top.pos;
      return true;
    }
    const g = top.sub('graph');
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
    modelParts.push(lenField(7, Buffer.concat([...graphParts, ...extraNodes])));
    fieldStart = top.pos;
    return true;
  });
  return { model: Buffer.concat(modelParts), info };
}
