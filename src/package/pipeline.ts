/**
 * The generated models of a pack's pipeline ensemble (recipe `pipeline`): `preprocess` turns a raw
 * image as Triton clients send it (UINT8, HWC, RGB) into the detector's normalised NCHW float input,
 * exactly as src/runtime/preprocess.ts does; `postprocess` turns the detector's CenterNet heads into
 * fixed-shape detections, exactly as src/runtime/decode.ts's decodeDetections does (peak max-pool,
 * top-k, per-class thresholds, box decode, mapping back to the image and clipping, NMS). Both are
 * plain ONNX (opset 17, standard ops) built with src/onnx/build.ts; the same config gives the same
 * bytes. Also the names and tensors of the ensemble that chains them.
 */
import { badInput } from '../core/errors.js';
import { GraphBuilder } from '../onnx/build.js';
import { DT } from '../onnx/graph.js';
import { classList, classThresholds, type InferenceConfig } from '../runtime/config.js';

/** The opset of the generated models. */
export const PIPELINE_OPSET = 17;

/** The ensemble's raw image input (UINT8 [H, W, 3] per image, HWC, RGB). */
export const RAW_IMAGE = 'image';
/** The preprocess model's second output: each image's [height, width] in pixels (FP32). */
export const IMAGE_SIZE = 'image_size';
/** The postprocess model's (and the ensemble's) outputs. */
export const DETECTION_OUTPUTS = {
  /** [D, 4] FP32: x, y, width, height in the raw image's pixels (COCO convention); 0 in padding. */
  boxes: 'boxes',
  /** [D] FP32: descending; 0 in padding. */
  scores: 'scores',
  /** [D] INT64: class index into the class map; -1 in padding. */
  classes: 'classes',
  /** [1] INT64: how many of the D rows are detections. */
  count: 'num_detections',
} as const;

/** A very low score marking "no candidate" inside the postprocess graph (below any real score). */
const NEG = -3.0e38;
const NEG_THRESHOLD = -1.0e38;

/** The shape of the raw image the ensemble takes: any size in 'resize' mode, the input size in 'letterbox' mode. */
export function rawImageDims(cfg: InferenceConfig): Array<number | string> {
  return cfg.preprocess.resize.mode === 'resize'
    ? ['height', 'width', 3]
    : [cfg.input.height, cfg.input.width, 3];
}

/**
 * The preprocess model: `image` UINT8 [N, H, W, 3] -> `<input name>` FP32 [N, 3, Hin, Win] and
 * `image_size` FP32 [N, 2] (height, width). In 'resize' mode the image may have any size and is resized
 * bilinearly (half-pixel centres, no antialias: the runtime's sampling); in 'letterbox' mode
 * it must already have the input size (the letterbox of an image of the input size is the identity).
 * Computed in float64 and rounded once to float32, like the runtime, so the two agree bit for bit
 * (onnxruntime's Resize has no float64 kernel, so the resize is Gathers and arithmetic).
 */
export function buildPreprocessModel(cfg: InferenceConfig): Buffer {
  const g = new GraphBuilder('preprocess', PIPELINE_OPSET);
  const H = cfg.input.height;
  const W = cfg.input.width;
  const resize = cfg.preprocess.resize.mode === 'resize';
  const raw = g.input(RAW_IMAGE, DT.UINT8, ['N', ...rawImageDims(cfg)]);
  const nchw = g.op('Cast', [g.op('Transpose', [raw], { perm: [0, 3, 1, 2] })], { to: DT.DOUBLE });
  let x = nchw;
  if (resize) {
    // Bilinear with half-pixel centres, in float64 with the runtime's operation order (its
    // preprocessInto), so the input matches it to the last float32 bit (an INT8 detector quantizes its
    // input; a one-ulp difference there moves a value across a rounding step).
    const shape = g.op('Shape', [nchw]);
    const axis = (dim: number, m: number): { i0: string; i1: string; f: string } => {
      const nInt = g.op('Slice', [shape, g.i64([dim]), g.i64([dim + 1])]);
      const n = g.op('Cast', [nInt], { to: DT.DOUBLE });
      const scale = g.op('Div', [n, g.f64([m])]);
      const centres = g.f64(Array.from({ length: m }, (_, d) => d + 0.5));
      const src = g.op('Max', [g.op('Sub', [g.op('Mul', [centres, scale]), g.f64([0.5])]), g.f64([0])]);
      const a = g.op('Min', [g.op('Floor', [src]), g.op('Sub', [n, g.f64([1])])]);
      const i0 = g.op('Cast', [a], { to: DT.INT64 });
      const i1 = g.op('Min', [g.op('Add', [i0, g.i64([1])]), g.op('Sub', [nInt, g.i64([1])])]);
      // The runtime keeps the fractions in a Float32Array: round them the same way.
      const f = g.op('Cast', [g.op('Cast', [g.op('Sub', [src, a])], { to: DT.FLOAT })], {
        to: DT.DOUBLE,
      });
      return { i0, i1, f };
    };
    const ys = axis(2, H);
    const xs = axis(3, W);
    const row0 = g.op('Gather', [nchw, ys.i0], { axis: 2 });
    const row1 = g.op('Gather', [nchw, ys.i1], { axis: 2 });
    const lerp = (p: string, q: string, f: string): string =>
      g.op('Add', [p, g.op('Mul', [g.op('Sub', [q, p]), f])]);
    const top = lerp(
      g.op('Gather', [row0, xs.i0], { axis: 3 }),
      g.op('Gather', [row0, xs.i1], { axis: 3 }),
      xs.f,
    );
    const bot = lerp(
      g.op('Gather', [row1, xs.i0], { axis: 3 }),
      g.op('Gather', [row1, xs.i1], { axis: 3 }),
      xs.f,
    );
    x = lerp(top, bot, g.op('Reshape', [ys.f, g.i64([H, 1])]));
  }
  const { scale, mean, std } = cfg.preprocess.normalize;
  const a = g.f64(
    [0, 1, 2].map((c) => scale / std[c]!),
    [1, 3, 1, 1],
  );
  const b = g.f64(
    [0, 1, 2].map((c) => -mean[c]! / std[c]!),
    [1, 3, 1, 1],
  );
  const y = g.op('Cast', [g.op('Add', [g.op('Mul', [x, a]), b])], { to: DT.FLOAT });
  g.output(y, cfg.input.name, DT.FLOAT, ['N', 3, H, W]);
  const rawShape = g.op('Shape', [raw]);
  const hw = g.op('Cast', [g.op('Slice', [rawShape, g.i64([1]), g.i64([3])])], { to: DT.FLOAT });
  const n = g.op('Slice', [rawShape, g.i64([0]), g.i64([1])]);
  const size = g.op('Expand', [hw, g.op('Concat', [n, g.i64([2])], { axis: 0 })]);
  g.output(size, IMAGE_SIZE, DT.FLOAT, ['N', 2]);
  return g.encode();
}

/** The detector's head dims the postprocess model is built for (classes, heatmap height and width). */
export interface HeadDims {
  classes: number;
  height: number;
  width: number;
}

/** The number of candidates (top-k) and detections (rows of the outputs) of the postprocess model. */
export function postprocessSizes(cfg: InferenceConfig, heads: HeadDims): { k: number; d: number } {
  const o = cfg.output;
  const topK = o.decoder === 'centernet' ? o.top_k : 0;
  const k = Math.min(topK, heads.classes * heads.height * heads.width);
  return { k, d: Math.min(cfg.postprocess.nms.max_detections, k) };
}

/**
 * The postprocess model: the CenterNet heads (`heatmap` [N,C,h,w], `wh` and `offset` [N,2,h,w], names
 * from the config) and `image_size` [N,2] -> `boxes` [N,D,4], `scores` [N,D], `classes` [N,D] INT64,
 * `num_detections` [N,1] INT64; rows sorted by score, padded with score 0, box 0 and class -1. Only the
 * 'centernet' decoder has a postprocess model (BAD_INPUT otherwise).
 */
export function buildPostprocessModel(
  cfg: InferenceConfig,
  heads: HeadDims,
  file = 'inference_config.json',
): Buffer {
  const o = cfg.output;
  if (o.decoder !== 'centernet') {
    throw badInput('a pipeline postprocess needs the centernet decoder', {
      file,
      field: 'output.decoder',
      expected: '"centernet"',
      found: JSON.stringify(o.decoder),
    });
  }
  const C = classList(cfg).length;
  if (heads.classes !== C) {
    throw badInput('the detector heatmap has another class count than the class map', {
      file,
      field: 'classes',
      expected: `${heads.classes} classes`,
      found: `${C}`,
    });
  }
  const { height: h, width: w } = heads;
  const hw = h * w;
  const { k: K, d: D } = postprocessSizes(cfg, heads);
  const thresholds = classThresholds(cfg);
  const minScore = Math.min(...thresholds);
  const g = new GraphBuilder('postprocess', PIPELINE_OPSET);
  const heatIn = g.input(o.heatmap, DT.FLOAT, ['N', C, h, w]);
  const whIn = g.input(o.wh, DT.FLOAT, ['N', 2, h, w]);
  const offIn = g.input(o.offset, DT.FLOAT, ['N', 2, h, w]);
  const sizeIn = g.input(IMAGE_SIZE, DT.FLOAT, ['N', 2]);
  const neg = g.f32([NEG]);
  const zero = g.f32([0]);
  const axis1 = g.i64([1]);

  // Peaks: a cell equal to the max of its k x k window (padding ignored), at or above the lowest threshold.
  const heat = o.heatmap_activation === 'sigmoid' ? g.op('Sigmoid', [heatIn]) : heatIn;
  const r = (o.peak_kernel - 1) / 2;
  const pooled = g.op('MaxPool', [heat], {
    kernel_shape: [o.peak_kernel, o.peak_kernel],
    pads: [r, r, r, r],
    strides: [1, 1],
  });
  const cand = g.op('And', [
    g.op('Equal', [heat, pooled]),
    g.op('GreaterOrEqual', [heat, g.f32([minScore])]),
  ]);
  const flat = g.op('Reshape', [g.op('Where', [cand, heat, neg]), g.i64([0, -1])]);
  // Top-k over classes x cells; ties keep the lower flat index (class, row, column order), as the runtime.
  const [vals, idx] = g.opN('TopK', [flat, g.i64([K])], 2, { axis: -1, largest: 1, sorted: 1 }) as [
    string,
    string,
  ];
  const cls = g.op('Div', [idx, g.i64([hw])]);
  const pos = g.op('Mod', [idx, g.i64([hw])]);
  const xf = g.op('Cast', [g.op('Mod', [pos, g.i64([w])])], { to: DT.FLOAT });
  const yf = g.op('Cast', [g.op('Div', [pos, g.i64([w])])], { to: DT.FLOAT });
  const pos3 = g.op('Unsqueeze', [pos, axis1]);
  const pos2 = g.op('Concat', [pos3, pos3], { axis: 1 });
  const at = (t: string, ch: number): string => {
    const gathered = g.op('GatherElements', [g.op('Reshape', [t, g.i64([0, 2, hw])]), pos2], { axis: 2 });
    return g.op('Gather', [gathered, g.i64([ch], [])], { axis: 1 });
  };
  const bw = at(whIn, 0);
  const bh = at(whIn, 1);
  const stride = g.f32([o.stride]);
  const two = g.f32([2]);
  const cx = g.op('Mul', [g.op('Add', [xf, at(offIn, 0)]), stride]);
  const cy = g.op('Mul', [g.op('Add', [yf, at(offIn, 1)]), stride]);
  const bx = g.op('Sub', [cx, g.op('Div', [bw, two])]);
  const by = g.op('Sub', [cy, g.op('Div', [bh, two])]);
  // Back to image pixels (input = image * input_size / image_size), clipped to the image.
  const imgH = g.op('Unsqueeze', [g.op('Gather', [sizeIn, g.i64([0], [])], { axis: 1 }), axis1]);
  const imgW = g.op('Unsqueeze', [g.op('Gather', [sizeIn, g.i64([1], [])], { axis: 1 }), axis1]);
  const sx = g.op('Div', [g.f32([cfg.input.width]), imgW]);
  const sy = g.op('Div', [g.f32([cfg.input.height]), imgH]);
  const clip = (v: string, s: string, hi: string): string =>
    g.op('Min', [g.op('Max', [g.op('Div', [v, s]), zero]), hi]);
  const x1 = clip(bx, sx, imgW);
  const y1 = clip(by, sy, imgH);
  const x2 = clip(g.op('Add', [bx, bw]), sx, imgW);
  const y2 = clip(g.op('Add', [by, bh]), sy, imgH);
  const ow = g.op('Sub', [x2, x1]);
  const oh = g.op('Sub', [y2, y1]);
  // Per-class thresholds and non-empty boxes.
  const thr = g.op('Gather', [g.f32(thresholds), cls], { axis: 0 });
  const valid = g.op('And', [
    g.op('And', [g.op('GreaterOrEqual', [vals, thr]), g.op('Greater', [ow, zero])]),
    g.op('Greater', [oh, zero]),
  ]);
  // NMS (per class when the config says so): boxes as [y1, x1, y2, x2].
  const axis2 = g.i64([2]);
  const stack = (parts: string[]): string =>
    g.op(
      'Concat',
      parts.map((p) => g.op('Unsqueeze', [p, axis2])),
      { axis: 2 },
    );
  const corners = stack([y1, x1, y2, x2]);
  let nmsScores: string;
  if (cfg.postprocess.nms.per_class) {
    const eq = g.op('Equal', [
      g.op('Unsqueeze', [cls, axis1]),
      g.i64(
        Array.from({ length: C }, (_, i) => i),
        [1, C, 1],
      ),
    ]);
    const m = g.op('And', [eq, g.op('Unsqueeze', [valid, axis1])]);
    nmsScores = g.op('Where', [m, g.op('Unsqueeze', [vals, axis1]), neg]);
  } else {
    nmsScores = g.op('Unsqueeze', [g.op('Where', [valid, vals, neg]), axis1]);
  }
  const selected = g.op('NonMaxSuppression', [
    corners,
    nmsScores,
    g.i64([K]),
    g.f32([cfg.postprocess.nms.iou_threshold]),
    g.f32([NEG_THRESHOLD]),
  ]);
  const batchBox = g.op('Gather', [selected, g.i64([0, 2])], { axis: 1 });
  const ones = g.op(
    'Cast',
    [g.op('GreaterOrEqual', [g.op('Gather', [selected, g.i64([0], [])], { axis: 1 }), g.i64([0])])],
    {
      to: DT.FLOAT,
    },
  );
  const keep = g.op('ScatterND', [g.op('ConstantOfShape', [g.op('Shape', [vals])]), batchBox, ones]);
  const kept = g.op('Where', [g.op('Greater', [keep, g.f32([0.5])]), vals, neg]);
  // At most max_detections, by score (ties: candidate order), padded.
  const [fv, fi] = g.opN('TopK', [kept, g.i64([D])], 2, { axis: -1, largest: 1, sorted: 1 }) as [
    string,
    string,
  ];
  const fvalid = g.op('Greater', [fv, g.f32([NEG_THRESHOLD])]);
  g.output(g.op('Where', [fvalid, fv, zero]), DETECTION_OUTPUTS.scores, DT.FLOAT, ['N', D]);
  const xywh = stack([x1, y1, ow, oh]);
  const fi4 = g.op('Expand', [g.op('Unsqueeze', [fi, axis2]), g.i64([1, 1, 4])]);
  const boxes = g.op('GatherElements', [xywh, fi4], { axis: 1 });
  g.output(
    g.op('Where', [g.op('Unsqueeze', [fvalid, axis2]), boxes, zero]),
    DETECTION_OUTPUTS.boxes,
    DT.FLOAT,
    ['N', D, 4],
  );
  const classes = g.op('GatherElements', [cls, fi], { axis: 1 });
  g.output(g.op('Where', [fvalid, classes, g.i64([-1])]), DETECTION_OUTPUTS.classes, DT.INT64, ['N', D]);
  const count = g.op('ReduceSum', [g.op('Cast', [fvalid], { to: DT.INT64 }), axis1], { keepdims: 1 });
  g.output(count, DETECTION_OUTPUTS.count, DT.INT64, ['N', 1]);
  return g.encode();
}
