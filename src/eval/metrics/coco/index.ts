/**
 * COCO detection evaluation (bbox and segm), exact to pycocotools' COCOeval and fast: load ground truth
 * and results from JSON into typed arrays, match, accumulate, summarize; per-class AP and
 * precision-recall curves for reports. The CLI front is `drivegate eval coco` (src/cli/eval.ts).
 */
export {
  loadGroundTruth,
  loadDetections,
  type CocoGroundTruth,
  type CocoDetections,
  type CocoIouType,
  type CocoId,
  type CocoSource,
  type CocoLoadOptions,
  type RleTable,
} from './load.js';
export {
  evaluateCoco,
  linspace,
  IOU_THRESHOLDS,
  RECALL_THRESHOLDS,
  AREA_RANGES,
  AREA_LABELS,
  MAX_DETS,
  STAT_NAMES,
  type CocoEvalResult,
  type CocoClassResult,
} from './evaluate.js';
export {
  evaluateCocoFiles,
  formatSummary,
  cocoJsonOutput,
  type CocoFilesOptions,
  type CocoJsonOutput,
} from './run.js';
export {
  rleCountsFromString,
  rleCountsToString,
  rleFromPolygon,
  rleFromBox,
  rleMerge,
  rleArea,
  rleBbox,
  rleIouRuns,
  boxIou,
  type Rle,
} from './mask.js';
