/**
 * The inference config: everything besides the ONNX graph that a runtime needs to turn images into
 * detections (input tensor, resize and normalisation, class map, output decoder, thresholds, NMS).
 * It lives beside the model as `<name>.inference_config.json`. Documented in docs/inference-config.md.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { badInput } from '../core/errors.js';

/** The schema version this code writes and reads. */
export const INFERENCE_CONFIG_VERSION = 1;

const finite = z.number().refine((v) => Number.isFinite(v), 'a finite number');
const positiveInt = z.number().int().positive();
const unit = finite.refine((v) => v >= 0 && v <= 1, 'a number in [0, 1]');
const triple = z.tuple([finite, finite, finite]);

const inputSchema = z.strictObject({
  name: z.string().min(1),
  width: positiveInt,
  height: positiveInt,
  channels: z.literal(3).default(3),
  layout: z.literal('NCHW').default('NCHW'),
  dtype: z.literal('float32').default('float32'),
  color: z.literal('RGB').default('RGB'),
});

const preprocessSchema = z.strictObject({
  resize: z
    .strictObject({
      mode: z.enum(['resize', 'letterbox']).default('resize'),
      interpolation: z.literal('bilinear').default('bilinear'),
      pad_value: finite.refine((v) => v >= 0 && v <= 255, 'a pixel value in [0, 255]').default(114),
    })
    .default({ mode: 'resize', interpolation: 'bilinear', pad_value: 114 }),
  normalize: z
    .strictObject({
      scale: finite.default(1 / 255),
      mean: triple.default([0, 0, 0]),
      std: triple.refine((s) => s.every((v) => v !== 0), 'a non-zero std per channel').default([1, 1, 1]),
    })
    .default({ scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] }),
});

const classSchema = z.strictObject({
  id: z.number().int(),
  name: z.string().min(1),
});

const centernetSchema = z.strictObject({
  decoder: z.literal('centernet'),
  heatmap: z.string().min(1),
  wh: z.string().min(1),
  offset: z.string().min(1),
  /** Input pixels per heatmap cell. */
  stride: positiveInt.default(4),
  /** 'none' when the graph already applies the sigmoid (the default), 'sigmoid' to apply it here. */
  heatmap_activation: z.enum(['none', 'sigmoid']).default('none'),
  /** Side of the max-pool window of peak extraction (odd). */
  peak_kernel: positiveInt.refine((k) => k % 2 === 1, 'an odd window size').default(3),
  /** Peaks kept per image (over all classes) before thresholds and NMS. */
  top_k: positiveInt.default(100),
});

const boxesSchema = z.strictObject({
  decoder: z.literal('boxes'),
  boxes: z.string().min(1),
  scores: z.string().min(1),
  /** Class index tensor [N,K]; leave out when scores is [N,K,C] (the class is the arg-max). */
  classes: z.string().min(1).optional(),
  box_format: z.enum(['xyxy', 'xywh', 'cxcywh']).default('xyxy'),
  /** True when coordinates are fractions of the input size rather than input pixels. */
  normalized: z.boolean().default(false),
});

const ensembleTensorSchema = z.strictObject({
  name: z.string().min(1),
  datatype: z.string().min(1),
  /** Full shape, batch dim first when the ensemble batches; -1 = variable. */
  shape: z.array(z.number().int().min(-1)),
});

/**
 * The pipeline ensemble a pack serves besides the bare model (written by `drivegate package` when the
 * recipe composes a pipeline): raw image in, fixed-shape detections out. See docs/packaging.md.
 */
const ensembleSchema = z.strictObject({
  /** The Triton model name of the ensemble. */
  name: z.string().min(1),
  /** Its composing models in order: preprocess, the detector, postprocess. */
  steps: z.array(z.string().min(1)).min(1),
  /** The raw image: UINT8, HWC, RGB. */
  input: ensembleTensorSchema.extend({
    layout: z.literal('NHWC'),
    color: z.literal('RGB'),
    /** 'any': any height/width (resized as preprocess.resize says); 'input': exactly input.height x input.width. */
    size: z.enum(['any', 'input']),
  }),
  outputs: z.array(ensembleTensorSchema).min(1),
  /** Which output is what: boxes [N,D,4] (box_format, in the raw image's pixels), scores, classes, count. */
  detections: z.strictObject({
    boxes: z.string().min(1),
    scores: z.string().min(1),
    classes: z.string().min(1),
    count: z.string().min(1),
    box_format: z.literal('xywh'),
    /** Rows past the count: score 0, class -1, box 0. */
    padding: z.strictObject({ score: z.literal(0), class: z.literal(-1) }),
  }),
});

/** The zod schema of an inference config (version 1). */
export const inferenceConfigSchema = z
  .strictObject({
    schema_version: z.literal(INFERENCE_CONFIG_VERSION),
    model: z.strictObject({ name: z.string().min(1), version: z.string().min(1).optional() }).optional(),
    input: inputSchema,
    preprocess: preprocessSchema.default({
      resize: { mode: 'resize', interpolation: 'bilinear', pad_value: 114 },
      normalize: { scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
    }),
    classes: z.record(z.string().regex(/^(0|[1-9][0-9]*)$/, 'a class index'), classSchema),
    output: z.discriminatedUnion('decoder', [centernetSchema, boxesSchema]),
    postprocess: z
      .strictObject({
        score_threshold: unit.default(0.3),
        score_thresholds: z.record(z.string(), unit).default({}),
        nms: z
          .strictObject({
            iou_threshold: unit.default(0.5),
            per_class: z.boolean().default(true),
            max_detections: positiveInt.default(100),
          })
          .default({ iou_threshold: 0.5, per_class: true, max_detections: 100 }),
      })
      .default({
        score_threshold: 0.3,
        score_thresholds: {},
        nms: { iou_threshold: 0.5, per_class: true, max_detections: 100 },
      }),
    ensemble: ensembleSchema.optional(),
  })
  .superRefine((cfg, ctx) => {
    const indices = Object.keys(cfg.classes)
      .map(Number)
      .sort((a, b) => a - b);
    if (indices.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['classes'], message: 'at least one class' });
    }
    indices.forEach((v, i) => {
      if (v !== i) {
        ctx.addIssue({
          code: 'custom',
          path: ['classes', String(v)],
          message: `class indices 0..${indices.length - 1} without gaps`,
        });
      }
    });
    const names = new Set(Object.values(cfg.classes).map((c) => c.name));
    for (const name of Object.keys(cfg.postprocess.score_thresholds)) {
      if (!names.has(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['postprocess', 'score_thresholds', name],
          message: `a class name (one of ${[...names].join(', ')})`,
        });
      }
    }
  });

/** A validated inference config, defaults filled in. */
export type InferenceConfig = z.output<typeof inferenceConfigSchema>;
/** An inference config as written in a file (defaults may be missing). */
export type InferenceConfigInput = z.input<typeof inferenceConfigSchema>;
/** The centernet output decoder's settings. */
export type CenternetOutput = z.output<typeof centernetSchema>;
/** The pipeline ensemble's description (inference_config.json `ensemble`). */
export type EnsembleSpec = z.output<typeof ensembleSchema>;
/** The boxes output decoder's settings. */
export type BoxesOutput = z.output<typeof boxesSchema>;

/** One class of the class map. */
export interface ClassInfo {
  index: number;
  id: number;
  name: string;
}

/** The class map as an array ordered by class index. */
export function classList(cfg: InferenceConfig): ClassInfo[] {
  return Object.entries(cfg.classes)
    .map(([k, v]) => ({ index: Number(k), id: v.id, name: v.name }))
    .sort((a, b) => a.index - b.index);
}

/** The score threshold of each class (index order): its per-class threshold or the default. */
export function classThresholds(cfg: InferenceConfig): number[] {
  return classList(cfg).map(
    (c) => cfg.postprocess.score_thresholds[c.name] ?? cfg.postprocess.score_threshold,
  );
}

/** The output tensor names the config's decoder reads. */
export function outputNames(cfg: InferenceConfig): string[] {
  const o = cfg.output;
  if (o.decoder === 'centernet') return [o.heatmap, o.wh, o.offset];
  return o.classes !== undefined ? [o.boxes, o.scores, o.classes] : [o.boxes, o.scores];
}

/**
 * Validates a parsed JSON value as an inference config. Errors are BAD_INPUT naming `file` and the
 * first bad key (e.g. `output.top_k`).
 */
export function parseInferenceConfig(value: unknown, file = '<inference config>'): InferenceConfig {
  const r = inferenceConfigSchema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const key = issue !== undefined && issue.path.length > 0 ? issue.path.map(String).join('.') : undefined;
  const found = key !== undefined ? describe(lookup(value, issue?.path ?? [])) : undefined;
  throw badInput(`invalid inference config: ${issue?.message ?? 'invalid'}`, {
    file,
    ...(key !== undefined ? { field: key } : {}),
    ...(found !== undefined ? { found } : {}),
    details: r.error.issues
      .slice(0, 10)
      .map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
  });
}

/** Reads and validates an inference config file. */
export function loadInferenceConfig(file: string): InferenceConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw badInput('cannot read the inference config', {
      file,
      expected: 'a readable JSON file',
      found: (err as NodeJS.ErrnoException).code ?? String(err),
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw badInput('the inference config is not valid JSON', {
      file,
      expected: 'JSON',
      found: err instanceof Error ? err.message : String(err),
    });
  }
  return parseInferenceConfig(json, file);
}

function lookup(value: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v: unknown = value;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}
