/**
 * Per-class score thresholds from matched detections (see detections.ts for the matching rule):
 * either the threshold that maximizes F1, or the lowest threshold whose precision meets a target.
 *
 * A threshold t keeps the detections with score >= t. Because matching is greedy in descending
 * score order, the matches of the kept detections do not depend on the dropped ones, so one
 * matching serves every threshold. Candidates are the distinct detection scores. At t:
 * TP(t), FP(t) count kept detections (crowd-ignored ones are left out), precision = TP / (TP + FP),
 * recall = TP / GT (non-crowd), F1 = 2PR / (P + R). F1 ties go to the higher threshold (fewer
 * detections for the same F1).
 *
 * The result's `score_thresholds` maps class names to thresholds, the map inference_config.json
 * holds at `postprocess.score_thresholds` (`{"car": 0.41, ...}`; see inferenceConfigFragment).
 */
import { badInput } from '../../core/errors.js';
import type { Matching } from './detections.js';

/** What to optimize. */
export type ThresholdMode = 'f1' | 'precision';

/** The chosen threshold of one class and the operating point it gives. */
export interface ClassThreshold {
  class: string;
  category_id: number;
  /** null when no threshold qualifies (see `reason`). */
  threshold: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  tp: number;
  fp: number;
  num_gt: number;
  detections: number;
  reason?: string;
}

/** Thresholds for every class. */
export interface ThresholdResult {
  mode: ThresholdMode;
  /** The precision target (mode 'precision'). */
  target?: number;
  iou_threshold: number;
  classes: ClassThreshold[];
  /** Class name to threshold, for inference_config.json; classes without one are left out. */
  score_thresholds: Record<string, number>;
  /** Classes without a threshold (the runtime's default applies to them). */
  unmet: string[];
}

/** Options of tuneThresholds. */
export interface ThresholdOptions {
  mode?: ThresholdMode;
  /** Precision target in (0, 1] for mode 'precision'. */
  target?: number;
}

/** Picks a score threshold per class from a matching. */
export function tuneThresholds(matching: Matching, options: ThresholdOptions = {}): ThresholdResult {
  const mode = options.mode ?? 'f1';
  const target = options.target;
  if (mode === 'precision' && (target === undefined || !(target > 0 && target <= 1))) {
    throw badInput('precision mode needs a target', {
      field: 'target',
      expected: 'a number in (0, 1]',
      found: String(target),
    });
  }
  const classes: ClassThreshold[] = [];
  for (const [id, name] of [...matching.categories].sort((a, b) => a[0] - b[0])) {
    const dets = matching.detections
      .filter((d) => d.category_id === id && d.status !== 'ignored')
      .sort((a, b) => b.score - a.score);
    const numGt = matching.gtCount.get(id) ?? 0;
    const base = { class: name, category_id: id, num_gt: numGt, detections: dets.length };
    const none = (reason: string): ClassThreshold => ({
      ...base,
      threshold: null,
      precision: null,
      recall: null,
      f1: null,
      tp: 0,
      fp: 0,
      reason,
    });
    if (numGt === 0) {
      classes.push(none('no ground truth of this class'));
      continue;
    }
    if (dets.length === 0) {
      classes.push(none('no detections of this class'));
      continue;
    }
    let tp = 0;
    let fp = 0;
    let best: ClassThreshold | null = null;
    for (let i = 0; i < dets.length; i++) {
      const d = dets[i]!;
      if (d.status === 'tp') tp++;
      else fp++;
      // Evaluate only at the end of a run of equal scores: t keeps all of them.
      if (i + 1 < dets.length && dets[i + 1]!.score === d.score) continue;
      const precision = tp / (tp + fp);
      const recall = tp / numGt;
      const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
      const point: ClassThreshold = { ...base, threshold: d.score, precision, recall, f1, tp, fp };
      if (mode === 'f1') {
        if (best === null || f1 > best.f1!) best = point;
      } else if (precision >= target!) {
        best = point; // later points have lower thresholds
      }
    }
    if (best === null || (mode === 'f1' && best.f1 === 0)) {
      classes.push(
        none(
          mode === 'f1'
            ? 'no true positive at any threshold'
            : `no threshold reaches precision ${String(target)}`,
        ),
      );
    } else {
      classes.push(best);
    }
  }
  const score_thresholds: Record<string, number> = {};
  const unmet: string[] = [];
  for (const c of classes) {
    if (c.threshold === null) unmet.push(c.class);
    else score_thresholds[c.class] = c.threshold;
  }
  return {
    mode,
    ...(mode === 'precision' && target !== undefined ? { target } : {}),
    iou_threshold: matching.iouThreshold,
    classes,
    score_thresholds,
    unmet,
  };
}

/**
 * The inference_config.json fragment the runtime reads (src/runtime/config.ts):
 * `{"postprocess": {"score_thresholds": {class name: threshold}}}`. Classes left out fall back to
 * `postprocess.score_threshold`.
 */
export function inferenceConfigFragment(result: ThresholdResult): {
  postprocess: { score_thresholds: Record<string, number> };
} {
  return { postprocess: { score_thresholds: { ...result.score_thresholds } } };
}

/**
 * A copy of an inference config (parsed JSON) with `postprocess.score_thresholds` replaced by the
 * result's, every other key kept.
 */
export function applyScoreThresholds(
  config: Record<string, unknown>,
  result: ThresholdResult,
): Record<string, unknown> {
  const post = config['postprocess'];
  const postprocess =
    post !== null && typeof post === 'object' && !Array.isArray(post)
      ? (post as Record<string, unknown>)
      : {};
  return { ...config, postprocess: { ...postprocess, score_thresholds: { ...result.score_thresholds } } };
}
