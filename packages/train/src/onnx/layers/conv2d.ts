import { explicitPads, type Pair } from '@flowers/core/onnx';
import type { OnnxGraph } from '@flowers/core/onnx';
import { toLayout, type Value } from '../tape.ts';
import { activationOf, unsupported, type LayerWriter } from './layer.ts';

/**
 * Conv2D (+ ReLU, left pending: see Value.pending). The kernel stays in TensorFlow.js' [h, w, in, out] layout as a graph input
 * and is transposed to ONNX's [out, in, h, w] inside, so weights and gradients keep tfjs' layout.
 * Gradients as forward operators (checked against plain loops, see shared/notes/onnxruntime.md):
 * - input: ConvTranspose of dY with the forward kernel, output_padding making up the lost rows;
 * - kernel: one GEMM per kernel tap (see kernelGradient);
 * - bias: dY summed over batch and space.
 */
export const writeConv2D: LayerWriter = (context, [input]) => {
  const { tape, graph, layer, config } = context;
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

  const kernel = graph.node('Transpose', [context.weight('kernel')!], { perm: [3, 2, 0, 1] }, `${layer.name}/kernel_oihw`);
  const hasBias = config.useBias !== false;
  const attributes = { kernel_shape: [kh, kw], strides, dilations, pads, group: 1 };
  const z: Value = {
    name: graph.node('Conv', [x.name, kernel, ...(hasBias ? [context.weight('bias')!] : [])], attributes, layer.name),
    layout: 'nchw',
    shape: [filters, outHeight, outWidth],
    needsGradient: true,
  };
  tape.record(z, (dz) => {
    const hint = `${layer.name}/grad`;
    if (hasBias) context.setWeightGradient('bias', () => graph.node('ReduceSum', [dz, graph.ints(`${hint}/axes`, [0, 2, 3])], { keepdims: 0 }, `${hint}/bias`));
    context.setWeightGradient('kernel', () => kernelGradient(graph, x, dz, { kh, kw, strides, dilations, pads, outHeight, outWidth, filters }, hint));
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
  return activation === 'relu' ? { ...z, pending: 'relu' } : z;
};

/**
 * dK[i, j] = sum over rows and positions of X shifted by tap (i, j) times dY: for each tap, one
 * GEMM of the input window [in, N*OH*OW] by dY [out, N*OH*OW]. (A single Conv of X^T by dY^T, as
 * in the notes, gives the same numbers, but as a convolution with a kernel the size of the
 * output map, which ran 3x slower than the forward convolution.)
 */
function kernelGradient(
  graph: OnnxGraph,
  x: Value,
  dz: string,
  { kh, kw, strides, dilations, pads, outHeight, outWidth, filters }: { kh: number; kw: number; strides: Pair; dilations: Pair; pads: number[]; outHeight: number; outWidth: number; filters: number },
  hint: string,
): string {
  const [inChannels] = x.shape as [number];
  const [top, left, bottom, right] = pads as [number, number, number, number];
  const padded = top + left + bottom + right > 0 ? graph.node('Pad', [x.name, graph.ints(`${hint}/pads`, [0, 0, top, left, 0, 0, bottom, right])], {}, hint) : x.name;
  const xT = graph.node('Transpose', [padded], { perm: [1, 0, 2, 3] }, `${hint}/input_t`);
  const dzT = graph.node('Reshape', [graph.node('Transpose', [dz], { perm: [1, 0, 2, 3] }, `${hint}/dy_t`), graph.ints(`${hint}/rows`, [filters, -1])], {}, hint);
  const rowsOf = graph.ints(`${hint}/window_rows`, [inChannels, -1]);
  const taps: string[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const starts = [i * dilations[0], j * dilations[1]];
      const ends = [starts[0]! + (outHeight - 1) * strides[0] + 1, starts[1]! + (outWidth - 1) * strides[1] + 1];
      const window = graph.node('Slice', [xT, graph.ints(`${hint}/starts`, starts), graph.ints(`${hint}/ends`, ends), graph.ints(`${hint}/axes`, [2, 3]), graph.ints(`${hint}/steps`, strides)], {}, `${hint}/tap`);
      const tap = graph.node('Gemm', [graph.node('Reshape', [window, rowsOf], {}, `${hint}/tap`), dzT], { transB: 1 }, `${hint}/tap`);
      taps.push(graph.node('Unsqueeze', [tap, graph.ints(`${hint}/tap_axis`, [0])], {}, `${hint}/tap`));
    }
  }
  const stacked = taps.length === 1 ? taps[0]! : graph.node('Concat', taps, { axis: 0 }, `${hint}/kernel`);
  return graph.node('Reshape', [stacked, graph.ints(`${hint}/kernel_shape`, [kh, kw, inChannels, filters])], {}, `${hint}/kernel`);
}
