import type * as tf from '@tensorflow/tfjs';
import type { Batch } from '../data/arrow_batches.ts';
import type { TrainingOptimizer } from '../optim/optimizers.ts';

export interface StepResult {
  /** Mean loss over the batch's rows. */
  loss: number;
  /** Rows whose most probable class is the label. */
  hits: number;
}

/**
 * Where a model trains and infers: TensorFlow.js (autodiff over its kernels) or ONNX Runtime
 * (one graph per step). The TensorFlow.js model and `optimizer` stay the record of the weights
 * and the optimizer state for evaluation on tfjs, checkpoints, best weights and saving: `flush`
 * writes the engine's state into them, `load` takes it back after they changed.
 */
export interface TrainingEngine {
  /** As recorded in manifests: 'onnx-cpu', 'wasm', 'cpu'... */
  readonly name: string;
  /** How it runs, for the training log line. */
  readonly summary: string;
  readonly optimizer: TrainingOptimizer;
  /** Optimizer steps taken so far. */
  readonly iterations: number;
  /** One optimizer step at learning rate `lr`; a non-finite loss leaves the weights as they were. */
  step(batch: Batch, lr: number, dropoutSeedParts: Array<string | number>): Promise<StepResult>;
  /** Class probabilities of `n` rows, [n, classes] row-major, in inference mode. */
  predict(x: tf.Tensor, n: number): Promise<Float32Array>;
  flush(): void;
  load(): void;
  dispose(): void;
}

/** Kernels get decoupled weight decay; biases and batch-norm parameters do not. */
export const DECAYED_WEIGHT = /(^|\/)(depthwise_)?kernel$/;
