import { availableParallelism } from 'node:os';
import type * as tf from '@tensorflow/tfjs';
import type { Logger } from '@flowers/core';
import type { SelectedBackend } from '@flowers/core/tf';
import { UnsupportedForOnnx } from '../onnx/layers/index.ts';
import type { TrainConfig } from '../config.ts';
import type { TrainingEngine } from './engine.ts';
import { createOnnxEngine } from './onnx_engine.ts';
import { createTfjsEngine } from './tfjs_engine.ts';

export type { StepResult, TrainingEngine } from './engine.ts';
export { createTfjsEngine } from './tfjs_engine.ts';

/**
 * Whether a config trains on ONNX Runtime when it is the selected engine. The training graph has
 * a writer for every layer of every model a config builds (fine-tuning's base tops included), so
 * all do; a model with another layer is refused by createTrainingEngine, naming it.
 */
export function trainsOnOnnx(_config: TrainConfig, backend: SelectedBackend): boolean {
  return backend.onnx !== undefined;
}

/** The name of the engine `config` trains on under `backend` (for keys, before any model exists). */
export function trainingEngineName(config: TrainConfig, backend: SelectedBackend): string {
  return trainsOnOnnx(config, backend) ? backend.name : backend.tfjs;
}

export interface TrainingEngineOptions {
  backend: SelectedBackend;
  /** ONNX Runtime threads (default: one per core). */
  threads?: number;
  labelCounts: Int32Array;
  activationBudgetBytes?: number;
  log: Logger;
}

/** The engine `trainingEngineName` names, for `model`. */
export async function createTrainingEngine(model: tf.LayersModel, config: TrainConfig, options: TrainingEngineOptions): Promise<TrainingEngine> {
  const { backend, labelCounts } = options;
  if (trainsOnOnnx(config, backend)) {
    try {
      return await createOnnxEngine(model, config, { runtime: backend.onnx!, threads: options.threads ?? availableParallelism(), labelCounts });
    } catch (error) {
      if (!(error instanceof UnsupportedForOnnx)) throw error;
      throw new UnsupportedForOnnx(`--backend onnx cannot train model ${model.name}: ${error.message}; use --backend wasm`);
    }
  }
  return createTfjsEngine(model, config, { labelCounts, ...(options.activationBudgetBytes === undefined ? {} : { activationBudgetBytes: options.activationBudgetBytes }) });
}
