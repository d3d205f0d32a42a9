/**
 * Benchmark of the reference camera renderer and LiDAR.
 *
 * Renders default-size frames (192x96) of varied states, as the closed-loop simulator would: episodes
 * of 25 consecutive frames of one of the six example scenes with 10-20 actors moving and the ego
 * driving on, and prints ms/frame (mean, p95)
 * against the 2 ms per-frame budget of the closed-loop simulator, and the ratio against a naive
 * renderer (per-pixel ray casting against the ground and every actor box, flat colours, no
 * scenery, lamps or weather) that does strictly less work per frame. Then LiDAR rays per second.
 * Run: node --import tsx bench/world-render.ts [frames]
 */
import { performance } from 'node:perf_hooks';
import { createRenderContext, renderCamera } from '../src/world/render/camera.js';
import { renderLidar, defaultLidar } from '../src/world/render/lidar.js';
import { actorAt, exampleScenes } from '../src/world/render/example-states.js';
import { laneCenterY } from '../src/world/render/road.js';
import type { Actor, WorldState } from '../src/world/types.js';

const FRAMES = Number(process.argv[2] ?? 500);
const BUDGET_MS = 2;

/** Deterministic varied states: example scenes with extra actors, moved and jittered per frame. */
function variedStates(n: number, width: number, height: number): WorldState[] {
  const scenes = exampleScenes(width, height);
  const kinds = ['sedan', 'suv', 'hatchback', 'van', 'box_truck', 'adult', 'bicycle'] as const;
  const EPISODE = 25; // frames per episode: 2.5 s at 10 Hz, as the simulator would step a scene
  const out: WorldState[] = [];
  for (let k = 0; k < n; k++) {
    const m = Math.floor(k / EPISODE);
    const t = k % EPISODE;
    const base = scenes[m % scenes.length]!.state;
    const extra = 4 + (m % 9);
    const actors: Actor[] = base.actors.map((a, i) => ({
      ...a,
      position: { ...a.position, x: a.position.x + (((m + i) % 3) - 1) + 0.15 * t * (i % 2 === 0 ? 1 : -1) },
    }));
    for (let e = 0; e < extra; e++) {
      const x = 12 + ((m * 7 + e * 23) % 90) - 0.4 * t;
      const lane = ((e + m) % 3) - 1;
      const y =
        laneCenterY(base.road, x) +
        lane * base.road.laneWidth +
        (e % 2 === 0 ? 0 : 5.5 * Math.sign(lane || 1));
      actors.push(
        actorAt(100 + e, kinds[(e + m) % kinds.length]!, x, y, {
          lightsOn: base.conditions.timeOfDay !== 'day',
        }),
      );
    }
    out.push({ ...base, actors, odometer: base.odometer + k * 1.2, renderSeed: k + 1, time: k * 0.1 });
  }
  return out;
}

/** The naive alternative: for every pixel, intersect its ray with the ground and every actor box. */
function naiveRender(st: WorldState, rgb: Uint8Array): void {
  const cam = st.camera;
  const s = Math.sin(cam.pitch);
  const c = Math.cos(cam.pitch);
  for (let j = 0; j < cam.height; j++) {
    for (let i = 0; i < cam.width; i++) {
      const xn = (i + 0.5 - cam.cx) / cam.fx;
      const yn = (j + 0.5 - cam.cy) / cam.fy;
      const dx = -s * yn + c;
      const dy = -xn;
      const dz = -c * yn - s;
      let best = Infinity;
      let col = 120;
      if (dz < 0) {
        best = cam.position.z / -dz;
        col = 80;
      }
      for (const a of st.actors) {
        const ca = Math.cos(a.yaw);
        const sa = Math.sin(a.yaw);
        const rx = cam.position.x - a.position.x;
        const ry = cam.position.y - a.position.y;
        const ox = ca * rx + sa * ry;
        const oy = -sa * rx + ca * ry;
        const ddx = ca * dx + sa * dy;
        const ddy = -sa * dx + ca * dy;
        let t0 = 0;
        let t1 = best;
        for (const [o, d, lo, hi] of [
          [ox, ddx, -a.size.length / 2, a.size.length / 2],
          [oy, ddy, -a.size.width / 2, a.size.width / 2],
          [cam.position.z - a.position.z, dz, 0, a.size.height],
        ] as const) {
          if (Math.abs(d) < 1e-12) {
            if (o < lo || o > hi) t0 = Infinity;
            continue;
          }
          let ta = (lo - o) / d;
          let tb = (hi - o) / d;
          if (ta > tb) [ta, tb] = [tb, ta];
          t0 = Math.max(t0, ta);
          t1 = Math.min(t1, tb);
        }
        if (t0 < t1 && t0 < best) {
          best = t0;
          col = a.color[0];
        }
      }
      const p = 3 * (j * cam.width + i);
      rgb[p] = col;
      rgb[p + 1] = col;
      rgb[p + 2] = col;
    }
  }
}

function stats(ms: number[]): { mean: number; p95: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  return { mean: ms.reduce((a, b) => a + b, 0) / ms.length, p95: sorted[Math.floor(sorted.length * 0.95)]! };
}

const states = variedStates(FRAMES, 192, 96);
const ctx = createRenderContext();
// As the closed-loop simulator calls it: one context, outputs reused (consumed before the next tick).
const simOptions = { reuseOutput: true };
// Warm-up (JIT tiers), in both output modes.
for (let k = 0; k < 600; k++) renderCamera(states[k % states.length]!, ctx, k % 2 === 0 ? simOptions : {});
// The two output modes alternate frame by frame, so that both see the same machine conditions;
// fresh output arrays (the default) allocate ~110 KB per frame and cause more garbage collection.
const times: number[] = [];
const freshTimes: number[] = [];
let checksum = 0;
let cpuReused = 0;
for (const st of states) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const f = renderCamera(st, ctx, simOptions);
  times.push(performance.now() - t0);
  const c1 = process.cpuUsage(c0);
  cpuReused += c1.user + c1.system;
  checksum = (checksum + f.rgb[1000]! + f.visibility.length) | 0;
  const t1 = performance.now();
  const g = renderCamera(st, ctx);
  freshTimes.push(performance.now() - t1);
  checksum = (checksum + g.rgb[2000]!) | 0;
}
const cpuMs = cpuReused / 1000 / states.length;
const cam = stats(times);
const fresh = stats(freshTimes);
const actorsPerFrame = states.reduce((n, s) => n + s.actors.length, 0) / states.length;

const naiveFrames = Math.min(100, FRAMES);
const buf = new Uint8Array(192 * 96 * 3);
for (let k = 0; k < 10; k++) naiveRender(states[k]!, buf);
const naiveTimes: number[] = [];
for (let k = 0; k < naiveFrames; k++) {
  const t0 = performance.now();
  naiveRender(states[k]!, buf);
  naiveTimes.push(performance.now() - t0);
}
const naive = stats(naiveTimes);

const lidarFrames = 20;
const cfg = defaultLidar();
const raysPerFrame = cfg.beams * Math.round(cfg.horizontalFov / cfg.horizontalResolution);
renderLidar(states[0]!, cfg);
const l0 = performance.now();
let points = 0;
for (let k = 0; k < lidarFrames; k++) points += renderLidar(states[k]!, cfg).length;
const lidarMs = (performance.now() - l0) / lidarFrames;

const lines = [
  `camera 192x96, ${FRAMES} frames, ${actorsPerFrame.toFixed(1)} actors/frame (+ scenery, lamps, weather), reused context and outputs:`,
  `  ms/frame mean ${cam.mean.toFixed(3)}  p95 ${cam.p95.toFixed(3)}  (budget ${BUDGET_MS} ms: ${(BUDGET_MS / cam.mean).toFixed(1)}x headroom on the mean, p95 ${cam.p95 <= BUDGET_MS ? 'within' : 'OVER'} budget)`,
  `  with fresh output arrays per frame (default): mean ${fresh.mean.toFixed(3)}  p95 ${fresh.p95.toFixed(3)}`,
  `  process CPU time (reused outputs) ${cpuMs.toFixed(3)} ms/frame (wall-clock figures include time the OS gave to other processes; compare them on an idle machine)`,
  `  naive per-pixel ray casting (ground + actor boxes, flat colour): mean ${naive.mean.toFixed(3)} ms/frame over ${naiveFrames} frames`,
  `  ratio naive / rasterizer: ${(naive.mean / cam.mean).toFixed(1)}x`,
  `lidar ${cfg.beams} beams x ${Math.round(cfg.horizontalFov / cfg.horizontalResolution)} azimuths = ${raysPerFrame} rays/frame: ${lidarMs.toFixed(2)} ms/frame, ${(((raysPerFrame / lidarMs) * 1000) / 1e6).toFixed(2)} M rays/s, ${(points / lidarFrames).toFixed(0)} points/frame`,
  `(checksum ${checksum})`,
];
process.stdout.write(lines.join('\n') + '\n');
