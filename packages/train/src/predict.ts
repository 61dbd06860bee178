import * as tf from '@tensorflow/tfjs';
import { meanOfViews } from '@flowers/core';
import type { Predictions } from '@flowers/core/contracts';
import type { ArrowBatchSource } from './data/arrow_batches.ts';
import type { TrainingEngine } from './engines/index.ts';

/** Class probabilities for every row of an eval source, batch by batch (inference mode), on the engine's weights, with the rows' identity. */
export async function predictProbabilities(engine: Pick<TrainingEngine, 'predict'>, source: ArrowBatchSource): Promise<Predictions> {
  const classes = source.classes.length;
  const probabilities = new Float32Array(source.numRows * classes);
  const labels = new Int32Array(source.numRows);
  const rowIds = new Int32Array(source.numRows);
  const sha256: string[] = [];
  const paths: string[] = [];
  let row = 0;
  for await (const batch of source.batches()) {
    probabilities.set(await engine.predict(batch.x, batch.n), row * classes);
    labels.set(batch.labels, row);
    rowIds.set(batch.identity!.rowIds, row);
    sha256.push(...batch.identity!.sha256);
    paths.push(...batch.identity!.paths);
    tf.dispose([batch.x, batch.y]);
    row += batch.n;
  }
  return { classes: source.classes, dataDir: source.metadata.get('data_dir') ?? '', probabilities, labels, rowIds, sha256, paths };
}

/** Fraction of rows whose most probable class is the label. */
export function accuracyOf({ probabilities, labels }: Pick<Predictions, 'probabilities' | 'labels'>): number {
  const classes = probabilities.length / Math.max(1, labels.length);
  let correct = 0;
  labels.forEach((label, i) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probabilities[i * classes + c]! > probabilities[i * classes + best]!) best = c;
    if (best === label) correct += 1;
  });
  return labels.length > 0 ? correct / labels.length : NaN;
}

/**
 * Test-time augmentation: the predictions of the plain rows with each row's probabilities
 * averaged with those of its mirror image (the eval source of view 1, row for row).
 */
export function withMirror(plain: Pick<Predictions, 'probabilities' | 'rowIds'>, mirrored: Predictions): Predictions {
  const misaligned = mirrored.rowIds.length !== plain.rowIds.length || mirrored.rowIds.some((id, i) => id !== plain.rowIds[i]);
  if (misaligned) throw new Error(`the mirror-image rows (${mirrored.rowIds.length}) are not the plain rows (${plain.rowIds.length}), photo for photo`);
  return { ...mirrored, probabilities: meanOfViews(plain.probabilities, mirrored.probabilities) };
}
