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
