export {
  TRAIN_DEFAULTS,
  HEAD_KINDS,
  INPUT_KINDS,
  OPTIMIZER_NAMES,
  SCHEDULE_NAMES,
  resolveTrainConfig,
  type HeadKind,
  type InputKind,
  type OptimizerName,
  type ScheduleName,
  type TrainConfig,
} from './config.ts';
export { buildClassifier, minInputSize, type ClassifierInput } from './models/index.ts';
export { ArrowBatchSource, type ArrowBatchSourceOptions, type Batch, type BatchIdentity, type EpochViews } from './data/arrow_batches.ts';
export { trainClassifier, type TrainClassifierOptions, type TrainClassifierResult } from './loop.ts';
export { fingerprintChanges, readCheckpointState } from './checkpoint.ts';
export { predictProbabilities, accuracyOf } from './predict.ts';
export {
  produceTrain,
  CHECKPOINT_DIR,
  MODEL_DIR,
  PIPELINE_MODEL_FILE,
  type ProduceTrainOptions,
  type ProduceTrainResult,
} from './stage.ts';
export { registerTrainingKernels } from './kernels/index.ts';
export { createTrainingEngine, createTfjsEngine, trainingEngineName, trainsOnOnnx, type TrainingEngine, type StepResult } from './engines/index.ts';
export { buildTrainingGraphs, type TrainingGraphs } from './onnx/step_graph.ts';
export { trainStage, type TrainStepParams } from './definition.ts';
