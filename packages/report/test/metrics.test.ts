import { describe, it, expect } from 'vitest';
import { classificationReport, predictClasses } from '@flowers/core';
import { formatFixed } from '../src/format.ts';
import { formatClassificationReport, mostConfusedPairs, worstMisclassified } from '../src/metrics.ts';

describe('formatClassificationReport', () => {
  it('reproduces the example in the scikit-learn documentation character for character', () => {
    // sklearn.metrics.classification_report docs: y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1]
    // (every class is predicted at least once, so no ill-defined note follows).
    const text = formatClassificationReport(classificationReport([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], ['class 0', 'class 1', 'class 2']));
    const expected = [
      '              precision    recall  f1-score   support',
      '',
      '     class 0       0.50      1.00      0.67         1',
      '     class 1       0.00      0.00      0.00         1',
      '     class 2       1.00      0.67      0.80         3',
      '',
      '    accuracy                           0.60         5',
      '   macro avg       0.50      0.56      0.49         5',
      'weighted avg       0.70      0.60      0.61         5',
      '',
    ].join('\n');
    expect(text).toBe(expected);
  });
});

describe('formatFixed', () => {
  it('rounds exact binary ties half to even like Python, everything else to nearest', () => {
    expect(formatFixed(0.125, 2)).toBe('0.12'); // JS toFixed says 0.13
    expect(formatFixed(0.375, 2)).toBe('0.38');
    expect(formatFixed(-0.125, 2)).toBe('-0.12');
    expect(formatFixed(2.5, 0)).toBe('2');
    expect(formatFixed(3.5, 0)).toBe('4');
    expect(formatFixed(1.005, 2)).toBe('1.00'); // 1.005 is stored as 1.00499999...
    expect(formatFixed(2 / 3, 4)).toBe('0.6667');
    expect(formatFixed(0.7, 4)).toBe('0.7000');
  });
});

describe('mostConfusedPairs', () => {
  it('lists the largest off-diagonal cells first, ties in row-major order', () => {
    const cm = [[5, 3, 0], [1, 4, 2], [0, 3, 6]];
    expect(mostConfusedPairs(cm, ['a', 'b', 'c'], 3)).toEqual([
      { trueLabel: 'a', predictedLabel: 'b', count: 3, rate: 3 / 8 },
      { trueLabel: 'c', predictedLabel: 'b', count: 3, rate: 3 / 9 },
      { trueLabel: 'b', predictedLabel: 'c', count: 2, rate: 2 / 7 },
    ]);
    expect(mostConfusedPairs([[2, 0], [0, 2]], ['a', 'b'], 5)).toEqual([]);
  });
});

describe('predictions from probabilities', () => {
  it('takes the first class on ties and ranks mistakes by confidence', () => {
    expect(predictClasses([[0.5, 0.5], [0.2, 0.8], [0.4, 0.3]])).toEqual([0, 1, 0]);
    const worst = worstMisclassified([1, 0, 1, 0], [[0.6, 0.4], [0.1, 0.9], [0.2, 0.8], [0.3, 0.7]], 5);
    expect(worst.map((w) => w.index)).toEqual([1, 3, 0]);
    expect(worst[0]).toEqual({ index: 1, trueClass: 0, predictedClass: 1, probability: 0.9, trueProbability: 0.1 });
  });
});
