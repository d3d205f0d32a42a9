/**
 * The model under test in the loop: one onnxruntime session per process/thread (cached by model
 * and config path; intra-op threads 1 so that one worker = one core), a preallocated input
 * tensor, and decoding through src/runtime.
 */
import { ACTOR_CLASSES, type ActorClass } from '../../world/types.js';
import { decodeDetections } from '../../runtime/decode.js';
import { outputNames, type InferenceConfig } from '../../runtime/config.js';
import { preprocessInto, type ImageTransform, type RgbImage } from '../../runtime/preprocess.js';
import { checkModelIO, resolveModel } from '../../runtime/resolve.js';
import { LocalSession } from '../../runtime/session.js';
import { float32Tensor } from '../../runtime/tensor.js';
import type { TrackerDetection } from './perception.js';

/** A loaded detector for the simulation loop. */
export class LoopDetector {
  private readonly input: Float32Array;
  private readonly outputs: string[];
  private transforms: ImageTransform[] = [];
  private readonly labels: ActorClass[];
  /** Inference calls and images, for benchmarks. */
  calls = 0;
  images = 0;

  private constructor(
    readonly session: LocalSession,
    readonly config: InferenceConfig,
    readonly maxBatch: number,
  ) {
    this.input = new Float32Array(maxBatch * 3 * config.input.width * config.input.height);
    this.outputs = outputNames(config);
    const known = new Set<string>(ACTOR_CLASSES);
    this.labels = Object.entries(config.classes)
      .sort((a, b) => Number(a[0]) - Number(b[0]))
      .map(([, c]) => (known.has(c.name) ? (c.name as ActorClass) : 'unknown'));
  }

  /** Opens a model with its inference config (BAD_INPUT naming the file when either is wrong). */
  static async open(modelPath: string, configPath: string, maxBatch = 8): Promise<LoopDetector> {
    const resolved = resolveModel(modelPath, configPath);
    const session = await LocalSession.open(resolved.modelPath, { intraOpThreads: 1 });
    try {
      checkModelIO(session.io, resolved.config, resolved.modelPath);
    } catch (err) {
      await session.close();
      throw err;
    }
    return new LoopDetector(session, resolved.config, maxBatch);
  }

  /** Detects objects in up to `maxBatch` images with one inference call (scores >= `minScore`). */
  async detect(images: readonly RgbImage[], minScore: number): Promise<TrackerDetection[][]> {
    const cfg = this.config;
    const per = 3 * cfg.input.width * cfg.input.height;
    const n = images.length;
    if (n === 0) return [];
    if (n > this.maxBatch) throw new RangeError(`batch of ${n} > ${this.maxBatch}`);
    this.transforms.length = 0;
    for (let i = 0; i < n; i++) {
      const img = images[i]!;
      this.transforms.push(
        img.width === cfg.input.width &&
          img.height === cfg.input.height &&
          cfg.preprocess.resize.mode === 'resize'
          ? this.normalizeInto(img, i * per)
          : preprocessInto(img, cfg, this.input, i * per),
      );
    }
    const data = n === this.maxBatch ? this.input : this.input.subarray(0, n * per);
    const outputs = await this.session.run(
      { [cfg.input.name]: float32Tensor(data, [n, 3, cfg.input.height, cfg.input.width]) },
      this.outputs,
    );
    this.calls++;
    this.images += n;
    const decoded = decodeDetections(outputs, this.transforms, cfg, this.session.modelPath);
    return decoded.map((dets) =>
      dets
        .filter((d) => d.score >= minScore)
        .map((d) => ({ box: d.bbox, cls: this.labels[d.classIndex] ?? 'unknown', score: d.score })),
    );
  }

  /**
   * The identity-size case of preprocessInto (the camera renders at the model's input size): the
   * bilinear resize samples each pixel exactly, so only normalisation remains. Same values as
   * preprocessInto (same arithmetic), about 4x cheaper.
   */
  private normalizeInto(img: RgbImage, offset: number): ImageTransform {
    const cfg = this.config;
    const { scale, mean, std } = cfg.preprocess.normalize;
    const plane = img.width * img.height;
    const out = this.input;
    const src = img.data;
    for (let c = 0; c < 3; c++) {
      const a = scale / std[c]!;
      const b = -mean[c]! / std[c]!;
      const base = offset + c * plane;
      for (let p = 0, q = c; p < plane; p++, q += 3) out[base + p] = src[q]! * a + b;
    }
    return {
      width: img.width,
      height: img.height,
      scaleX: 1,
      scaleY: 1,
      padX: 0,
      padY: 0,
      resizedWidth: img.width,
      resizedHeight: img.height,
    };
  }

  /** Releases the session. */
  close(): Promise<void> {
    return this.session.close();
  }
}

const cache = new Map<string, Promise<LoopDetector>>();

/** The process's (thread's) detector for a model + config, opened once. */
export function loopDetector(modelPath: string, configPath: string): Promise<LoopDetector> {
  const key = `${modelPath}\u0000${configPath}`;
  let d = cache.get(key);
  if (d === undefined) {
    d = LoopDetector.open(modelPath, configPath);
    cache.set(key, d);
    d.catch(() => cache.delete(key));
  }
  return d;
}

/** Closes every cached detector of this process/thread (call before a worker exits). */
export async function closeLoopDetectors(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const d of all) {
    try {
      await (await d).close();
    } catch {
      // a detector that failed to open has nothing to close
    }
  }
}
