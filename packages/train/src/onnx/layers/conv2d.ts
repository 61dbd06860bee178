import { explicitPads, type Pair } from '@flowers/core/onnx';
import { relu, toLayout, type Value } from '../tape.ts';
import { activationOf, unsupported, type LayerWriter } from './layer.ts';

/**
 * Conv2D (+ ReLU). The kernel stays in TensorFlow.js' [h, w, in, out] layout as a graph input
 * and is transposed to ONNX's [out, in, h, w] inside, so weights and gradients keep tfjs' layout.
 * Gradients as forward operators (checked against plain loops, see shared/notes/onnxruntime.md):
 * - input: ConvTranspose of dY with the forward kernel, output_padding making up the lost rows;
 * - kernel: one Conv of X^T [in, N, H, W] by dY^T [out, N, OH, OW], strides and dilations swapped,
 *   sliced to the kernel size;
 * - bias: dY summed over batch and space.
 */
export const writeConv2D: LayerWriter = (context, input) => {
  const { tape, graph, layer, config, weights } = context;
  if (config.dataFormat !== 'channelsLast') throw unsupported(layer, 'is not channels-last');
  const x = toLayout(tape, input, 'nchw', `${layer.name}/nchw`);
  const [kh, kw] = config.kernelSize as Pair;
  const strides = config.strides as Pair;
  const dilations = config.dilationRate as Pair;
  const filters = config.filters as number;
  const [, height, width] = x.shape as [number, number, number];
  const pads = explicitPads(config.padding as string, [height, width], [kh, kw], strides, dilations);
  const outSize = (size: number, k: number, s: number, d: number, padBegin: number, padEnd: number): number => Math.floor((size + padBegin + padEnd - (k - 1) * d - 1) / s) + 1;
  const outHeight = outSize(height, kh, strides[0], dilations[0], pads[0]!, pads[2]!);
  const outWidth = outSize(width, kw, strides[1], dilations[1], pads[1]!, pads[3]!);

  const kernel = graph.node('Transpose', [weights[0]!], { perm: [3, 2, 0, 1] }, `${layer.name}/kernel_oihw`);
  const hasBias = config.useBias !== false;
  const attributes = { kernel_shape: [kh, kw], strides, dilations, pads, group: 1 };
  const z: Value = {
    name: graph.node('Conv', [x.name, kernel, ...(hasBias ? [weights[1]!] : [])], attributes, layer.name),
    layout: 'nchw',
    shape: [filters, outHeight, outWidth],
    needsGradient: true,
  };
  tape.record(z, (dz) => {
    const hint = `${layer.name}/grad`;
    if (hasBias) context.setWeightGradient(1, graph.node('ReduceSum', [dz, graph.ints(`${hint}/axes`, [0, 2, 3])], { keepdims: 0 }, `${hint}/bias`));
    const xT = graph.node('Transpose', [x.name], { perm: [1, 0, 2, 3] }, hint);
    const dzT = graph.node('Transpose', [dz], { perm: [1, 0, 2, 3] }, hint);
    const full = graph.node('Conv', [xT, dzT], { strides: dilations, dilations: strides, pads, group: 1 }, `${hint}/kernel`);
    const sliced = graph.node('Slice', [full, graph.ints(`${hint}/starts`, [0, 0]), graph.ints(`${hint}/ends`, [kh, kw]), graph.ints(`${hint}/slice_axes`, [2, 3])], {}, `${hint}/kernel`);
    context.setWeightGradient(0, graph.node('Transpose', [sliced], { perm: [2, 3, 0, 1] }, `${hint}/kernel_hwio`));
    if (x.needsGradient) {
      const outputPadding = [
        height - ((outHeight - 1) * strides[0] + (kh - 1) * dilations[0] + 1 - pads[0]! - pads[2]!),
        width - ((outWidth - 1) * strides[1] + (kw - 1) * dilations[1] + 1 - pads[1]! - pads[3]!),
      ];
      const dx = graph.node('ConvTranspose', [dz, kernel], { kernel_shape: [kh, kw], strides, dilations, pads, output_padding: outputPadding, group: 1 }, `${hint}/input`);
      tape.setGradient(x, dx);
    }
  });
  const activation = activationOf(context);
  if (activation === 'softmax') throw unsupported(layer, 'has a softmax activation');
  return activation === 'relu' ? relu(tape, z, `${layer.name}/relu`) : z;
};
