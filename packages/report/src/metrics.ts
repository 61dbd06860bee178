/**
 * Classification metrics with scikit-learn's definitions (confusion_matrix, precision_recall_fscore_support,
 * classification_report with zero_division="warn"), and THE metrics.json schema shared by evaluate and report.
 */
import { formatFixed } from './format.ts';

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

/** The metrics.json schema, written by evaluate and read by report. */
export interface MetricsJson {
  accuracy: number;
  macro_f1: number;
  weighted_f1: number;
  classes: string[];
  per_class: { [name: string]: ClassScores };
  /** Rows are true classes, columns predicted classes. */
  confusion_matrix: number[][];
  accuracy_ci95: [number, number];
  n: number;
}

export interface ConfusedPair { trueLabel: string; predictedLabel: string; count: number; /** count / samples of the true class */ rate: number }

export interface Misclassified { index: number; trueClass: number; predictedClass: number; /** probability of the predicted class */ probability: number; trueProbability: number }

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

/** sklearn's classification_report text (digits=2 by default), notes appended after a blank line. */
export function formatClassificationReport(report: ClassificationReport, digits = 2): string {
  const width = Math.max(...report.classes.map((c) => c.length), 'weighted avg'.length, digits);
  const cell = (s: string) => ` ${s.padStart(9)}`;
  const row = (name: string, s: ClassScores) =>
    `${name.padStart(width)} ${cell(formatFixed(s.precision, digits))}${cell(formatFixed(s.recall, digits))}${cell(formatFixed(s.f1, digits))}${cell(String(s.support))}\n`;
  let text = `${''.padStart(width)} ${['precision', 'recall', 'f1-score', 'support'].map(cell).join('')}\n\n`;
  report.classes.forEach((name, c) => { text += row(name, report.perClass[c]!); });
  text += '\n';
  text += `${'accuracy'.padStart(width)} ${cell('')}${cell('')}${cell(formatFixed(report.accuracy, digits))}${cell(String(report.macroAvg.support))}\n`;
  text += row('macro avg', report.macroAvg);
  text += row('weighted avg', report.weightedAvg);
  return report.notes.length > 0 ? `${text}\n${report.notes.join('\n')}\n` : text;
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

/** The k largest off-diagonal cells of a confusion matrix (ties: by true then predicted class order). */
export function mostConfusedPairs(cm: number[][], classes: string[], k: number): ConfusedPair[] {
  const pairs: ConfusedPair[] = [];
  cm.forEach((row, t) => {
    const support = row.reduce((a, b) => a + b, 0);
    row.forEach((count, p) => {
      if (p !== t && count > 0) pairs.push({ trueLabel: classes[t]!, predictedLabel: classes[p]!, count, rate: count / support });
    });
  });
  // Array.prototype.sort is stable, so equal counts keep row-major order.
  return pairs.sort((a, b) => b.count - a.count).slice(0, k);
}

/** The k misclassified samples predicted most confidently (the worst mistakes). */
export function worstMisclassified(yTrue: number[], probabilities: number[][], k: number): Misclassified[] {
  const yPred = predictClasses(probabilities);
  const wrong: Misclassified[] = [];
  yTrue.forEach((t, index) => {
    const predictedClass = yPred[index]!;
    if (predictedClass !== t) {
      const row = probabilities[index]!;
      wrong.push({ index, trueClass: t, predictedClass, probability: row[predictedClass]!, trueProbability: row[t]! });
    }
  });
  return wrong.sort((a, b) => b.probability - a.probability).slice(0, k);
}

export function metricsJson(yTrue: number[], probabilities: number[][], classes: string[]): MetricsJson {
  if (yTrue.length !== probabilities.length) throw new Error(`metricsJson: ${yTrue.length} labels but ${probabilities.length} probability rows`);
  probabilities.forEach((row, i) => {
    if (row.length !== classes.length) throw new Error(`metricsJson: probability row ${i} has ${row.length} values for ${classes.length} classes`);
  });
  const yPred = predictClasses(probabilities);
  const report = classificationReport(yTrue, yPred, classes);
  const cm = confusionMatrix(yTrue, yPred, classes.length);
  const correct = cm.reduce((s, row, i) => s + row[i]!, 0);
  return {
    accuracy: report.accuracy,
    macro_f1: report.macroAvg.f1,
    weighted_f1: report.weightedAvg.f1,
    classes: [...classes],
    per_class: Object.fromEntries(classes.map((name, c) => [name, report.perClass[c]!])),
    confusion_matrix: cm,
    accuracy_ci95: wilsonInterval(correct, yTrue.length),
    n: yTrue.length,
  };
}
