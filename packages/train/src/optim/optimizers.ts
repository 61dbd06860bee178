import * as tf from '@tensorflow/tfjs';
import type { OptimizerName } from '../config.ts';

/**
 * Keras' optimizers, written out rather than taken from tfjs so that the learning rate can change
 * every step, weight decay can be decoupled, and the whole state (step count and slot tensors)
 * round-trips through a checkpoint exactly: a resumed run continues bit for bit.
 */
export interface TrainingOptimizer {
  readonly name: OptimizerName;
  /** Used by the next `applyGradients`; the schedule sets it before every step. */
  learningRate: number;
  /** Steps taken so far. */
  readonly iterations: number;
  /** One update of `variables` (the list given at creation) with gradients in the same order; a missing gradient leaves its variable alone. */
  applyGradients(gradients: ReadonlyArray<tf.Tensor | undefined>): void;
  /** Slot tensors (owned by the optimizer) in a fixed order, for checkpoints. */
  slots(): tf.Tensor[];
  /** Restores a checkpointed state; `slots` are copied. */
  restore(iterations: number, slots: readonly tf.Tensor[]): void;
  dispose(): void;
}

export interface TrainableVariable {
  variable: tf.Variable;
  /** Whether decoupled weight decay applies (kernels, not biases or batch-norm parameters). */
  decay: boolean;
}

export interface OptimizerOptions {
  optimizer: OptimizerName;
  lr: number;
  weightDecay: number;
}

export const RMSPROP_RHO = 0.9;
export const ADAM_BETA1 = 0.9;
export const ADAM_BETA2 = 0.999;
export const SGD_MOMENTUM = 0.9;
/** Keras' epsilon for RMSprop and Adam. */
export const EPSILON = 1e-7;

export interface StepInfo {
  lr: number;
  /** 1 on the first step. */
  t: number;
  decay: boolean;
}
type UpdateRule = (variable: tf.Variable, gradient: tf.Tensor, slots: tf.Variable[], step: StepInfo) => void;

/** Slots per variable of each optimizer (the state a checkpoint holds beside the weights). */
export const SLOT_COUNTS: Readonly<Record<OptimizerName, number>> = { rmsprop: 1, adam: 2, adamw: 2, sgd: 1 };

/** Adam's step size with its bias corrections, for step t (1 on the first). */
export const adamStepSize = (lr: number, t: number): number => (lr * Math.sqrt(1 - ADAM_BETA2 ** t)) / (1 - ADAM_BETA1 ** t);

/** The slots each variable needs and the update rule, as Keras defines them. */
function ruleFor(optimizer: OptimizerName, weightDecay: number): { slotCount: number; update: UpdateRule } {
  switch (optimizer) {
    // ms = rho ms + (1 - rho) g^2;  w -= lr g / (sqrt(ms) + eps)
    case 'rmsprop':
      return {
        slotCount: SLOT_COUNTS.rmsprop,
        update: (w, g, [ms], { lr }) => {
          const meanSquare = tf.add(tf.mul(ms!, RMSPROP_RHO), tf.mul(tf.square(g), 1 - RMSPROP_RHO));
          ms!.assign(meanSquare);
          w.assign(tf.sub(w, tf.div(tf.mul(g, lr), tf.add(tf.sqrt(meanSquare), EPSILON))));
        },
      };
    case 'adam':
      return { slotCount: SLOT_COUNTS.adam, update: (w, g, slots, step) => adamUpdate(w, g, slots, step, 0) };
    case 'adamw':
      return { slotCount: SLOT_COUNTS.adamw, update: (w, g, slots, step) => adamUpdate(w, g, slots, step, weightDecay) };
    // v = momentum v - lr g;  w += v
    case 'sgd':
      return {
        slotCount: SLOT_COUNTS.sgd,
        update: (w, g, [velocity], { lr }) => {
          const next = tf.sub(tf.mul(velocity!, SGD_MOMENTUM), tf.mul(g, lr));
          velocity!.assign(next);
          w.assign(tf.add(w, next));
        },
      };
  }
}

// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  w -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps),
// after the decoupled decay w -= w wd lr on kernels (Keras AdamW; weightDecay 0 is plain Adam).
function adamUpdate(w: tf.Variable, g: tf.Tensor, [m, v]: tf.Variable[], { lr, t, decay }: StepInfo, weightDecay: number): void {
  const first = tf.add(tf.mul(m!, ADAM_BETA1), tf.mul(g, 1 - ADAM_BETA1));
  const second = tf.add(tf.mul(v!, ADAM_BETA2), tf.mul(tf.square(g), 1 - ADAM_BETA2));
  m!.assign(first);
  v!.assign(second);
  const alpha = adamStepSize(lr, t);
  const decayed = decay && weightDecay > 0 ? tf.sub(w, tf.mul(w, weightDecay * lr)) : w;
  w.assign(tf.sub(decayed, tf.div(tf.mul(first, alpha), tf.add(tf.sqrt(second), EPSILON))));
}

export function createOptimizer({ optimizer, lr, weightDecay }: OptimizerOptions, variables: readonly TrainableVariable[]): TrainingOptimizer {
  const rule = ruleFor(optimizer, weightDecay);
  const zeroSlots = (): tf.Variable[][] =>
    variables.map(({ variable }) => Array.from({ length: rule.slotCount }, () => tf.tidy(() => tf.zerosLike(variable).variable(false))));
  let slotVariables = zeroSlots();
  let iterations = 0;
  return {
    name: optimizer,
    learningRate: lr,
    get iterations() {
      return iterations;
    },
    applyGradients(gradients) {
      const step = { lr: this.learningRate, t: iterations + 1 };
      tf.tidy(() => {
        variables.forEach(({ variable, decay }, i) => {
          const gradient = gradients[i];
          if (gradient) rule.update(variable, gradient, slotVariables[i]!, { ...step, decay });
        });
      });
      iterations += 1;
    },
    slots: () => slotVariables.flat(),
    restore(savedIterations, slots) {
      const expected = variables.length * rule.slotCount;
      if (slots.length !== expected) throw new Error(`optimizer state has ${slots.length} slot tensors, expected ${expected} for ${optimizer}`);
      tf.dispose(slotVariables.flat());
      slotVariables = variables.map((_, i) => slots.slice(i * rule.slotCount, (i + 1) * rule.slotCount).map((slot) => tf.variable(slot, false)));
      iterations = savedIterations;
    },
    dispose() {
      tf.dispose(slotVariables.flat());
    },
  };
}
