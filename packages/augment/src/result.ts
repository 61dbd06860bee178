/** Reading the worker's wire result back in the parent. */
import type { AugmentResult, AugmentTask, AugmentWireResult } from './types.ts';

/**
 * Splits a worker answer into the plain image and its views, as zero-copy views of the
 * transferred buffer. The layout is fixed by the task, so the task that produced it is needed.
 */
export function decodeAugmentResult(wire: AugmentWireResult, task: AugmentTask): AugmentResult {
  if (!(wire instanceof Uint8Array)) return wire;
  const imageBytes = task.size * task.size * 3;
  const count = task.isTraining ? task.views : 0;
  if (wire.length !== imageBytes * (1 + count)) {
    throw new Error(`augment result for ${task.path} has ${wire.length} bytes, expected ${imageBytes * (1 + count)}`);
  }
  const image = (i: number): Uint8Array => wire.subarray(i * imageBytes, (i + 1) * imageBytes);
  return { ok: true, plain: image(0), views: Array.from({ length: count }, (_, v) => image(1 + v)) };
}
