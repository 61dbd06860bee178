import { describe, it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { balancedClassWeights, categoricalCrossentropy } from '../src/loss.ts';
import { learningRateAt } from '../src/optim/schedules.ts';

await tf.setBackend('cpu');

describe('categoricalCrossentropy', () => {
  const y = tf.tensor2d([[1, 0, 0], [0, 1, 0]]);
  const p = tf.tensor2d([[0.7, 0.2, 0.1], [0.25, 0.5, 0.25]]);
  const lossOf = (options: Parameters<typeof categoricalCrossentropy>[2]) => categoricalCrossentropy(y, p, options).dataSync()[0]!;

  it('is the mean negative log-probability of the true class', () => {
    // (-ln 0.7 - ln 0.5) / 2
    expect(lossOf({})).toBeCloseTo((0.35667494 + 0.69314718) / 2, 6);
  });

  it('smooths the targets to y (1 - s) + s / classes', () => {
    // s = 0.3: targets [0.8, 0.1, 0.1] and [0.1, 0.8, 0.1]
    const row1 = 0.8 * 0.35667494 + 0.1 * 1.60943791 + 0.1 * 2.30258509;
    const row2 = 0.1 * 1.38629436 + 0.8 * 0.69314718 + 0.1 * 1.38629436;
    expect(lossOf({ labelSmoothing: 0.3 })).toBeCloseTo((row1 + row2) / 2, 6);
  });

  it('scales each row by its class weight and divides by the row count', () => {
    const classWeights = tf.tensor1d([2, 0.5, 1]);
    expect(lossOf({ classWeights })).toBeCloseTo((2 * 0.35667494 + 0.5 * 0.69314718) / 2, 6);
  });

  it('clips probabilities so a zero gives a large finite loss', () => {
    const loss = categoricalCrossentropy(tf.tensor2d([[1, 0]]), tf.tensor2d([[0, 1]])).dataSync()[0]!;
    expect(loss).toBeCloseTo(-Math.log(1e-7), 3);
  });
});

describe('balancedClassWeights', () => {
  it('gives rows / (classes * class rows), like scikit-learn', () => {
    const weights = balancedClassWeights([6, 3, 1]);
    expect(Array.from(weights)).toEqual([10 / 18, 10 / 9, 10 / 3].map((w) => Math.fround(w)));
  });

  it('gives absent classes weight 0', () => {
    expect(Array.from(balancedClassWeights([2, 0, 2]))).toEqual([Math.fround(4 / 6), 0, Math.fround(4 / 6)]);
  });
});

describe('learningRateAt', () => {
  const run = { lr: 0.1, totalSteps: 100 };

  it('constant stays at lr, after a linear warm-up', () => {
    expect(learningRateAt(0, { ...run, schedule: 'constant', warmupSteps: 0 })).toBe(0.1);
    expect(learningRateAt(99, { ...run, schedule: 'constant', warmupSteps: 0 })).toBe(0.1);
    expect(learningRateAt(0, { ...run, schedule: 'constant', warmupSteps: 10 })).toBeCloseTo(0.01, 12);
    expect(learningRateAt(4, { ...run, schedule: 'constant', warmupSteps: 10 })).toBeCloseTo(0.05, 12);
    expect(learningRateAt(50, { ...run, schedule: 'constant', warmupSteps: 10 })).toBe(0.1);
  });

  it('cosine falls from lr at the start through lr/2 at half-way to 0 at the end', () => {
    const cosine = { ...run, schedule: 'cosine' as const, warmupSteps: 0 };
    expect(learningRateAt(0, cosine)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(25, cosine)).toBeCloseTo(0.1 * (1 + Math.SQRT1_2) / 2, 12);
    expect(learningRateAt(50, cosine)).toBeCloseTo(0.05, 12);
    expect(learningRateAt(100, cosine)).toBeCloseTo(0, 12);
  });

  it('cosine with warm-up rises linearly, then decays over the remaining steps', () => {
    const cosine = { ...run, schedule: 'cosine' as const, warmupSteps: 10 };
    expect(learningRateAt(0, cosine)).toBeCloseTo(0.01, 12);
    expect(learningRateAt(9, cosine)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(10, cosine)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(55, cosine)).toBeCloseTo(0.05, 12);
    expect(learningRateAt(100, cosine)).toBeCloseTo(0, 12);
  });

  it('one-cycle rises from lr/25 to lr over 30% of the run, then anneals to lr/25/1e4', () => {
    const onecycle = { ...run, schedule: 'onecycle' as const, warmupSteps: 0 };
    expect(learningRateAt(0, onecycle)).toBeCloseTo(0.004, 12);
    expect(learningRateAt(15, onecycle)).toBeCloseTo((0.004 + 0.1) / 2, 12);
    expect(learningRateAt(30, onecycle)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(65, onecycle)).toBeCloseTo((0.1 + 4e-7) / 2, 12);
    expect(learningRateAt(100, onecycle)).toBeCloseTo(4e-7, 15);
  });
});
