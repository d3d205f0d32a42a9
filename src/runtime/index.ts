/**
 * runtime: running detection models. Inference configs (schema, loading, `resolveModel`), image
 * pre-processing, onnxruntime sessions in-process (`LocalSession`) or in worker threads
 * (`SessionPool`), output decoding with thresholds and NMS, the `Detector` that ties them together,
 * and `runDetect`, the dataset-level detection behind `drivegate detect`. See docs/runtime.md.
 */
export * from './config.js';
export * from './decode.js';
export * from './detect.js';
export * from './detector.js';
export type { ModelIO, SessionOptions, TensorInfo } from './ort.js';
export * from './pool.js';
export * from './preprocess.js';
export * from './resolve.js';
export * from './session.js';
export * from './tensor.js';
