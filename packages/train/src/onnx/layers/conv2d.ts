import { explicitPads, type Pair } from '@flowers/core/onnx';
import type { OnnxGraph } from '@flowers/core/onnx';
import { toLayout, type Value } from '../tape.ts';
import { activationOf, unsupported, type LayerContext, type LayerWriter } from './layer.ts';

/**
 * Conv2D (+ ReLU, left pending: see Value.pending). The kernel stays in TensorFlow.js' [h, w, in, out] layout as a graph input
 * and is transposed to ONNX's [out, in, h, w] inside, so weights and gradients keep tfjs' layout.
 * Gradients as forward operators (checked against plain loops, see shared/notes/onnxruntime.md):
 * - input: ConvTranspose of dY with the forward kernel (see convInputGradient);
 * - kernel: one GEMM per kernel tap (see kernelGradient);
 * - bias: dY summed over batch and space.
 */
export const writeConv2D: LayerWriter = (context, [input]) => {
  const { tape, graph, layer, config } = context;
  const { x, geometry } = convInput(context, input);
  const filters = config.filters as number;
  const kernel = graph.node('Transpose', [context.weight('kernel')!], { perm: [3, 2, 0, 1] }, `${layer.name}/kernel_oihw`);
  const z = convOutput(context, x, kernel, geometry, 1, filters);
  tape.record(z, (dz) => {
    const hint = `${layer.name}/grad`;
    biasGradient(context, dz, hint);
    context.setWeightGradient('kernel', () => kernelGradient(graph, x, dz, geometry, filters, hint));
    if (x.needsGradient) tape.setGradient(x, convInputGradient(graph, dz, kernel, geometry, 1, hint));
  });
  return withActivation(context, z);
};

/** A convolution's window over its input map: kernel, strides, dilations, explicit pads, input and output sizes. */
export interface ConvGeometry {
  kernel: Pair;
  strides: Pair;
  dilations: Pair;
  /** [top, left, bottom, right]. */
  pads: number[];
  height: number;
  width: number;
  outHeight: number;
  outWidth: number;
}

/** The input as NCHW and the window of a (depthwise) convolution layer over it. */
export function convInput({ tape, layer, config }: LayerContext, input: Value): { x: Value; geometry: ConvGeometry } {
  if (config.dataFormat !== 'channelsLast') throw unsupported(layer, 'is not channels-last');
  const x = toLayout(tape, input, 'nchw', `${layer.name}/nchw`);
  const kernel = config.kernelSize as Pair;
  const strides = config.strides as Pair;
  const dilations = config.dilationRate as Pair;
  const [, height, width] = x.shape as [number, number, number];
  const pads = explicitPads(config.padding as string, [height, width], kernel, strides, dilations);
  const outSize = (size: number, k: number, s: number, d: number, padBegin: number, padEnd: number): number => Math.floor((size + padBegin + padEnd - (k - 1) * d - 1) / s) + 1;
  const outHeight = outSize(height, kernel[0], strides[0], dilations[0], pads[0]!, pads[2]!);
  const outWidth = outSize(width, kernel[1], strides[1], dilations[1], pads[1]!, pads[3]!);
  return { x, geometry: { kernel, strides, dilations, pads, height, width, outHeight, outWidth } };
}

/** The forward Conv node, with the layer's bias if it has one. */
export function convOutput(context: LayerContext, x: Value, kernel: string, { kernel: kernelShape, strides, dilations, pads, outHeight, outWidth }: ConvGeometry, group: number, filters: number): Value {
  const { graph, layer, config } = context;
  const attributes = { kernel_shape: kernelShape, strides, dilations, pads, group };
  return {
    name: graph.node('Conv', [x.name, kernel, ...(config.useBias !== false ? [context.weight('bias')!] : [])], attributes, layer.name),
    layout: 'nchw',
    shape: [filters, outHeight, outWidth],
    needsGradient: true,
  };
}

/** The bias gradient, if the layer has a bias: dY summed over batch and space. */
export function biasGradient({ graph, config, setWeightGradient }: LayerContext, dz: string, hint: string): void {
  if (config.useBias !== false) setWeightGradient('bias', () => graph.node('ReduceSum', [dz, graph.ints(`${hint}/axes`, [0, 2, 3])], { keepdims: 0 }, `${hint}/bias`));
}

/** A conv layer's activation: ReLU left pending; a softmax is refused (only the last Dense may have one). */
export function withActivation(context: LayerContext, z: Value): Value {
  const activation = activationOf(context);
  if (activation === 'softmax') throw unsupported(context.layer, 'has a softmax activation');
  return activation === 'relu' ? { ...z, pending: 'relu' } : z;
}

/** The input gradient: ConvTranspose of dY with the forward kernel, output_padding making up the rows a stride dropped. */
export function convInputGradient(graph: OnnxGraph, dz: string, kernel: string, { kernel: [kh, kw], strides, dilations, pads, height, width, outHeight, outWidth }: ConvGeometry, group: number, hint: string): string {
  const outputPadding = [
    height - ((outHeight - 1) * strides[0] + (kh - 1) * dilations[0] + 1 - pads[0]! - pads[2]!),
    width - ((outWidth - 1) * strides[1] + (kw - 1) * dilations[1] + 1 - pads[1]! - pads[3]!),
  ];
  return graph.node('ConvTranspose', [dz, kernel], { kernel_shape: [kh, kw], strides, dilations, pads, output_padding: outputPadding, group }, `${hint}/input`);
}

/**
 * The input window each kernel tap (i, j) sees, in row-major tap order: `input` (any [a, b, H, W]
 * tensor of the forward input) padded as the convolution pads it, sliced at the tap's offset
 * with the convolution's strides, [a, b, outHeight, outWidth].
 */
export function tapWindows(graph: OnnxGraph, input: string, { kernel: [kh, kw], strides, dilations, pads, outHeight, outWidth }: ConvGeometry, hint: string): string[] {
  const [top, left, bottom, right] = pads as [number, number, number, number];
  const padded = top + left + bottom + right > 0 ? graph.node('Pad', [input, graph.ints(`${hint}/pads`, [0, 0, top, left, 0, 0, bottom, right])], {}, hint) : input;
  const windows: string[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const starts = [i * dilations[0], j * dilations[1]];
      const ends = [starts[0]! + (outHeight - 1) * strides[0] + 1, starts[1]! + (outWidth - 1) * strides[1] + 1];
      windows.push(graph.node('Slice', [padded, graph.ints(`${hint}/starts`, starts), graph.ints(`${hint}/ends`, ends), graph.ints(`${hint}/axes`, [2, 3]), graph.ints(`${hint}/steps`, strides)], {}, `${hint}/tap`));
    }
  }
  return windows;
}

/**
 * dK[i, j] = sum over rows and positions of X shifted by tap (i, j) times dY: for each tap, one
 * GEMM of the input window [in, N*OH*OW] by dY [out, N*OH*OW]. (A single Conv of X^T by dY^T, as
 * in the notes, gives the same numbers, but as a convolution with a kernel the size of the
 * output map, which ran 3x slower than the forward convolution.)
 */
function kernelGradient(graph: OnnxGraph, x: Value, dz: string, geometry: ConvGeometry, filters: number, hint: string): string {
  const [inChannels] = x.shape as [number];
  const [kh, kw] = geometry.kernel;
  const xT = graph.node('Transpose', [x.name], { perm: [1, 0, 2, 3] }, `${hint}/input_t`);
  const dzT = graph.node('Reshape', [graph.node('Transpose', [dz], { perm: [1, 0, 2, 3] }, `${hint}/dy_t`), graph.ints(`${hint}/rows`, [filters, -1])], {}, hint);
  const rowsOf = graph.ints(`${hint}/window_rows`, [inChannels, -1]);
  const taps = tapWindows(graph, xT, geometry, hint).map((window) => {
    const tap = graph.node('Gemm', [graph.node('Reshape', [window, rowsOf], {}, `${hint}/tap`), dzT], { transB: 1 }, `${hint}/tap`);
    return graph.node('Unsqueeze', [tap, graph.ints(`${hint}/tap_axis`, [0])], {}, `${hint}/tap`);
  });
  const stacked = taps.length === 1 ? taps[0]! : graph.node('Concat', taps, { axis: 0 }, `${hint}/kernel`);
  return graph.node('Reshape', [stacked, graph.ints(`${hint}/kernel_shape`, [kh, kw, inChannels, filters])], {}, `${hint}/kernel`);
}
