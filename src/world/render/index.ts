/**
 * The reference world's sensors: the camera renderer (RGB, semantic and instance masks, exact
 * per-actor visibility ground truth) and a ray-cast LiDAR, both drawing the same WorldState.
 */
export {
  renderCamera,
  createRenderContext,
  RenderContext,
  MAX_RENDER_DISTANCE,
  NEAR_PLANE,
  type RenderOptions,
} from './camera.js';
export { renderLidar, defaultLidar, type LidarConfig } from './lidar.js';
export { actorAppearance, lightingFor, type Lighting, type Part, type Lamp } from './parts.js';
export { laneCenterY, roadLateral, roadEdges, surfaceAt, SURFACE, sceneryFor } from './road.js';
