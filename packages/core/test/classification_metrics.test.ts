import { describe, it, expect } from 'vitest';
import { classificationReport, confusionMatrix, wilsonInterval } from '../src/index.ts';
import { classificationReportOf, metricsJson } from '../src/contracts/index.ts';

describe('confusionMatrix', () => {
  it('puts true classes on rows and predicted classes on columns', () => {
    // Three samples of class 0, two of them predicted as 1; one sample of class 1 predicted right.
    expect(confusionMatrix([0, 0, 0, 1], [1, 1, 0, 1], 2)).toEqual([[1, 2], [0, 1]]);
  });

  it('rejects labels outside the classes and mismatched lengths', () => {
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow('yTrue[1] = 3 is not a class index in [0, 3)');
    expect(() => confusionMatrix([0, 1], [0, 1.5], 3)).toThrow('yPred[1] = 1.5');
    expect(() => confusionMatrix([0, 1], [0], 2)).toThrow('yTrue has 2 labels but yPred has 1');
  });
});

describe('classificationReport', () => {
  // Worked by hand: classes a, b, c; c is never predicted.
  //   confusion rows (true) a: [2, 1, 0], b: [0, 2, 0], c: [1, 1, 0]
  //   a: precision 2/3, recall 2/3, f1 2/3, support 3
  //   b: precision 2/4, recall 2/2, f1 2*0.5*1/1.5 = 2/3, support 2
  //   c: precision 0 (no predictions: ill-defined), recall 0/2, f1 0, support 2
  const yTrue = [0, 0, 0, 1, 1, 2, 2];
  const yPred = [0, 0, 1, 1, 1, 0, 1];
  const report = classificationReport(yTrue, yPred, ['a', 'b', 'c']);

  it('gives per-class precision, recall, F1 and support', () => {
    const expected = [[2 / 3, 2 / 3, 2 / 3, 3], [1 / 2, 1, 2 / 3, 2], [0, 0, 0, 2]];
    report.perClass.forEach((s, c) => {
      expect(s.precision).toBeCloseTo(expected[c]![0]!, 12);
      expect(s.recall).toBeCloseTo(expected[c]![1]!, 12);
      expect(s.f1).toBeCloseTo(expected[c]![2]!, 12);
      expect(s.support).toBe(expected[c]![3]);
    });
    expect(report.accuracy).toBeCloseTo(4 / 7, 12);
  });

  it('macro averages are unweighted means, weighted averages use the supports', () => {
    expect(report.macroAvg.precision).toBeCloseTo((2 / 3 + 1 / 2 + 0) / 3, 12); // 7/18
    expect(report.macroAvg.recall).toBeCloseTo((2 / 3 + 1 + 0) / 3, 12); // 5/9
    expect(report.macroAvg.f1).toBeCloseTo((2 / 3 + 2 / 3 + 0) / 3, 12); // 4/9
    expect(report.weightedAvg.precision).toBeCloseTo((3 * 2 / 3 + 2 * 1 / 2 + 2 * 0) / 7, 12); // 3/7
    expect(report.weightedAvg.recall).toBeCloseTo((3 * 2 / 3 + 2 * 1 + 2 * 0) / 7, 12); // 4/7
    expect(report.weightedAvg.f1).toBeCloseTo((3 * 2 / 3 + 2 * 2 / 3 + 2 * 0) / 7, 12); // 10/21
    expect(report.macroAvg.support).toBe(7);
    expect(report.weightedAvg.support).toBe(7);
  });

  it('notes that precision of a never-predicted class is set to 0, as sklearn warns', () => {
    expect(report.notes).toHaveLength(1);
    expect(report.notes[0]).toContain('Precision is ill-defined');
    expect(report.notes[0]).toContain(': c.');
  });

  it('has no notes when every class is predicted and present', () => {
    expect(classificationReport([0, 1, 1], [0, 1, 0], ['x', 'y']).notes).toEqual([]);
  });
});

describe('wilsonInterval', () => {
  it('matches the hand-computed 95% interval for 8 of 10', () => {
    // p = 0.8, z^2/n = 0.38416: centre = (0.8 + 0.19208) / 1.38416 = 0.716738,
    // half = 1.96 / 1.38416 * sqrt(0.016 + 0.009604) = 0.226580
    const [lo, hi] = wilsonInterval(8, 10);
    expect(lo).toBeCloseTo(0.490158, 5);
    expect(hi).toBeCloseTo(0.943318, 5);
  });

  it('starts at 0 for no successes and honours z', () => {
    const [lo, hi] = wilsonInterval(0, 10);
    expect(lo).toBeCloseTo(0, 12);
    expect(hi).toBeCloseTo(0.38416 / 1.38416, 10);
    // z = 1: centre (0.5 + 0.05) / 1.1 = 0.5, half = 1 / 1.1 * sqrt(0.025 + 0.0025) = 0.150756
    const [l1, h1] = wilsonInterval(5, 10, 1);
    expect(l1).toBeCloseTo(0.5 - 0.150756, 5);
    expect(h1).toBeCloseTo(0.5 + 0.150756, 5);
  });

  it('rejects impossible counts', () => {
    expect(() => wilsonInterval(3, 0)).toThrow('n > 0');
    expect(() => wilsonInterval(11, 10)).toThrow('correct=11');
  });
});

describe('metricsJson', () => {
  it('fills the shared metrics schema', () => {
    // Predictions [0, 1, 0, 0] (the tie in the last row goes to class 0): confusion [[2, 0], [1, 1]].
    // x: precision 2/3, recall 1, f1 0.8; y: precision 1, recall 1/2, f1 2/3.
    const m = metricsJson([0, 1, 1, 0], [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.5, 0.5]], ['x', 'y']);
    expect(m.accuracy).toBeCloseTo(0.75, 12);
    expect(m.n).toBe(4);
    expect(m.classes).toEqual(['x', 'y']);
    expect(m.confusion_matrix).toEqual([[2, 0], [1, 1]]);
    expect(m.per_class.x!.precision).toBeCloseTo(2 / 3, 12);
    expect(m.per_class.x!.f1).toBeCloseTo(0.8, 12);
    expect(m.per_class.y!.recall).toBeCloseTo(0.5, 12);
    expect(m.per_class.y!.support).toBe(2);
    expect(m.macro_f1).toBeCloseTo((0.8 + 2 / 3) / 2, 12);
    expect(m.weighted_f1).toBeCloseTo((2 * 0.8 + 2 * 2 / 3) / 4, 12);
    // Wilson 3 of 4: centre 1.2302 / 1.9604 = 0.627525, half 1.96 / 1.9604 * sqrt(0.1069) = 0.326889
    expect(m.accuracy_ci95[0]).toBeCloseTo(0.300636, 5);
    expect(m.accuracy_ci95[1]).toBeCloseTo(0.954414, 5);
  });

  it('names the bad row when probabilities do not match the classes', () => {
    expect(() => metricsJson([0, 1], [[0.5, 0.5], [1]], ['x', 'y'])).toThrow('probability row 1 has 1 values for 2 classes');
    expect(() => metricsJson([0], [[0.5, 0.5], [0.5, 0.5]], ['x', 'y'])).toThrow('1 labels but 2 probability rows');
  });

  it('holds the whole classification report, so readers need not recompute it', () => {
    const yTrue = [0, 1, 1, 0, 2];
    const probabilities = [[0.9, 0.1, 0], [0.3, 0.7, 0], [0.6, 0.4, 0], [0.5, 0.5, 0], [0.8, 0.1, 0.1]];
    const m = metricsJson(yTrue, probabilities, ['x', 'y', 'z']);
    expect(classificationReportOf(m)).toEqual(classificationReport(yTrue, [0, 1, 0, 0, 0], ['x', 'y', 'z']));
    expect(m.notes).toHaveLength(1); // z is never predicted
    expect(m.schema_version).toBe(2);
  });
});
