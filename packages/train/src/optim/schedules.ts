import type { ScheduleName } from '../config.ts';

export interface ScheduleOptions {
  schedule: ScheduleName;
  /** Peak learning rate. */
  lr: number;
  totalSteps: number;
  /** Linear warm-up steps (constant, cosine) or the rising phase (onecycle; 30% of the run when 0). */
  warmupSteps: number;
}

/** One-cycle: starts at lr / 25, ends at lr / 25 / 1e4 (PyTorch OneCycleLR defaults). */
const ONECYCLE_START_DIVISOR = 25;
const ONECYCLE_END_DIVISOR = 25 * 1e4;
const ONECYCLE_DEFAULT_RISE = 0.3;

/** Cosine interpolation from `from` (t = 0) to `to` (t = 1). */
function cosineBetween(from: number, to: number, t: number): number {
  return to + ((from - to) * (1 + Math.cos(Math.PI * Math.min(1, Math.max(0, t))))) / 2;
}

/** The learning rate for optimizer step `step` (counting from 0 over the whole run). */
export function learningRateAt(step: number, { schedule, lr, totalSteps, warmupSteps }: ScheduleOptions): number {
  if (schedule === 'onecycle') {
    const rise = Math.max(1, warmupSteps > 0 ? warmupSteps : Math.round(ONECYCLE_DEFAULT_RISE * totalSteps));
    if (step < rise) return cosineBetween(lr / ONECYCLE_START_DIVISOR, lr, step / rise);
    return cosineBetween(lr, lr / ONECYCLE_END_DIVISOR, (step - rise) / Math.max(1, totalSteps - rise));
  }
  if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
  if (schedule === 'constant') return lr;
  return cosineBetween(lr, 0, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
}
