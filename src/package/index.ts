/**
 * package: workflow #15, from a trained ONNX model and a recipe to a sealed, verified model pack:
 * recipe parsing, the runner steps (stage, graph checks, sanity smoke, Triton model repository and the
 * pipeline ensemble's generated preprocess/postprocess models,
 * equivalence, microbenchmark, seal), and pack verification. See docs/packaging.md.
 */
export * from './recipe.js';
export * from './triton.js';
export * from './pipeline.js';
export * from './pipeline-repo.js';
export * from './steps.js';
export * from './seal.js';
export * from './workflow.js';
export * from './run.js';
export * from './shard.js';
export * from './equivalence.js';
export * from './int8.js';
export * from './torch.js';
