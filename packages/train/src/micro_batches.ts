import * as tf from '@tensorflow/tfjs';

/**
 * Forward activations one micro-batch may produce. A training step holds several times that
 * (every layer's output, its gradient and the gradient kernels' temporaries: about 7x, measured
 * for the scratch CNN on wasm), and the wasm backend's heap cannot grow past 4 GiB: the `scratch`
 * preset's batch of 128 images of 150 px needs about 5.5 GiB in one piece.
 */
export const ACTIVATION_BUDGET_BYTES = 256 * 2 ** 20;

/** A micro-batch: rows start..start+size of a batch. */
export interface RowRange {
  start: number;
  size: number;
}

/** Bytes of every layer's float32 output for one row, nested models included. */
export function activationBytesPerRow(model: tf.LayersModel): number {
  let values = 0;
  const visit = (layers: tf.layers.Layer[]): void => {
    for (const layer of layers) {
      if (layer instanceof tf.LayersModel) {
        visit(layer.layers);
        continue;
      }
      const shapes = (Array.isArray(layer.outputShape[0]) ? layer.outputShape : [layer.outputShape]) as Array<Array<number | null>>;
      for (const shape of shapes) values += shape.slice(1).reduce<number>((product, size) => product * (size ?? 1), 1);
    }
  };
  visit(model.layers);
  return values * 4;
}

/**
 * Splits a batch of `rows` into as few micro-batches as keep each one's activations within
 * `budgetBytes`, as even in size as possible (one range when the whole batch fits).
 */
export function microBatchRanges(rows: number, bytesPerRow: number, budgetBytes = ACTIVATION_BUDGET_BYTES): RowRange[] {
  const rowsPerMicroBatch = Math.max(1, Math.floor(budgetBytes / Math.max(1, bytesPerRow)));
  const count = Math.max(1, Math.ceil(rows / rowsPerMicroBatch));
  return Array.from({ length: count }, (_, i) => {
    const start = Math.floor((i * rows) / count);
    return { start, size: Math.floor(((i + 1) * rows) / count) - start };
  });
}

/** Inference over a batch, one micro-batch of `ranges` at a time (each one's intermediates freed before the next). */
export function applyInMicroBatches(model: tf.LayersModel, x: tf.Tensor, ranges: readonly RowRange[]): tf.Tensor {
  if (ranges.length === 1) return tf.tidy(() => model.apply(x, { training: false }) as tf.Tensor);
  const parts = ranges.map(({ start, size }) => tf.tidy(() => model.apply(tf.slice(x, start, size), { training: false }) as tf.Tensor));
  const output = tf.concat(parts, 0);
  tf.dispose(parts);
  return output;
}
