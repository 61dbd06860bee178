import { describe, it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { activationBytesPerRow, applyInMicroBatches, microBatchRanges } from '../src/micro_batches.ts';

await tf.setBackend('cpu');

describe('microBatchRanges', () => {
  it('keeps a batch whole when it fits', () => {
    expect(microBatchRanges(128, 1000, 128 * 1000)).toEqual([{ start: 0, size: 128 }]);
  });

  it('splits into the fewest micro-batches within the budget, even in size, covering every row once', () => {
    // 10 rows fit: 128 rows need 13 micro-batches of 9 or 10 rows.
    const ranges = microBatchRanges(128, 1000, 10 * 1000 + 999);
    expect(ranges).toHaveLength(13);
    let next = 0;
    for (const { start, size } of ranges) {
      expect(start).toBe(next);
      expect(size).toBeGreaterThanOrEqual(9);
      expect(size).toBeLessThanOrEqual(10);
      next = start + size;
    }
    expect(next).toBe(128);
  });

  it('runs one row at a time when not even one row fits', () => {
    expect(microBatchRanges(3, 5000, 1000)).toEqual([{ start: 0, size: 1 }, { start: 1, size: 1 }, { start: 2, size: 1 }]);
  });
});

describe('activationBytesPerRow', () => {
  it('adds up every layer output of one row as float32, nested models included', () => {
    const inner = tf.sequential({ layers: [tf.layers.dense({ units: 7, inputShape: [10] }), tf.layers.dense({ units: 3 })] });
    const outer = tf.sequential({ layers: [tf.layers.reshape({ targetShape: [10], inputShape: [2, 5] }), inner, tf.layers.dense({ units: 2 })] });
    // reshape 10, dense 7, dense 3, dense 2 values per row.
    expect(activationBytesPerRow(outer)).toBe((10 + 7 + 3 + 2) * 4);
  });
});

describe('applyInMicroBatches', () => {
  it('gives the whole batch output, in row order, when split', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [3], activation: 'tanh' }), tf.layers.dense({ units: 2, activation: 'softmax' })] });
    const x = tf.randomNormal([11, 3], 0, 1, 'float32', 7);
    const whole = model.predict(x) as tf.Tensor;
    const ranges = microBatchRanges(11, activationBytesPerRow(model), 3 * activationBytesPerRow(model));
    expect(ranges).toHaveLength(4);
    const split = applyInMicroBatches(model, x, ranges);
    expect(split.shape).toEqual([11, 2]);
    const difference = tf.max(tf.abs(tf.sub(whole, split))).dataSync()[0]!;
    expect(difference).toBeLessThan(1e-6);
    tf.dispose([x, whole, split]);
    model.dispose();
  });
});
