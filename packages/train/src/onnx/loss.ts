import type { OnnxGraph } from '@flowers/core/onnx';

/** Keras clips probabilities to [1e-7, 1 - 1e-7] before the log (as loss.ts does). */
const PROBABILITY_EPSILON = 1e-7;

/**
 * The categorical cross-entropy of loss.ts on softmax(logits), and its gradient with respect to
 * the logits, as graph nodes. `targets` are the (smoothed) one-hot rows and `rowScale` each row's
 * weight over the row count, so the loss is sum(rowScale * rowLoss): Keras' mean over the batch,
 * class weights included. The gradient flows through the clip as tfjs' does (zero where clipped).
 */
export function crossEntropy(graph: OnnxGraph, logits: string, targets: string, rowScale: string): { probabilities: string; loss: string; hits: string; dLogits: string } {
  const hint = 'loss';
  const probabilities = graph.node('Softmax', [logits], { axis: -1 }, 'probabilities');
  const low = graph.scalar(`${hint}/low`, PROBABILITY_EPSILON);
  const high = graph.scalar(`${hint}/high`, 1 - PROBABILITY_EPSILON);
  const clipped = graph.node('Clip', [probabilities, low, high], {}, hint);
  const classAxis = graph.ints(`${hint}/class_axis`, [1]);
  const rowLoss = graph.node('Neg', [graph.node('ReduceSum', [graph.node('Mul', [targets, graph.node('Log', [clipped], {}, hint)], {}, hint), classAxis], { keepdims: 0 }, hint)], {}, hint);
  const loss = graph.node('ReduceSum', [graph.node('Mul', [rowLoss, rowScale], {}, hint)], { keepdims: 0 }, hint);
  const argmax = (x: string): string => graph.node('ArgMax', [x], { axis: 1, keepdims: 0 }, hint);
  const hits = graph.node('ReduceSum', [graph.node('Cast', [graph.node('Equal', [argmax(probabilities), argmax(targets)], {}, hint)], { to: 1 }, hint)], { keepdims: 0 }, hint);

  const grad = `${hint}/grad`;
  const scale = graph.node('Unsqueeze', [rowScale, classAxis], {}, grad);
  const dClipped = graph.node('Div', [graph.node('Neg', [graph.node('Mul', [targets, scale], {}, grad)], {}, grad), clipped], {}, grad);
  const inside = graph.node('And', [graph.node('GreaterOrEqual', [probabilities, low], {}, grad), graph.node('LessOrEqual', [probabilities, high], {}, grad)], {}, grad);
  const dProbabilities = graph.node('Mul', [dClipped, graph.node('Cast', [inside], { to: 1 }, grad)], {}, grad);
  // Softmax' Jacobian: dz = p * (dp - sum(dp * p)).
  const dot = graph.node('ReduceSum', [graph.node('Mul', [dProbabilities, probabilities], {}, grad), classAxis], { keepdims: 1 }, grad);
  const dLogits = graph.node('Mul', [probabilities, graph.node('Sub', [dProbabilities, dot], {}, grad)], {}, grad);
  return { probabilities, loss, hits, dLogits };
}
