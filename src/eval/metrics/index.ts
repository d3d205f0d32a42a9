/**
 * Evaluation metrics. Detection metrics built on one IoU matching (detections.ts): calibration
 * (ECE/MCE/Brier, reliability bins), per-class score thresholds, the cross-class confusion matrix.
 * The COCO evaluator lives in coco/ (its own entry file).
 */
export * from './detections.js';
export * from './calibration.js';
export * from './thresholds.js';
export * from './confusion.js';
