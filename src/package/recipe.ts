/**
 * The packaging recipe (examples/recipe.yaml): task and model name, targets, opset/IR constraints,
 * dynamic axes, tolerances, serving settings, the inference contract and lineage. Parsed from YAML
 * with line tracking and validated with a strict zod schema, so an unknown target or field is
 * BAD_INPUT naming the file, the key and its line.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { DrivegateError, badInput } from '../core/errors.js';

/** A target: runtime + device class + precision, whether this host can build/run it, and why not. */
export interface TargetInfo {
  id: string;
  runtime: 'onnxruntime' | 'tensorrt';
  device: 'cpu' | 'gpu';
  precision: 'fp32' | 'fp16' | 'int8';
  /**
   * The operator support table the graph check uses (src/onnx/coverage.ts SUPPORT_TABLES):
   * gpu-trt-* targets check against TensorRT 8.6, gpu-trt10-* targets against TensorRT 10.x.
   */
  table: 'ort-cpu' | 'trt-8.6' | 'trt-10';
  /** Why drivegate cannot produce/run this target here (undefined: it can). */
  notRunnable?: string;
}

/** The targets a recipe may name. */
export const KNOWN_TARGETS: Record<string, TargetInfo> = {
  'cpu-ort-fp32': {
    id: 'cpu-ort-fp32',
    runtime: 'onnxruntime',
    device: 'cpu',
    precision: 'fp32',
    table: 'ort-cpu',
  },
  'cpu-ort-fp16': {
    id: 'cpu-ort-fp16',
    runtime: 'onnxruntime',
    device: 'cpu',
    precision: 'fp16',
    table: 'ort-cpu',
  },
  'cpu-ort-int8': {
    id: 'cpu-ort-int8',
    runtime: 'onnxruntime',
    device: 'cpu',
    precision: 'int8',
    table: 'ort-cpu',
  },
  ...Object.fromEntries(
    (['fp32', 'fp16', 'int8'] as const).map((p) => [
      `gpu-trt-${p}`,
      {
        id: `gpu-trt-${p}`,
        runtime: 'tensorrt',
        device: 'gpu',
        precision: p,
        table: 'trt-8.6',
        notRunnable: 'TensorRT builds need trtexec and a GPU; this host has neither',
      } satisfies TargetInfo,
    ]),
  ),
  ...Object.fromEntries(
    (['fp32', 'fp16', 'int8'] as const).map((p) => [
      `gpu-trt10-${p}`,
      {
        id: `gpu-trt10-${p}`,
        runtime: 'tensorrt',
        device: 'gpu',
        precision: p,
        table: 'trt-10',
        notRunnable: 'TensorRT builds need trtexec and a GPU; this host has neither',
      } satisfies TargetInfo,
    ]),
  ),
};

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a name of letters, digits and ._-');
const range = z.strictObject({
  min: z.number().int().nonnegative().optional(),
  max: z.number().int().nonnegative().optional(),
});

/** An equivalence bound: max abs error (one number, or per output head) and detection drift bounds. */
const maxAbs = z.union([z.number().positive(), z.record(z.string(), z.number().positive())]);
const tolerance = z.strictObject({
  /** On real shard images (and the INT8 quantizer's evaluation images); also random inputs unless random_max_abs. */
  max_abs: maxAbs,
  /** On the randomized inputs, which lie outside the calibrated range (INT8 clips them): default max_abs. */
  random_max_abs: maxAbs.optional(),
  /** Mean (1 - IoU) of matched boxes, absolute (0.005 = 0.5%). */
  iou_drift: z.number().min(0).optional(),
  /** Mean |score difference| of matched boxes. */
  score_drift: z.number().min(0).optional(),
  /** Share of the reference's detections the variant matches. */
  min_recall: z.number().min(0).max(1).optional(),
});

/** A recipe tolerance block. */
export type Tolerance = z.output<typeof tolerance>;

/** The bounds that apply when the recipe leaves them out, per precision. */
export const DEFAULT_TOLERANCES = {
  fp32: { max_abs: 1e-3, iou_drift: 0.005, score_drift: 1e-3, min_recall: 0.99 },
  fp16: { max_abs: 0.1, iou_drift: 0.005, score_drift: 0.01, min_recall: 0.95 },
  int8: { max_abs: 1.0, iou_drift: 0.05, score_drift: 0.1, min_recall: 0.8 },
} as const;

/** The INT8 options of a recipe (forwarded to quantizeInt8, src/onnx/quantize.ts; it compares all three calibrators). */
const int8Options = z.strictObject({
  /** The calibrator whose scales the model and calibration.cache use. */
  calibrator: z.enum(['minmax', 'percentile', 'entropy']).default('entropy'),
  percentile: z.number().gt(0).max(100).default(99.99),
  /** Most layers the sensitivity analysis may keep in FP32. */
  max_fallback: z.number().int().min(0).max(1000).default(8),
  /** uint8 activations (onnxruntime CPU) or int8 (TensorRT's symmetric form). */
  activation_type: z.enum(['uint8', 'int8']).default('uint8'),
  /** Images per calibration batch. */
  batch: z.number().int().min(1).max(256).default(32),
  /** Shard images (evenly spaced) on which the quantizer measures deviation for calibrator choice and fallback. */
  evaluation_images: z.number().int().min(1).max(4096).default(16),
  /**
   * A QAT export in QDQ format (relative to the recipe): when given, it is the INT8 variant instead
   * of post-training quantization (checked by src/package/int8.ts verifyQatModel).
   */
  qat_model: z.string().min(1).optional(),
});

/** The recipe schema (v1). */
export const recipeSchema = z.strictObject({
  recipe_version: z.literal(1),
  task: name,
  model: z.strictObject({
    name,
    /** Inference config (the contract), relative to the recipe; default: beside the model. */
    inference_config: z.string().min(1).optional(),
  }),
  targets: z
    .array(z.enum(Object.keys(KNOWN_TARGETS) as [string, ...string[]]))
    .min(1)
    .refine((t) => new Set(t).size === t.length, 'no target listed twice'),
  constraints: z.strictObject({ opset: range.optional(), ir_version: range.optional() }).default({}),
  /** Per graph input/output name: axis index -> symbolic name (axes that may vary). */
  dynamic_axes: z
    .record(z.string(), z.record(z.string().regex(/^\d+$/, 'an axis index'), z.string().min(1)))
    .default({}),
  tolerances: z
    .strictObject({
      fp32: tolerance.default({ max_abs: DEFAULT_TOLERANCES.fp32.max_abs }),
      fp16: tolerance.optional(),
      int8: tolerance.optional(),
    })
    .default({ fp32: { max_abs: DEFAULT_TOLERANCES.fp32.max_abs } }),
  equivalence: z
    .strictObject({
      /** Randomized inputs (each gives every output head) compared per variant. */
      samples: z.number().int().min(1).max(100000).default(1000),
      batch: z.number().int().min(1).max(64).default(8),
      seed: z.number().int().default(1),
      /** Real images from the calibration shard compared per variant (0: none; capped by the shard). */
      images: z.number().int().min(0).max(100000).default(512),
      /** Reference detections at or above this score are the ones detection drift follows. */
      drift_score_threshold: z.number().min(0).max(1).default(0.3),
      /** A variant's detection matches a reference one at IoU >= this (same class). */
      match_iou: z.number().gt(0).max(1).default(0.5),
    })
    .default({ samples: 1000, batch: 8, seed: 1, images: 512, drift_score_threshold: 0.3, match_iou: 0.5 }),
  /** The calibration shard: a manifest (or the reference world) and the balancing rule. */
  calibration: z
    .strictObject({
      /** A JSON-lines manifest (relative to the recipe); images relative to the manifest's folder. */
      manifest: z.string().min(1).optional(),
      /** Or the reference world, generated into the workspace on first use. */
      world: z
        .strictObject({
          scenes: z.number().int().min(1).max(100000),
          frames_per_scene: z.number().int().min(1).max(1000),
          seed: z.number().int().nonnegative(),
          split: z.enum(['train', 'val', 'test']).default('train'),
          /** `world generate --weights` syntax, e.g. 'weather=clear:1,rain:1;time_of_day=day:1,night:1'. */
          weights: z.string().min(1).optional(),
        })
        .optional(),
      count: z.number().int().min(1).max(100000).default(512),
      /** Manifest fields whose value combinations get equal counts (strata). */
      balance: z
        .array(z.string().regex(/^[a-z_]+$/, 'a manifest field name'))
        .default(['weather', 'time_of_day']),
      seed: z.number().int().default(1),
    })
    .refine((c) => (c.manifest === undefined) !== (c.world === undefined), 'exactly one of manifest or world')
    .optional(),
  fp16: z
    .strictObject({
      /** Op types kept in FP32 (default: src/onnx/fp16.ts DEFAULT_FP32_OPS). */
      keep_fp32_ops: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, 'an ONNX op type')).optional(),
    })
    .default({}),
  /** Options passed to the INT8 quantizer (src/onnx/quantize.ts). */
  int8: int8Options.prefault({}),
  microbench: z
    .strictObject({
      iterations: z.number().int().min(1).max(10000).default(30),
      warmup: z.number().int().min(0).max(1000).default(3),
      batch_sizes: z.array(z.number().int().min(1).max(64)).min(1).default([1]),
    })
    .default({ iterations: 30, warmup: 3, batch_sizes: [1] }),
  /**
   * A pipeline ensemble in the model repository: Triton `platform: "ensemble"` model `name` chaining
   * the generated `preprocess` model (raw UINT8 HWC image -> normalised input), a detector model of
   * the pack (`model.name` or a variant `<name>_fp16` / `<name>_int8`) and the generated `postprocess`
   * model (heads -> fixed-shape detections). Absent: no ensemble.
   */
  pipeline: z
    .strictObject({
      name,
      steps: z.tuple([z.literal('preprocess'), name, z.literal('postprocess')]).optional(),
    })
    .optional(),
  serving: z
    .strictObject({
      max_batch_size: z.number().int().min(0).max(1024).default(8),
      preferred_batch_sizes: z.array(z.number().int().min(1)).default([4, 8]),
      max_queue_delay_us: z.number().int().min(0).default(100),
      instance_count: z.number().int().min(1).default(1),
    })
    .default({
      max_batch_size: 8,
      preferred_batch_sizes: [4, 8],
      max_queue_delay_us: 100,
      instance_count: 1,
    }),
  lineage: z
    .strictObject({
      git_sha: z
        .string()
        .regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, 'a git commit SHA (40 or 64 hex digits)')
        .optional(),
      dataset: z.string().min(1).optional(),
      training_run: z.string().min(1).optional(),
    })
    .default({}),
});

/** A validated recipe. */
export type Recipe = z.output<typeof recipeSchema>;

/** The models of a pipeline: the ensemble's name and its three steps (the detector step filled in). */
export interface PipelineSpec {
  name: string;
  steps: [string, string, string];
}

/** The recipe's pipeline with the default detector step (`model.name`), or undefined. */
export function pipelineOf(recipe: Recipe): PipelineSpec | undefined {
  const p = recipe.pipeline;
  if (p === undefined) return undefined;
  return { name: p.name, steps: [...(p.steps ?? ['preprocess', recipe.model.name, 'postprocess'])] };
}

/** Cross-field checks of a pipeline: the detector step is one of the pack's models; names do not clash. */
function checkPipeline(
  r: Recipe,
): { path: Array<string | number>; expected: string; found: string } | undefined {
  const p = pipelineOf(r);
  if (p === undefined) return undefined;
  const detectors = [r.model.name, `${r.model.name}_fp16`, `${r.model.name}_int8`];
  if (!detectors.includes(p.steps[1]))
    return {
      path: ['pipeline', 'steps', 1],
      expected: `one of ${detectors.join(', ')}`,
      found: JSON.stringify(p.steps[1]),
    };
  const precision = p.steps[1] === r.model.name ? 'fp32' : p.steps[1].slice(r.model.name.length + 1);
  if (
    precision !== 'fp32' &&
    !r.targets.some((t) => KNOWN_TARGETS[t]?.device === 'cpu' && KNOWN_TARGETS[t]?.precision === precision)
  )
    return {
      path: ['pipeline', 'steps', 1],
      expected: `a cpu-ort-${precision} target in targets (the ${precision} variant is built only for it)`,
      found: `targets ${r.targets.join(', ')}`,
    };
  if ([...detectors, 'preprocess', 'postprocess'].includes(p.name))
    return {
      path: ['pipeline', 'name'],
      expected: 'a name no other model of the repository has',
      found: JSON.stringify(p.name),
    };
  return undefined;
}

function lineOf(doc: Document, lc: LineCounter, path: ReadonlyArray<string | number>): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
    const key = path[n - 1];
    if (isMap(parent)) {
      for (const item of parent.items) {
        if (isPair(item) && isScalar(item.key) && String(item.key.value) === String(key) && item.key.range) {
          return lc.linePos(item.key.range[0]).line;
        }
      }
    } else if (isSeq(parent) && typeof key === 'number') {
      const item = parent.items[key] as YamlNode | undefined;
      if (item?.range) return lc.linePos(item.range[0]).line;
    }
  }
  const root = doc.contents as YamlNode | null;
  return root?.range ? lc.linePos(root.range[0]).line : undefined;
}

function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

function valueAt(value: unknown, path: ReadonlyArray<string | number>): unknown {
  let cur = value;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

/** Parses and validates recipe text; BAD_INPUT naming `file`, the key path, its line, expected and found. */
export function parseRecipe(text: string, file: string): Recipe {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    throw badInput(`invalid YAML: ${first.message.split('\n')[0] ?? first.code}`, {
      file,
      line: lc.linePos(first.pos[0]).line,
      expected: 'well-formed YAML',
      found: first.code,
    });
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  const r = recipeSchema.safeParse(value);
  if (r.success) {
    const bad = checkPipeline(r.data);
    if (bad === undefined) return r.data;
    const line = lineOf(doc, lc, bad.path);
    throw badInput('invalid pipeline', {
      file,
      field: formatPath(bad.path),
      ...(line !== undefined ? { line } : {}),
      expected: bad.expected,
      found: bad.found,
    });
  }
  const issue = r.error.issues[0];
  let path: Array<string | number> = (issue?.path ?? []).map((p) => (typeof p === 'number' ? p : String(p)));
  let expected = issue?.message ?? 'a valid recipe';
  const v = valueAt(value, path);
  let found = v === undefined ? 'nothing' : JSON.stringify(v);
  let message = 'invalid recipe';
  if (issue?.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    path = [...path, key];
    message = `unknown recipe field ${JSON.stringify(key)}`;
    expected = 'no other keys';
    found = `unknown key ${JSON.stringify(key)}`;
  } else if (issue?.code === 'invalid_value' && path[0] === 'targets') {
    message = `unknown target ${found}`;
    expected = `one of ${Object.keys(KNOWN_TARGETS).join(', ')}`;
  } else if (issue?.code === 'invalid_value') {
    expected = `one of ${issue.values.map((x) => JSON.stringify(x)).join(', ')}`;
  }
  const line = lineOf(doc, lc, path);
  throw badInput(message, {
    file,
    field: formatPath(path) || '(document)',
    ...(line !== undefined ? { line } : {}),
    expected,
    found: found.length > 80 ? `${found.slice(0, 77)}...` : found,
  });
}

/** Reads and validates a recipe file; an unreadable or missing file is BAD_INPUT naming it (exit 2). */
export async function loadRecipe(file: string): Promise<{ recipe: Recipe; text: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DrivegateError('BAD_INPUT', 'cannot read the recipe', {
      file,
      expected: 'a recipe YAML file',
      found: String((err as NodeJS.ErrnoException).code ?? err),
      cause: err,
    });
  }
  return { recipe: parseRecipe(text, file), text };
}
