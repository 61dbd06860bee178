export { EXPERIMENTS, EXPERIMENT_NAMES, PIPELINE_DEFAULTS, type ExperimentPreset } from './presets.ts';
export { resolvePipelineSpec, shareFeatureExtraction, pipelineSteps, STAGE_NAMES, type PipelineSpec, type StageName, type OptionValues, type ResolveSpecOptions } from './spec.ts';
export { runExperiment, runStages, planExperiment, type ExperimentOutcome, type PipelineRunOptions } from './experiment.ts';
export { PIPELINE_STAGES } from './spec.ts';
export { queueExecutor, type QueueExecutorOptions } from './queue_executor.ts';
