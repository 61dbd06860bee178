import { createPool, type Piscina } from '@flowers/core';
import type { OptimizerName } from '../config.ts';
import { arrayUpdateFor } from './fused_updates.ts';
import type { StepInfo } from './optimizers.ts';
import type { RangeUpdateTask } from './parallel_update_worker.ts';

/**
 * Arrays shorter than this update in the calling thread: below about 4 MB a worker's round trip
 * and the copies cost more than the half of the pass they save.
 */
export const SPLIT_MIN_LENGTH = 1 << 20;

export interface ParallelUpdate {
  /** The fused update of optim/fused_updates.ts, split over `threads` threads; bit-identical to one thread's. */
  update(w: Float32Array, g: Float32Array, slots: Float32Array[], step: StepInfo): Promise<void>;
  close(): Promise<void>;
}

/** A Float32Array over a SharedArrayBuffer holding `values`: the form a slot needs to be updated from several threads. */
export function sharedCopy(values: Float32Array): Float32Array {
  const copy = new Float32Array(new SharedArrayBuffer(values.byteLength));
  copy.set(values);
  return copy;
}

/**
 * The update of each weight array split into `threads` equal ranges: this thread runs the first,
 * worker threads the others. The rule is element-wise, so every element sees the same float
 * operations as in one pass. Slots must be shared (see sharedCopy). Weights and gradients stay in
 * plain ArrayBuffers, as ONNX Runtime's Node binding takes and returns no others, so the workers'
 * ranges are copied into shared scratch arrays and their new weights copied back.
 */
export function createParallelUpdate(optimizer: OptimizerName, weightDecay: number, threads: number): ParallelUpdate {
  const rule = arrayUpdateFor(optimizer, weightDecay);
  let pool: Piscina | undefined;
  let scratch: { w: Float32Array; g: Float32Array } = { w: new Float32Array(0), g: new Float32Array(0) };
  const scratchFor = (length: number): typeof scratch => {
    if (scratch.w.length < length) scratch = { w: sharedCopy(new Float32Array(length)), g: sharedCopy(new Float32Array(length)) };
    return scratch;
  };
  return {
    async update(w, g, slots, step) {
      if (threads < 2 || w.length < SPLIT_MIN_LENGTH) return rule(w, g, slots, step);
      if (!slots.every((slot) => slot.buffer instanceof SharedArrayBuffer)) throw new Error('a split update needs its slots in SharedArrayBuffers (sharedCopy)');
      pool ??= createPool(new URL('./parallel_update_worker.ts', import.meta.url), threads - 1);
      const size = Math.ceil(w.length / threads);
      const { w: sw, g: sg } = scratchFor(w.length - size);
      const ranges = Array.from({ length: threads - 1 }, (_, k) => [(k + 1) * size, Math.min((k + 2) * size, w.length)] as const).filter(([lo, hi]) => lo < hi);
      // Each range is posted as soon as its inputs are copied, so the first worker starts early.
      const done = ranges.map(([lo, hi]) => {
        sw.set(w.subarray(lo, hi), lo - size);
        sg.set(g.subarray(lo, hi), lo - size);
        const task: RangeUpdateTask = { optimizer, weightDecay, w: sw.subarray(lo - size, hi - size), g: sg.subarray(lo - size, hi - size), slots: slots.map((slot) => slot.subarray(lo, hi)), step };
        return pool!.run(task) as Promise<void>;
      });
      rule(w.subarray(0, size), g.subarray(0, size), slots.map((slot) => slot.subarray(0, size)), step);
      await Promise.all(done);
      w.set(sw.subarray(0, w.length - size), size);
    },
    async close() {
      await pool?.destroy();
    },
  };
}
