/**
 * onnx: reading ONNX models without Python: a small protobuf reader for the ModelProto fields graph
 * checks need (IR version, opset imports, nodes, graph I/O) and operator coverage against runtime
 * support tables (onnxruntime CPU, TensorRT 8.6). See docs/packaging.md.
 */
export * from './proto.js';
export * from './coverage.js';
export * from './fp16.js';
