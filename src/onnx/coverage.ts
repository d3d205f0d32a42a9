/**
 * Operator coverage: every node's op (domain, opset) against a target runtime's support table.
 * Tables: onnxruntime's CPU execution provider for the default ONNX domain up to opset 17,
 * TensorRT 8.6 as onnx-tensorrt's operators.md lists it (up to opset 17), and TensorRT 10.x from the
 * 10.15 operators.md less the ops the changelog says 10.1..10.15 added: a 10.0 baseline (opsets 9..20).
 * Pure data and functions.
 */
import type { OnnxModelInfo } from './proto.js';

/** A support table: which default-domain ops a runtime runs, and the opset range it accepts. */
export interface SupportTable {
  id: string;
  description: string;
  minOpset: number;
  maxOpset: number;
  ops: ReadonlySet<string>;
}

const words = (s: string): ReadonlySet<string> => new Set(s.split(/\s+/).filter((w) => w !== ''));

/** onnxruntime CPU execution provider, ai.onnx domain, opsets 7..17 (kernels registered by ORT 1.1x). */
export const ORT_CPU_OPSET17: SupportTable = {
  id: 'onnxruntime-cpu-opset17',
  description: 'onnxruntime CPU execution provider, default ONNX domain, opset <= 17',
  minOpset: 7,
  maxOpset: 17,
  ops: words(`
    Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Bernoulli
    BitShift BlackmanWindow Cast CastLike Ceil Celu Clip Compress Concat ConcatFromSequence Constant
    ConstantOfShape Conv ConvInteger ConvTranspose Cos Cosh CumSum DFT DepthToSpace DequantizeLinear Det
    Div Dropout DynamicQuantizeLinear Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor GRU Gather
    GatherElements GatherND Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual
    GridSample HammingWindow HannWindow HardSigmoid HardSwish Hardmax Identity If InstanceNormalization
    IsInf IsNaN LRN LSTM LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop
    LpNormalization LpPool MatMul MatMulInteger Max MaxPool MaxRoiPool MaxUnpool Mean
    MeanVarianceNormalization MelWeightMatrix Min Mod Mul Multinomial Neg NonMaxSuppression NonZero Not
    OneHot Optional OptionalGetElement OptionalHasElement Or PRelu Pad Pow QLinearConv QLinearMatMul
    QuantizeLinear RNN RandomNormal RandomNormalLike RandomUniform RandomUniformLike Range Reciprocal
    ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum
    ReduceSumSquare Relu Reshape Resize ReverseSequence RoiAlign Round STFT Scan Scatter ScatterElements
    ScatterND Selu SequenceAt SequenceConstruct SequenceEmpty SequenceErase SequenceInsert SequenceLength
    Shape Shrink Sigmoid Sign Sin Sinh Size Slice Softmax SoftmaxCrossEntropyLoss Softplus Softsign
    SpaceToDepth Split SplitToSequence Sqrt Squeeze StringNormalizer Sub Sum Tan Tanh TfIdfVectorizer
    ThresholdedRelu Tile TopK Transpose Trilu Unique Unsqueeze Upsample Where Xor`),
};

/** TensorRT 8.6 (onnx-tensorrt 8.6-GA docs/operators.md, "Y" rows; opset <= 17). */
export const TRT_86: SupportTable = {
  id: 'tensorrt-8.6',
  description: 'TensorRT 8.6 ONNX parser (onnx-tensorrt operators.md), opset <= 17',
  minOpset: 7,
  maxOpset: 17,
  ops: words(`
    Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast Ceil
    Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace
    DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather
    GatherElements GatherND Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual
    GridSample GroupNormalization GRU HardSwish HardSigmoid Identity If ImageScaler InstanceNormalization
    IsInf IsNaN LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop LRN LSTM
    LpNormalization LpPool MatMul Max MaxPool Mean MeanVarianceNormalization Min Mod Mul Neg
    NonMaxSuppression NonZero Not OneHot Or Pad ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal
    RandomNormalLike RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum
    ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape
    Resize ReverseSequence RNN RoiAlign Round ScaledTanh Scan Scatter ScatterElements ScatterND Selu
    Shape Shrink Sigmoid Sign Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt
    Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze Upsample Where Xor`),
};

/**
 * The "Y" rows of onnx-tensorrt's docs/operators.md for TensorRT 10.15 ("TensorRT 10.15 supports
 * operators in the inclusive range of opset 9 to opset 24"), the newest 10.x table published.
 */
const TRT_1015_OPS = words(`
  Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh Attention AveragePool BatchNormalization
  BlackmanWindow Cast CastLike Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh
  CumSum DeformConv DepthToSpace DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike
  Flatten Floor Gather GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool
  Greater GreaterOrEqual GridSample GroupNormalization GRU HammingWindow HannWindow HardSigmoid HardSwish
  Hardmax Identity If ImageScaler InstanceNormalization IsInf IsNaN LayerNormalization LeakyRelu Less
  LessOrEqual Log LogSoftmax Loop LRN LSTM LpNormalization LpPool MatMul Max MaxPool Mean
  MeanVarianceNormalization Min Mish Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or Pad
  ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike RandomUniform RandomUniformLike
  Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd
  ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence RMSNormalization RNN RoiAlign
  RotaryEmbedding Round STFT ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Shrink Sigmoid
  Sign Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh
  TensorScatter ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze Upsample Where Xor`);

/**
 * Ops of the 10.15 table that onnx-tensorrt's docs/Changelog.md says a later 10.x minor added, with
 * that minor: a model using one of them needs at least that TensorRT.
 */
export const TRT_10_ADDED_IN: Readonly<Record<string, string>> = {
  DeformConv: '10.1',
  BlackmanWindow: '10.4',
  HammingWindow: '10.4',
  HannWindow: '10.4',
  STFT: '10.5',
  Attention: '10.14',
  RotaryEmbedding: '10.15',
  RMSNormalization: '10.15',
  TensorScatter: '10.15',
};

/**
 * TensorRT 10.x, 10.0 baseline: the 10.15 table (above) less the ops the changelog says 10.1..10.15
 * added, with 10.0's opset range 9..20 (the 10.0 operators.md: "TensorRT 10.0 supports operators in
 * the inclusive range of opset 9 to opset 20"). A pack checked against it builds on every 10.x; an
 * op added later is refused with the minor that added it.
 */
export const TRT_10: SupportTable = {
  id: 'tensorrt-10',
  description:
    'TensorRT 10.x ONNX parser, 10.0 baseline (onnx-tensorrt 10.x operators.md and changelog), opset 9..20',
  minOpset: 9,
  maxOpset: 20,
  ops: new Set([...TRT_1015_OPS].filter((op) => TRT_10_ADDED_IN[op] === undefined)),
};

/** The support tables by the id a target names (src/package/recipe.ts TargetInfo.table). */
export const SUPPORT_TABLES = {
  'ort-cpu': ORT_CPU_OPSET17,
  'trt-8.6': TRT_86,
  'trt-10': TRT_10,
} as const satisfies Record<string, SupportTable>;

/** One node a table does not cover. */
export interface UncoveredNode {
  node: string;
  index: number;
  opType: string;
  domain: string;
  reason: string;
}

/** The coverage of one model against one table. */
export interface CoverageReport {
  table: string;
  opset: number;
  /** Distinct ops of the model as "domain:op" ('' domain shown as ai.onnx), with node counts. */
  ops: Record<string, number>;
  uncovered: UncoveredNode[];
  ok: boolean;
}

/** The opset of the default ONNX domain a model imports (0 when it imports none). */
export function defaultOpset(model: OnnxModelInfo): number {
  return model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
}

/** Checks every node of `model` against `table`: the op must be in the table's default domain and the opset in range. */
export function checkCoverage(model: OnnxModelInfo, table: SupportTable): CoverageReport {
  const opset = defaultOpset(model);
  const ops: Record<string, number> = {};
  const uncovered: UncoveredNode[] = [];
  model.graph.nodes.forEach((n, index) => {
    const domain = n.domain === '' ? 'ai.onnx' : n.domain;
    const key = `${domain}:${n.opType}`;
    ops[key] = (ops[key] ?? 0) + 1;
    const name = n.name !== '' ? n.name : `#${index}`;
    if (domain !== 'ai.onnx') {
      uncovered.push({
        node: name,
        index,
        opType: n.opType,
        domain,
        reason: `domain ${domain} is not in ${table.id}`,
      });
    } else if (!table.ops.has(n.opType)) {
      uncovered.push({
        node: name,
        index,
        opType: n.opType,
        domain,
        reason:
          table === TRT_10 && TRT_10_ADDED_IN[n.opType] !== undefined
            ? `op ${n.opType} is not in ${table.id} (onnx-tensorrt added it in TensorRT ${TRT_10_ADDED_IN[n.opType]})`
            : `op ${n.opType} is not in ${table.id}`,
      });
    } else if (opset < table.minOpset || opset > table.maxOpset) {
      uncovered.push({
        node: name,
        index,
        opType: n.opType,
        domain,
        reason: `opset ${opset} is outside ${table.minOpset}..${table.maxOpset} of ${table.id}`,
      });
    }
  });
  const sorted = Object.fromEntries(Object.entries(ops).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { table: table.id, opset, ops: sorted, uncovered, ok: uncovered.length === 0 };
}
