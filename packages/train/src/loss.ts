import * as tf from '@tensorflow/tfjs';

/** Keras clips probabilities to [1e-7, 1 - 1e-7] before the log. */
const PROBABILITY_EPSILON = 1e-7;

export interface LossOptions {
  /** Targets become y * (1 - s) + s / classes. */
  labelSmoothing?: number;
  /** Per-class weights [classes]; each row's loss is scaled by its class's weight. */
  classWeights?: tf.Tensor1D;
}

/**
 * Categorical cross-entropy of softmax outputs, averaged over the batch (Keras'
 * sum-over-batch-size reduction: weighted rows are divided by the row count, not the weight sum).
 */
export function categoricalCrossentropy(yTrue: tf.Tensor2D, probabilities: tf.Tensor2D, { labelSmoothing = 0, classWeights }: LossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const classes = yTrue.shape[1];
    const targets = labelSmoothing > 0 ? tf.add(tf.mul(yTrue, 1 - labelSmoothing), labelSmoothing / classes) : yTrue;
    const logP = tf.log(tf.clipByValue(probabilities, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON));
    let perRow: tf.Tensor = tf.neg(tf.sum(tf.mul(targets, logP), 1));
    if (classWeights) perRow = tf.mul(perRow, tf.sum(tf.mul(yTrue, classWeights), 1));
    return tf.mean(perRow);
  });
}

/**
 * 'Balanced' class weights as in scikit-learn: rows / (classes * rows of the class), so every
 * class contributes equally to the loss. Classes without rows get weight 0 (they never occur).
 */
export function balancedClassWeights(counts: ArrayLike<number>): Float32Array {
  let total = 0;
  for (let c = 0; c < counts.length; c++) total += counts[c]!;
  return Float32Array.from({ length: counts.length }, (_, c) => (counts[c]! > 0 ? total / (counts.length * counts[c]!) : 0));
}

/** Number of rows whose highest probability is on the true class. */
export function countCorrect(probabilities: tf.Tensor2D, yTrue: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, 1), tf.argMax(yTrue, 1)), 'float32')));
}
