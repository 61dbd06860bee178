import type { OptimizerName } from '../config.ts';
import { ADAM_BETA1, ADAM_BETA2, adamStepSize, EPSILON, RMSPROP_RHO, SGD_MOMENTUM, type StepInfo } from './optimizers.ts';

/**
 * The rules of optimizers.ts, each as one pass over plain arrays that updates weights and slots
 * in place: for engines whose weights live outside TensorFlow.js. One pass matters: a head's
 * 62,720 x 512 kernel is 128 MB, and a chain of element-wise kernels would stream it and its
 * slots several times per step. Each pass reads the rule's constants into locals first: reading the
 * imported bindings inside the loop made the pass ten times slower in a worker thread under tsx
 * (optim/parallel_update.ts). The locals hold the same doubles, so the results do not change.
 */
export type ArrayUpdate = (w: Float32Array, g: Float32Array, slots: Float32Array[], step: StepInfo) => void;

function rmsprop(w: Float32Array, g: Float32Array, [ms]: Float32Array[], { lr }: StepInfo): void {
  const s = ms!;
  const [rho, rest, epsilon] = [RMSPROP_RHO, 1 - RMSPROP_RHO, EPSILON];
  for (let i = 0; i < w.length; i++) {
    const gi = g[i]!;
    const mean = (s[i] = s[i]! * rho + gi * gi * rest);
    w[i] = w[i]! - (gi * lr) / (Math.sqrt(mean) + epsilon);
  }
}

function adam(weightDecay: number): ArrayUpdate {
  return (w, g, [m, v], { lr, t, decay }) => {
    const first = m!;
    const second = v!;
    const alpha = adamStepSize(lr, t);
    const keep = decay && weightDecay > 0 ? 1 - weightDecay * lr : 1;
    const [beta1, rest1, beta2, rest2, epsilon] = [ADAM_BETA1, 1 - ADAM_BETA1, ADAM_BETA2, 1 - ADAM_BETA2, EPSILON];
    for (let i = 0; i < w.length; i++) {
      const gi = g[i]!;
      const mi = (first[i] = first[i]! * beta1 + gi * rest1);
      const vi = (second[i] = second[i]! * beta2 + gi * gi * rest2);
      w[i] = w[i]! * keep - (mi * alpha) / (Math.sqrt(vi) + epsilon);
    }
  };
}

function sgd(w: Float32Array, g: Float32Array, [velocity]: Float32Array[], { lr }: StepInfo): void {
  const vel = velocity!;
  const momentum = SGD_MOMENTUM;
  for (let i = 0; i < w.length; i++) {
    const next = (vel[i] = vel[i]! * momentum - g[i]! * lr);
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
