import type { OptimizerName } from '../config.ts';
import { arrayUpdateFor } from './fused_updates.ts';
import type { StepInfo } from './optimizers.ts';

/** One range of a weight array; every array shares memory with the caller's (SharedArrayBuffer views). */
export interface RangeUpdateTask {
  optimizer: OptimizerName;
  weightDecay: number;
  w: Float32Array;
  g: Float32Array;
  slots: Float32Array[];
  step: StepInfo;
}

/** The same rule as the calling thread runs on its own range, so the split changes no result. */
export default function updateRange({ optimizer, weightDecay, w, g, slots, step }: RangeUpdateTask): void {
  arrayUpdateFor(optimizer, weightDecay)(w, g, slots, step);
}
