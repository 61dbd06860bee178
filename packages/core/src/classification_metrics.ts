/**
 * Classification metrics with scikit-learn's definitions (confusion_matrix,
 * precision_recall_fscore_support, classification_report with zero_division="warn").
 */

export interface ClassScores { precision: number; recall: number; f1: number; support: number }

export interface ClassificationReport {
  classes: string[];
  /** One entry per class, in `classes` order. */
  perClass: ClassScores[];
  accuracy: number;
  /** Unweighted mean over classes; support is the total. */
  macroAvg: ClassScores;
  /** Mean weighted by each class's support; support is the total. */
  weightedAvg: ClassScores;
  /** What sklearn would warn about (ill-defined scores set to 0). */
  notes: string[];
}

function checkLabels(name: string, labels: number[], nClasses: number): void {
  labels.forEach((label, i) => {
    if (!Number.isInteger(label) || label < 0 || label >= nClasses) {
      throw new Error(`${name}[${i}] = ${label} is not a class index in [0, ${nClasses})`);
    }
  });
}

/** Counts with rows = true class, columns = predicted class (sklearn's orientation). */
export function confusionMatrix(yTrue: number[], yPred: number[], nClasses: number): number[][] {
  if (yTrue.length !== yPred.length) throw new Error(`confusionMatrix: yTrue has ${yTrue.length} labels but yPred has ${yPred.length}`);
  checkLabels('yTrue', yTrue, nClasses);
  checkLabels('yPred', yPred, nClasses);
  const cm = Array.from({ length: nClasses }, () => new Array<number>(nClasses).fill(0));
  yTrue.forEach((t, i) => { cm[t]![yPred[i]!]! += 1; });
  return cm;
}

/** Index of the largest probability per row (the first one on ties, like numpy's argmax). */
export function predictClasses(probabilities: number[][]): number[] {
  return probabilities.map((row) => row.reduce((best, p, j) => (p > row[best]! ? j : best), 0));
}

export function classificationReport(yTrue: number[], yPred: number[], classes: string[]): ClassificationReport {
  if (yTrue.length === 0) throw new Error('classificationReport: no samples');
  const cm = confusionMatrix(yTrue, yPred, classes.length);
  const noPredicted: string[] = [];
  const noTrue: string[] = [];
  const neither: string[] = [];
  const perClass = classes.map((name, c) => {
    const tp = cm[c]![c]!;
    const support = cm[c]!.reduce((a, b) => a + b, 0);
    const predicted = cm.reduce((sum, row) => sum + row[c]!, 0);
    const fp = predicted - tp;
    const fn = support - tp;
    if (predicted === 0) noPredicted.push(name);
    if (support === 0) noTrue.push(name);
    if (tp + fp + fn === 0) neither.push(name);
    // F1 = 2PR/(P+R) written as 2tp/(2tp+fp+fn): the same value, and 0 (not NaN) when tp = 0.
    const f1Denominator = 2 * tp + fp + fn;
    return {
      precision: predicted === 0 ? 0 : tp / predicted,
      recall: support === 0 ? 0 : tp / support,
      f1: f1Denominator === 0 ? 0 : (2 * tp) / f1Denominator,
      support,
    };
  });
  const n = yTrue.length;
  const mean = (key: 'precision' | 'recall' | 'f1') => perClass.reduce((s, r) => s + r[key], 0) / classes.length;
  const weighted = (key: 'precision' | 'recall' | 'f1') => perClass.reduce((s, r) => s + r[key] * r.support, 0) / n;
  const notes: string[] = [];
  if (noPredicted.length > 0) notes.push(`Precision is ill-defined and set to 0.0 for classes with no predicted samples: ${noPredicted.join(', ')}.`);
  if (noTrue.length > 0) notes.push(`Recall is ill-defined and set to 0.0 for classes with no true samples: ${noTrue.join(', ')}.`);
  if (neither.length > 0) notes.push(`F-score is ill-defined and set to 0.0 for classes with no true nor predicted samples: ${neither.join(', ')}.`);
  return {
    classes: [...classes],
    perClass,
    accuracy: cm.reduce((s, row, i) => s + row[i]!, 0) / n,
    macroAvg: { precision: mean('precision'), recall: mean('recall'), f1: mean('f1'), support: n },
    weightedAvg: { precision: weighted('precision'), recall: weighted('recall'), f1: weighted('f1'), support: n },
    notes,
  };
}

/** Wilson score interval for a binomial proportion correct/n (z = 1.96 for 95%). */
export function wilsonInterval(correct: number, n: number, z = 1.96): [number, number] {
  if (!(n > 0) || correct < 0 || correct > n) throw new Error(`wilsonInterval: need 0 <= correct <= n and n > 0, got correct=${correct}, n=${n}`);
  const p = correct / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}
