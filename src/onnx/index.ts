/**
 * onnx: reading ONNX models without Python: a small protobuf reader for the ModelProto fields graph
 * checks need (IR version, opset imports, nodes, graph I/O) and operator coverage against runtime
 * support tables (onnxruntime CPU, TensorRT 8.6), FP16 emulation, an editable graph, a builder for
 * small generated models, and static INT8 quantization to QDQ with calibrators, sensitivity fallback
 * and a TensorRT calibration cache. See docs/packaging.md and docs/int8.md.
 */
export * from './proto.js';
export * from './coverage.js';
export * from './fp16.js';
export * from './graph.js';
export * from './build.js';
export * from './calibrate.js';
export * from './quantize-graph.js';
export * from './quantize.js';
export * from './trt-cache.js';
