/** Presentation of classification metrics: scikit-learn's report text, the most confused pairs, the worst mistakes. */
import { predictClasses, type ClassificationReport, type ClassScores } from '@flowers/core';
import { formatFixed } from './format.ts';

export interface ConfusedPair { trueLabel: string; predictedLabel: string; count: number; /** count / samples of the true class */ rate: number }

export interface Misclassified { index: number; trueClass: number; predictedClass: number; /** probability of the predicted class */ probability: number; trueProbability: number }

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
