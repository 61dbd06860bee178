import type { OptimizerName } from '../config.ts';
import { ADAM_BETA1, ADAM_BETA2, adamStepSize, EPSILON, RMSPROP_RHO, SGD_MOMENTUM, type StepInfo } from './optimizers.ts';

/**
 * The rules of optimizers.ts, each as one pass over plain arrays that updates weights and slots
 * in place: for engines whose weights live outside TensorFlow.js. One pass matters: a head's
 * 62,720 x 512 kernel is 128 MB, and a chain of element-wise kernels would stream it and its
 * slots several times per step.
 */
export type ArrayUpdate = (w: Float32Array, g: Float32Array, slots: Float32Array[], step: StepInfo) => void;

function rmsprop(w: Float32Array, g: Float32Array, [ms]: Float32Array[], { lr }: StepInfo): void {
  const s = ms!;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i]!;
    const mean = (s[i] = s[i]! * RMSPROP_RHO + gi * gi * (1 - RMSPROP_RHO));
    w[i] = w[i]! - (gi * lr) / (Math.sqrt(mean) + EPSILON);
  }
}

function adam(weightDecay: number): ArrayUpdate {
  return (w, g, [m, v], { lr, t, decay }) => {
    const first = m!;
    const second = v!;
    const alpha = adamStepSize(lr, t);
    const keep = decay && weightDecay > 0 ? 1 - weightDecay * lr : 1;
    for (let i = 0; i < w.length; i++) {
      const gi = g[i]!;
      const mi = (first[i] = first[i]! * ADAM_BETA1 + gi * (1 - ADAM_BETA1));
      const vi = (second[i] = second[i]! * ADAM_BETA2 + gi * gi * (1 - ADAM_BETA2));
      w[i] = w[i]! * keep - (mi * alpha) / (Math.sqrt(vi) + EPSILON);
    }
  };
}

function sgd(w: Float32Array, g: Float32Array, [velocity]: Float32Array[], { lr }: StepInfo): void {
  const vel = velocity!;
  for (let i = 0; i < w.length; i++) {
    const next = (vel[i] = vel[i]! * SGD_MOMENTUM - g[i]! * lr);
    w[i] = w[i]! + next;
  }
}

export function arrayUpdateFor(optimizer: OptimizerName, weightDecay: number): ArrayUpdate {
  switch (optimizer) {
    case 'rmsprop':
      return rmsprop;
    case 'adam':
      return adam(0);
    case 'adamw':
      return adam(weightDecay);
    case 'sgd':
      return sgd;
  }
}
