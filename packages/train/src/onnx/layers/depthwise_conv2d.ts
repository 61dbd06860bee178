import { unsupported, type LayerWriter } from './layer.ts';
import { biasGradient, convInput, convInputGradient, convOutput, tapWindows, withActivation } from './conv2d.ts';

/**
 * DepthwiseConv2D with depth multiplier 1 (MobileNetV2's): a Conv with one group per channel,
 * its [h, w, channels, 1] kernel reshaped to ONNX's [channels, 1, h, w] inside. Gradients:
 * - input: ConvTranspose with the same kernel and groups (see convInputGradient);
 * - kernel: per tap, the input window times dY summed over batch and space (each channel
 *   only meets its own filter, so no GEMM).
 */
export const writeDepthwiseConv2D: LayerWriter = (context, [input]) => {
  const { tape, graph, layer, config } = context;
  if (config.depthMultiplier !== 1) throw unsupported(layer, 'has a depth multiplier other than 1');
  const { x, geometry } = convInput(context, input);
  const [channels] = x.shape as [number];
  const [kh, kw] = geometry.kernel;
  const kernel = graph.node('Reshape', [graph.node('Transpose', [context.weight('depthwise_kernel')!], { perm: [2, 3, 0, 1] }, layer.name), graph.ints(`${layer.name}/kernel_shape`, [channels, 1, kh, kw])], {}, `${layer.name}/kernel_oihw`);
  const z = convOutput(context, x, kernel, geometry, channels, channels);
  tape.record(z, (dz) => {
    const hint = `${layer.name}/grad`;
    biasGradient(context, dz, hint);
    context.setWeightGradient('depthwise_kernel', () => {
      const axes = graph.ints(`${hint}/axes`, [0, 2, 3]);
      const taps = tapWindows(graph, x.name, geometry, hint).map((window) => graph.node('ReduceSum', [graph.node('Mul', [window, dz], {}, `${hint}/tap`), axes], { keepdims: 0 }, `${hint}/tap`));
      return graph.node('Reshape', [graph.node('Concat', taps, { axis: 0 }, `${hint}/kernel`), graph.ints(`${hint}/kernel_shape`, [kh, kw, channels, 1])], {}, `${hint}/kernel`);
    });
    if (x.needsGradient) tape.setGradient(x, convInputGradient(graph, dz, kernel, geometry, channels, hint));
  });
  return withActivation(context, z);
};
