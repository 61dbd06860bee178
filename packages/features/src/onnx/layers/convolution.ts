import * as tf from '@tensorflow/tfjs';
import type { ConvStep } from '../../inference_plan.ts';
import { explicitPads, type OnnxGraph } from '@flowers/core/onnx';
import { writeActivation } from './activation.ts';

/**
 * A fused convolution step (batch norm already folded into its weights) as one ONNX Conv plus
 * its activation. tfjs kernels are [h, w, in, out]; ONNX wants [out, in, h, w]. A depthwise
 * kernel [h, w, in, multiplier] is a group conv with one group per input channel, whose output
 * channel in * multiplier + m is the flattening of (in, multiplier).
 */
export function convertConvolution(graph: OnnxGraph, step: ConvStep, input: string): string {
  const { layer, filter, bias, strides, dilations } = step;
  const [kh, kw, inChannels, outOrMultiplier] = filter.shape;
  const kernel = tf.tidy(() =>
    step.depthwise
      ? tf.transpose(tf.reshape(filter, [kh, kw, inChannels * outOrMultiplier, 1]), [2, 3, 0, 1])
      : tf.transpose(filter, [3, 2, 0, 1]),
  );
  const kernelName = graph.constant(`${layer.name}/kernel`, kernel.dataSync() as Float32Array, kernel.shape);
  kernel.dispose();
  const biasName = graph.constant(`${layer.name}/bias`, (bias.dataSync() as Float32Array).slice(), bias.shape);
  const conv = graph.node(
    'Conv',
    [input, kernelName, biasName],
    {
      kernel_shape: [kh, kw],
      strides,
      dilations,
      pads: explicitPads(step.padding, step.inputShape, [kh, kw], strides, dilations),
      group: step.depthwise ? inChannels : 1,
    },
    layer.name,
  );
  return writeActivation({ graph, layer }, conv, step.activation ?? 'linear');
}
