/**
 * The reference world: a small, complete synthetic driving world (data model, scene generator,
 * camera and LiDAR renderers, dataset export) so that every workflow runs for real out of the box.
 */
export * from './types.js';
export * from './camera-model.js';
export * from './png.js';
export {
  renderCamera,
  createRenderContext,
  RenderContext,
  renderLidar,
  defaultLidar,
  type RenderOptions,
  type LidarConfig,
} from './render/index.js';
export * from './random.js';
export * from './weights.js';
export { SUBTYPE_SIZES, roadStyle, type NominalSize, type RoadStyle } from './appearance.js';
export * from './scene.js';
export * from './timeline.js';
export * from './splits.js';
export * from './slices.js';
export * from './coco.js';
export {
  DEFAULT_ANNOTATION_RULES,
  SEMANTIC_PALETTE,
  SEMANTIC_LEGEND,
  annotateFrame,
  actorBox3d,
  laneBoundaries,
  categoryIdOf,
  type AnnotationRules,
  type Box3d,
  type FrameObject,
  type LaneBoundary,
} from './export-scene.js';
export {
  generateDataset,
  type DatasetOptions,
  type DatasetSummary,
  type ManifestRecord,
  type SplitSummary,
} from './dataset.js';
