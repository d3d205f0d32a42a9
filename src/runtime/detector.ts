/**
 * Detector: a model + its inference config + a runner (in-process session or worker pool), turning
 * RGB images into detections in original image pixels: preprocess -> batched inference -> decode,
 * thresholds and NMS.
 */
import { decodeDetections, type Detection } from './decode.js';
import { SessionPool } from './pool.js';
import { preprocessBatch, type RgbImage } from './preprocess.js';
import { checkModelIO, type ResolvedModel } from './resolve.js';
import { LocalSession, type Runner } from './session.js';
import { outputNames, type InferenceConfig } from './config.js';

/** Options of a Detector. */
export interface DetectorOptions {
  /** Worker threads; 0 runs onnxruntime in the calling thread (default 0). */
  workers?: number;
  /** onnxruntime intra-op threads per session. */
  intraOpThreads?: number;
}

/** Runs a detection model on RGB images. */
export class Detector {
  private constructor(
    readonly model: ResolvedModel,
    readonly runner: Runner,
  ) {}

  /**
   * Opens the model (in-process, or in a pool of `workers` threads) and checks it against its
   * config; BAD_INPUT naming the model file when it is corrupt or its inputs/outputs do not match.
   */
  static async open(model: ResolvedModel, options: DetectorOptions = {}): Promise<Detector> {
    const threads = options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {};
    const runner: Runner =
      (options.workers ?? 0) > 0
        ? await SessionPool.open(model.modelPath, { workers: options.workers, ...threads })
        : await LocalSession.open(model.modelPath, threads);
    try {
      checkModelIO(runner.io, model.config, model.modelPath);
    } catch (err) {
      await runner.close();
      throw err;
    }
    return new Detector(model, runner);
  }

  /** The inference config. */
  get config(): InferenceConfig {
    return this.model.config;
  }

  /** Detects objects in a batch of images (one inference call); one list of detections per image. */
  async detect(images: readonly RgbImage[]): Promise<Detection[][]> {
    if (images.length === 0) return [];
    const cfg = this.model.config;
    const { tensor, transforms } = preprocessBatch(images, cfg);
    const outputs = await this.runner.run({ [cfg.input.name]: tensor }, outputNames(cfg));
    return decodeDetections(outputs, transforms, cfg, this.model.modelPath);
  }

  /** Releases the session or stops the workers. */
  close(): Promise<void> {
    return this.runner.close();
  }
}
