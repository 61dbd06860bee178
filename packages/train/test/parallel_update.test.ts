import { afterAll, describe, expect, it } from 'vitest';
import { createRandom } from '@flowers/core';
import { OPTIMIZER_NAMES } from '../src/config.ts';
import { arrayUpdateFor } from '../src/optim/fused_updates.ts';
import { SLOT_COUNTS } from '../src/optim/optimizers.ts';
import { createParallelUpdate, sharedCopy, SPLIT_MIN_LENGTH, type ParallelUpdate } from '../src/optim/parallel_update.ts';

/** Long enough to be split, and not a multiple of the thread counts, so the last range is shorter. */
const LENGTH = 2 * SPLIT_MIN_LENGTH + 7;
const WEIGHT_DECAY = 0.01;

/** Values in [-1, 1), or in (0, 1] for second moments, which are never negative. */
function randomArray(seed: string, positive: boolean): Float32Array {
  const random = createRandom('parallel_update', seed);
  return Float32Array.from({ length: LENGTH }, () => (positive ? 1 - random.next() : 2 * random.next() - 1));
}

/** Byte-wise equality (a deep toEqual over millions of elements takes minutes). */
const sameBits = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const updaters: ParallelUpdate[] = [];
afterAll(async () => Promise.all(updaters.map((updater) => updater.close())));

describe('createParallelUpdate', () => {
  for (const optimizer of OPTIMIZER_NAMES) {
    for (const threads of [2, 3]) {
      it(`gives ${optimizer}'s one-thread weights and slots bit for bit on ${threads} threads`, async () => {
        const w = randomArray('w', false);
        const slots = Array.from({ length: SLOT_COUNTS[optimizer] }, (_, k) => randomArray(`slot${k}`, k === 1));
        const single = { w: w.slice(), slots: slots.map((slot) => slot.slice()) };
        const split = { w: w.slice(), slots: slots.map(sharedCopy) };
        const rule = arrayUpdateFor(optimizer, WEIGHT_DECAY);
        const updater = createParallelUpdate(optimizer, WEIGHT_DECAY, threads);
        updaters.push(updater);
        for (const t of [1, 2, 3]) {
          const g = randomArray(`g${t}`, false);
          const step = { lr: 1e-3 * t, t, decay: true };
          rule(single.w, g, single.slots, step);
          await updater.update(split.w, g, split.slots, step);
        }
        expect(sameBits(split.w, single.w)).toBe(true);
        split.slots.forEach((slot, k) => expect(sameBits(slot, single.slots[k]!)).toBe(true));
        expect(sameBits(split.w, w)).toBe(false);
      });
    }
  }

  it('refuses slots that worker threads cannot write', async () => {
    const updater = createParallelUpdate('sgd', 0, 2);
    updaters.push(updater);
    const w = randomArray('w', false);
    await expect(updater.update(w, w.slice(), [new Float32Array(LENGTH)], { lr: 1, t: 1, decay: false })).rejects.toThrow(/SharedArrayBuffer/);
  });
});
