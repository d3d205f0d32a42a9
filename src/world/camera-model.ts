/**
 * The reference world's pinhole camera: the default forward camera and the projections between the
 * ego frame, the camera frame and pixels, plus the inverse for points on the ground plane (a pixel
 * on the road -> where on the road it is), which the closed-loop simulator uses to turn a detection's
 * bottom edge into a distance.
 *
 * Conventions (see types.ts for the frames):
 * - ego frame: x forward, y left, z up, origin on the ground under the rear axle.
 * - camera frame: x right, y down, z forward (OpenCV); the camera looks along ego +x, pitched down.
 * - pixels: u to the right, v down; pixel (i, j) covers [i, i+1) x [j, j+1), so its centre is at
 *   (i + 0.5, j + 0.5). The principal point (cx, cy) is in the same continuous coordinates.
 */
import type { Camera, Vec3 } from './types.js';

/** Default image size of the reference camera (width x height). */
export const DEFAULT_IMAGE = { width: 192, height: 96 } as const;

/** Default horizontal field of view of the reference camera, radians (64 degrees). */
export const DEFAULT_HFOV = (64 * Math.PI) / 180;

/** Default mount: 1.5 m ahead of the rear axle, 1.4 m up, pitched 2 degrees down. */
export const DEFAULT_MOUNT: Readonly<{ position: Vec3; pitch: number }> = {
  position: { x: 1.5, y: 0, z: 1.4 },
  pitch: (2 * Math.PI) / 180,
};

/**
 * The reference forward camera for an image of `width` x `height` pixels: square pixels, principal
 * point at the image centre, horizontal field of view DEFAULT_HFOV, mounted per DEFAULT_MOUNT.
 */
export function defaultCamera(
  width: number = DEFAULT_IMAGE.width,
  height: number = DEFAULT_IMAGE.height,
): Camera {
  const fx = width / 2 / Math.tan(DEFAULT_HFOV / 2);
  return {
    width,
    height,
    fx,
    fy: fx,
    cx: width / 2,
    cy: height / 2,
    position: { ...DEFAULT_MOUNT.position },
    pitch: DEFAULT_MOUNT.pitch,
  };
}

/** Horizontal and vertical field of view of a camera, radians. */
export function fieldOfView(cam: Camera): { horizontal: number; vertical: number } {
  return {
    horizontal: 2 * Math.atan(cam.width / 2 / cam.fx),
    vertical: 2 * Math.atan(cam.height / 2 / cam.fy),
  };
}

/** A point in the ego frame -> the camera frame (x right, y down, z forward). */
export function egoToCamera(cam: Camera, p: Vec3): Vec3 {
  const s = Math.sin(cam.pitch);
  const c = Math.cos(cam.pitch);
  const dx = p.x - cam.position.x;
  const dy = p.y - cam.position.y;
  const dz = p.z - cam.position.z;
  return { x: -dy, y: -s * dx - c * dz, z: c * dx - s * dz };
}

/** A point in the camera frame -> the ego frame (inverse of egoToCamera). */
export function cameraToEgo(cam: Camera, p: Vec3): Vec3 {
  const s = Math.sin(cam.pitch);
  const c = Math.cos(cam.pitch);
  return {
    x: cam.position.x - s * p.y + c * p.z,
    y: cam.position.y - p.x,
    z: cam.position.z - c * p.y - s * p.z,
  };
}

/** A camera-frame point -> pixel coordinates (continuous), or null when it is not in front (z <= 1e-6). */
export function cameraToPixel(cam: Camera, p: Vec3): { u: number; v: number } | null {
  if (p.z <= 1e-6) return null;
  return { u: cam.cx + (cam.fx * p.x) / p.z, v: cam.cy + (cam.fy * p.y) / p.z };
}

/**
 * An ego-frame point -> pixel coordinates (continuous) and its depth (camera z, metres), or null
 * when the point is behind the camera. The pixel may lie outside the image.
 */
export function projectEgoPoint(cam: Camera, p: Vec3): { u: number; v: number; depth: number } | null {
  const c = egoToCamera(cam, p);
  const px = cameraToPixel(cam, c);
  return px === null ? null : { u: px.u, v: px.v, depth: c.z };
}

/** The viewing ray through pixel (u, v) as a direction in the ego frame (not normalised; camera z = 1). */
export function pixelRayEgo(cam: Camera, u: number, v: number): Vec3 {
  const xn = (u - cam.cx) / cam.fx;
  const yn = (v - cam.cy) / cam.fy;
  const s = Math.sin(cam.pitch);
  const c = Math.cos(cam.pitch);
  return { x: -s * yn + c, y: -xn, z: -c * yn - s };
}

/**
 * Where the ray through pixel (u, v) meets the ground plane z = 0, in the ego frame; null when the
 * pixel is at or above the horizon (or the hit is beyond `maxRange` metres from the camera).
 */
export function groundPointFromPixel(cam: Camera, u: number, v: number, maxRange = 1e4): Vec3 | null {
  const d = pixelRayEgo(cam, u, v);
  if (d.z >= -1e-9) return null;
  const t = -cam.position.z / d.z;
  const p = { x: cam.position.x + t * d.x, y: cam.position.y + t * d.y, z: 0 };
  const range = t * Math.hypot(d.x, d.y, d.z);
  return range > maxRange ? null : p;
}

/**
 * Longitudinal distance (ego x, metres) from the camera to the ground point seen at pixel (u, v):
 * for a detection, pass the bottom-centre of its box to get how far ahead the object stands.
 * Returns null at or above the horizon.
 */
export function groundDistanceFromPixel(cam: Camera, u: number, v: number): number | null {
  const p = groundPointFromPixel(cam, u, v);
  return p === null ? null : p.x - cam.position.x;
}

/**
 * The image row (continuous v) where a ground point at longitudinal distance `ahead` metres from the
 * camera (straight ahead) appears; the inverse of groundDistanceFromPixel along the image centre.
 */
export function rowOfGroundDistance(cam: Camera, ahead: number): number {
  const px = projectEgoPoint(cam, { x: cam.position.x + ahead, y: cam.position.y, z: 0 });
  return px === null ? Number.NaN : px.v;
}

/** The image row (continuous v) of the horizon (points at infinity on the ground plane). */
export function horizonRow(cam: Camera): number {
  return cam.cy - cam.fy * Math.tan(cam.pitch);
}

/**
 * The 8 corners of an actor-style box (bottom-centre `position`, `size`, `yaw`) in the ego frame.
 * Order: bottom face (front-left, front-right, rear-right, rear-left), then the top face in the same order.
 */
export function boxCorners(
  position: Vec3,
  size: { length: number; width: number; height: number },
  yaw: number,
): Vec3[] {
  const c = Math.cos(yaw);
  const s = Math.sin(yaw);
  const hl = size.length / 2;
  const hw = size.width / 2;
  const out: Vec3[] = [];
  for (const z of [0, size.height]) {
    for (const [a, b] of [
      [hl, hw],
      [hl, -hw],
      [-hl, -hw],
      [-hl, hw],
    ] as const) {
      out.push({ x: position.x + c * a - s * b, y: position.y + s * a + c * b, z: position.z + z });
    }
  }
  return out;
}
