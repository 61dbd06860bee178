/**
 * `metrics.json`: the test split's classification metrics, written by the train stage next to its
 * predictions (and by `evaluate --json`), copied into the run and read by the report, which shows
 * them as they are.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic.ts';
import { classificationReport, confusionMatrix, predictClasses, wilsonInterval, type ClassificationReport, type ClassScores } from '../classification_metrics.ts';
import { UserError } from '../errors.ts';
import { checkSchemaVersion, SCHEMA_VERSION_KEY } from './schema_version.ts';

export const METRICS_FILE = 'metrics.json';
/** Version 2 added the averages and notes of the classification report, and the version key. */
export const METRICS_SCHEMA_VERSION = 2;

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
  /** Unweighted mean over classes; support is the total. */
  macro_avg: ClassScores;
  /** Mean weighted by each class's support; support is the total. */
  weighted_avg: ClassScores;
  /** What scikit-learn would warn about (ill-defined scores set to 0). */
  notes: string[];
  /** With test-time augmentation (the mean of each photo's and its mirror's probabilities): the same headline figures. */
  tta?: TtaMetrics;
  schema_version: number;
}

export type TtaMetrics = Pick<MetricsJson, 'accuracy' | 'macro_f1' | 'accuracy_ci95'>;

/** The headline figures of `metrics`, to stand beside the plain ones as its `tta`. */
export function ttaMetricsOf(metrics: MetricsJson): TtaMetrics {
  return { accuracy: metrics.accuracy, macro_f1: metrics.macro_f1, accuracy_ci95: metrics.accuracy_ci95 };
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
    macro_avg: report.macroAvg,
    weighted_avg: report.weightedAvg,
    notes: report.notes,
    schema_version: METRICS_SCHEMA_VERSION,
  };
}

/** The classification report that `metrics` was computed from. */
export function classificationReportOf(metrics: MetricsJson): ClassificationReport {
  return {
    classes: metrics.classes,
    perClass: metrics.classes.map((name) => metrics.per_class[name]!),
    accuracy: metrics.accuracy,
    macroAvg: metrics.macro_avg,
    weightedAvg: metrics.weighted_avg,
    notes: metrics.notes,
  };
}

export async function writeMetrics(file: string, metrics: MetricsJson): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(metrics, null, 2)}\n`);
}

export async function readMetrics(file: string): Promise<MetricsJson> {
  let value: Partial<MetricsJson>;
  try {
    value = JSON.parse(await readFile(file, 'utf8')) as Partial<MetricsJson>;
  } catch (error) {
    throw new UserError(`cannot read metrics file ${file}: ${(error as Error).message}`);
  }
  checkSchemaVersion(file, 'metrics', value[SCHEMA_VERSION_KEY], METRICS_SCHEMA_VERSION);
  return value as MetricsJson;
}
