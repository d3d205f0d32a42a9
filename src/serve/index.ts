/**
 * serve: the v2 inference server. Triton-layout model repositories (config.pbtxt reader/writer,
 * version policies), the KServe v2 / Open Inference Protocol over HTTP/REST with Triton's binary
 * tensor extension, per-version schedulers with dynamic batching over worker-thread session pools,
 * ensembles (steps on their composing models' schedulers),
 * Prometheus metrics with Triton's names, the contract smoke the packaging workflow runs, and the
 * perf_analyzer-style load generator behind `drivegate bench serve`. See docs/serving.md.
 */
export * from './pbtxt.js';
export * from './model-config.js';
export * from './repository.js';
export * from './tensors.js';
export * from './metrics.js';
export * from './scheduler.js';
export * from './models.js';
export * from './ensemble.js';
export * from './server.js';
export * from './client.js';
export * from './contract.js';
export * from './bench.js';
