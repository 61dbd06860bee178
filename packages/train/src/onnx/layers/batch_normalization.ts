import { toLayout, type Value } from '../tape.ts';
import { unsupported, type LayerWriter } from './layer.ts';

/**
 * BatchNormalization over the channels of a map, as tfjs-layers runs it. TensorFlow.js applies
 * batch statistics whenever a model runs in training mode, whether or not the layer is
 * trainable, so the training graph always does (as the tfjs engine trains the same model):
 * - forward: mean and (biased) variance over N, H, W; y = (x - mean) * gamma / sqrt(var + eps) + beta;
 * - moving statistics: m - (m - batch) * (1 - momentum), tfjs' update, as the layer's new weights;
 * - backward: dx = gamma / sqrt(var + eps) * (dy - mean(dy) - xhat * mean(dy * xhat)), where xhat
 *   is the normalised input: the gradient through the batch statistics included.
 * The inference graph uses the moving statistics, and so does a frozen (non-trainable) batch norm
 * in the training graph, as buildFinetuneModel freezes one: its gradient is then dy * gamma /
 * sqrt(moving_var + eps). A missing gamma or beta (scale or center off) is 1 or 0.
 */
export const writeBatchNormalization: LayerWriter = (context, [input]) => {
  const { tape, graph, layer, config, training } = context;
  if (input.layout === 'flat' || ![-1, 3].includes(config.axis as number)) throw unsupported(layer, 'does not normalise the channels of a map');
  const x = toLayout(tape, input, 'nchw', `${layer.name}/nchw`);
  const [channels] = x.shape as [number];
  const epsilon = graph.scalar(`${layer.name}/epsilon`, config.epsilon as number);
  const perChannel = graph.ints(`${layer.name}/per_channel`, [channels, 1, 1]);
  const column = (weight: string): string => graph.node('Reshape', [weight, perChannel], {}, layer.name);
  const gamma = context.weight('gamma');
  const beta = context.weight('beta');
  const movingMean = context.weight('moving_mean')!;
  const movingVariance = context.weight('moving_variance')!;
  const shifted = (scaled: string): string => (beta === undefined ? scaled : graph.node('Add', [scaled, column(beta)], {}, layer.name));
  const invStdOf = (variance: string): string => graph.node('Reciprocal', [graph.node('Sqrt', [graph.node('Add', [variance, epsilon], {}, layer.name)], {}, layer.name)], {}, layer.name);
  const scaleOf = (invStd: string): string => (gamma === undefined ? invStd : graph.node('Mul', [invStd, column(gamma)], {}, layer.name));

  if (!training || !layer.trainable) {
    const scale = scaleOf(invStdOf(column(movingVariance)));
    const y: Value = { ...x, name: shifted(graph.node('Mul', [graph.node('Sub', [x.name, column(movingMean)], {}, layer.name), scale], {}, layer.name)) };
    if (training && x.needsGradient) tape.record(y, (dy) => tape.setGradient(x, graph.node('Mul', [dy, scale], {}, `${layer.name}/grad/input`)));
    return y;
  }
  // Opset 17's ReduceMean takes its axes as an attribute (ReduceSum takes an input).
  const meanOver = (t: string, hint: string): string => graph.node('ReduceMean', [t], { axes: [0, 2, 3], keepdims: 1 }, hint);
  const mean = meanOver(x.name, layer.name);
  const centered = graph.node('Sub', [x.name, mean], {}, layer.name);
  const variance = meanOver(graph.node('Mul', [centered, centered], {}, layer.name), layer.name);
  const invStd = invStdOf(variance);
  const scale = scaleOf(invStd);
  const y: Value = { ...x, name: shifted(graph.node('Mul', [centered, scale], {}, layer.name)), needsGradient: true };

  const decay = graph.scalar(`${layer.name}/decay`, 1 - (config.momentum as number));
  const flat = graph.ints(`${layer.name}/flat`, [channels]);
  const movingUpdate = (moving: string, batch: string): string =>
    graph.node('Sub', [moving, graph.node('Mul', [graph.node('Sub', [moving, graph.node('Reshape', [batch, flat], {}, layer.name)], {}, layer.name), decay], {}, layer.name)], {}, `${layer.name}/moving`);
  context.setWeightUpdate('moving_mean', movingUpdate(movingMean, mean));
  context.setWeightUpdate('moving_variance', movingUpdate(movingVariance, variance));

  tape.record(y, (dy) => {
    const hint = `${layer.name}/grad`;
    // Written on first use: a frozen layer with no gradient to pass down needs neither.
    let normalised: string | undefined;
    let dyNormalised: string | undefined;
    const xhat = (): string => (normalised ??= graph.node('Mul', [centered, invStd], {}, hint));
    const dyTimesNormalised = (): string => (dyNormalised ??= graph.node('Mul', [dy, xhat()], {}, hint));
    const sumAxes = graph.ints(`${hint}/axes`, [0, 2, 3]);
    if (beta !== undefined) context.setWeightGradient('beta', () => graph.node('ReduceSum', [dy, sumAxes], { keepdims: 0 }, `${hint}/beta`));
    if (gamma !== undefined) context.setWeightGradient('gamma', () => graph.node('ReduceSum', [dyTimesNormalised(), sumAxes], { keepdims: 0 }, `${hint}/gamma`));
    if (!x.needsGradient) return;
    const correction = graph.node('Add', [meanOver(dy, hint), graph.node('Mul', [xhat(), meanOver(dyTimesNormalised(), hint)], {}, hint)], {}, hint);
    tape.setGradient(x, graph.node('Mul', [graph.node('Sub', [dy, correction], {}, hint), scale], {}, `${hint}/input`));
  });
  return y;
};
