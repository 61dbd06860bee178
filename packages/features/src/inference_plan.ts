import * as tf from '@tensorflow/tfjs';
import { samePadding, type Pair } from '@flowers/core/onnx';

/** Activations a fused convolution applies itself. */
export type FusedActivation = 'relu' | 'relu6';
export type Padding = 'valid' | 'same';
type Config = Record<string, unknown>;

/**
 * conv -> [batch norm] -> [relu | relu6] as one convolution: inference batch norm
 * gamma * (z - mean) / sqrt(var + eps) + beta is a per-channel affine map, folded into the
 * kernel and bias (as TensorFlow's graph optimiser does), and the activation runs in the kernel.
 */
export interface ConvStep {
  kind: 'conv';
  /** The convolution layer (its name is the step's name in messages and graphs). */
  layer: tf.layers.Layer;
  depthwise: boolean;
  /** Folded kernel in tfjs layout: [h, w, in, out], or [h, w, in, multiplier] when depthwise. */
  filter: tf.Tensor4D;
  /** Folded bias, one per output channel. */
  bias: tf.Tensor1D;
  strides: Pair;
  dilations: Pair;
  padding: Padding;
  activation?: FusedActivation;
  /** Symbolic tensor ids read and written. */
  inputs: number[];
  output: number;
  /** [height, width, channels] of the input, for explicit padding. */
  inputShape: number[];
}

/** Any other layer, run (or exported) as it is. */
export interface LayerStep {
  kind: 'layer';
  layer: tf.layers.Layer;
  inputs: number[];
  output: number;
  inputShapes: number[][];
}

export type PlanStep = ConvStep | LayerStep;

/** A model's forward pass as plain steps in topological order, with folded weights. */
export interface LayerPlan {
  steps: PlanStep[];
  inputId: number;
  /** [height, width, channels] of the model input. */
  inputShape: number[];
  outputIds: number[];
  /** Frees the folded weights. */
  dispose(): void;
}

function fusedActivationOf(layer: tf.layers.Layer): FusedActivation | undefined {
  const config = layer.getConfig() as Config;
  if (layer.getClassName() === 'Activation' && config.activation === 'relu') return 'relu';
  if (layer.getClassName() === 'ReLU') {
    if (config.maxValue == null) return 'relu';
    if (config.maxValue === 6) return 'relu6';
  }
  return undefined;
}

/** A convolution we can fuse: NHWC, no activation of its own. */
function isFusableConv(layer: tf.layers.Layer): boolean {
  const config = layer.getConfig() as Config;
  return (
    (layer.getClassName() === 'Conv2D' || layer.getClassName() === 'DepthwiseConv2D') &&
    config.dataFormat === 'channelsLast' &&
    (config.activation === 'linear' || config.activation == null)
  );
}

function isFoldableBatchNorm(layer: tf.layers.Layer): boolean {
  const axis = (layer.getConfig() as Config).axis;
  return layer.getClassName() === 'BatchNormalization' && (axis === -1 || axis === 3);
}

/** A layer's current weights by their short name (kernel, bias, gamma, moving_mean...). */
export function weightsByName(layer: tf.layers.Layer): Map<string, tf.Tensor> {
  const values = layer.getWeights();
  return new Map(layer.weights.map((w, i) => [w.originalName.split('/').at(-1)!, values[i]!]));
}

function foldWeights(conv: tf.layers.Layer, batchNorm: tf.layers.Layer | undefined): { filter: tf.Tensor4D; bias: tf.Tensor1D } {
  const depthwise = conv.getClassName() === 'DepthwiseConv2D';
  return tf.tidy(() => {
    const own = weightsByName(conv);
    let filter = own.get(depthwise ? 'depthwise_kernel' : 'kernel')!;
    const outChannels = depthwise ? filter.shape[2]! * filter.shape[3]! : filter.shape[3]!;
    let bias = own.get('bias') ?? tf.zeros([outChannels]);
    if (batchNorm !== undefined) {
      const bn = weightsByName(batchNorm);
      const epsilon = (batchNorm.getConfig() as Config).epsilon as number;
      const scale = tf.div(bn.get('gamma') ?? tf.onesLike(bn.get('moving_mean')!), tf.sqrt(tf.add(bn.get('moving_variance')!, epsilon)));
      bias = tf.add(tf.mul(tf.sub(bias, bn.get('moving_mean')!), scale), bn.get('beta') ?? 0);
      // Output channel c of a depthwise kernel [h, w, in, multiplier] is in * multiplier + m.
      filter = tf.mul(filter, depthwise ? tf.reshape(scale, [1, 1, filter.shape[2]!, filter.shape[3]!]) : scale);
    }
    return { filter: filter.clone() as tf.Tensor4D, bias: bias.clone() as tf.Tensor1D };
  });
}

/**
 * Whether a ZeroPadding2D before a 'valid' convolution adds just what 'same' padding would (as
 * Keras' correct_pad does before MobileNetV2's stride-2 convolutions), so the convolution can
 * pad by itself.
 */
function isSamePadding(padLayer: tf.layers.Layer, padInput: tf.SymbolicTensor, conv: tf.layers.Layer): boolean {
  const padConfig = padLayer.getConfig() as Config;
  const convConfig = conv.getConfig() as Config;
  if (padConfig.dataFormat !== 'channelsLast' || convConfig.padding !== 'valid') return false;
  const [rows, cols] = padConfig.padding as [Pair, Pair];
  const [, height, width] = padInput.shape as number[];
  const [kh, kw] = convConfig.kernelSize as Pair;
  const [sh, sw] = convConfig.strides as Pair;
  const [dh, dw] = convConfig.dilationRate as Pair;
  const same = (a: Pair, b: Pair): boolean => a[0] === b[0] && a[1] === b[1];
  return same(rows, samePadding(height!, kh, sh, dh)) && same(cols, samePadding(width!, kw, sw, dw));
}

const rowShape = (t: tf.SymbolicTensor): number[] => t.shape.slice(1) as number[];

/**
 * Plans `model`'s forward pass for inference, fusing every convolution with the 'same'-like zero
 * padding before it and the batch norm and ReLU after it (when nothing else reads the tensors in
 * between) into one step; other layers stay as they are. The plan reads the model's weights now:
 * build it after the weights are set.
 */
export function planLayers(model: tf.LayersModel): LayerPlan {
  const nodeOf = (layer: tf.layers.Layer) => layer.inboundNodes[0]!;
  const outputIds = model.outputs.map((t) => t.id);
  const readers = new Map<number, tf.layers.Layer[]>();
  for (const layer of model.layers) {
    for (const t of nodeOf(layer).inputTensors) readers.set(t.id, [...(readers.get(t.id) ?? []), layer]);
  }
  /** The one layer reading `t`, when `t` is needed by nothing else (not a model output). */
  const soleReader = (t: tf.SymbolicTensor): tf.layers.Layer | undefined => {
    const layers = readers.get(t.id) ?? [];
    return layers.length === 1 && !outputIds.includes(t.id) ? layers[0] : undefined;
  };

  const steps: PlanStep[] = [];
  const absorbed = new Set<tf.layers.Layer>();
  /** Convolutions that pad by themselves ('same'), reading the input of the zero padding before them. */
  const paddedInput = new Map<tf.layers.Layer, tf.SymbolicTensor>();
  for (const layer of model.layers) {
    const node = nodeOf(layer);
    if (layer.getClassName() === 'InputLayer' || absorbed.has(layer)) continue; // fused layers run inside their convolution
    let inputTensors = node.inputTensors;
    let output = node.outputTensors[0]! as tf.SymbolicTensor;
    const reader = soleReader(output);
    if (layer.getClassName() === 'ZeroPadding2D' && reader !== undefined && isFusableConv(reader) && isSamePadding(layer, node.inputTensors[0]!, reader)) {
      paddedInput.set(reader, node.inputTensors[0]!);
      continue;
    }
    if (!isFusableConv(layer)) {
      steps.push({ kind: 'layer', layer, inputs: inputTensors.map((t) => t.id), output: output.id, inputShapes: inputTensors.map(rowShape) });
      continue;
    }
    const padded = paddedInput.get(layer);
    if (padded !== undefined) inputTensors = [padded];
    const batchNorm = reader !== undefined && isFoldableBatchNorm(reader) ? reader : undefined;
    if (batchNorm !== undefined) {
      absorbed.add(batchNorm);
      output = nodeOf(batchNorm).outputTensors[0]! as tf.SymbolicTensor;
    }
    const after = soleReader(output);
    const activation = after === undefined ? undefined : fusedActivationOf(after);
    if (activation !== undefined) {
      absorbed.add(after!);
      output = nodeOf(after!).outputTensors[0]! as tf.SymbolicTensor;
    }
    const config = layer.getConfig() as Config;
    steps.push({
      kind: 'conv',
      layer,
      depthwise: layer.getClassName() === 'DepthwiseConv2D',
      ...foldWeights(layer, batchNorm),
      strides: config.strides as Pair,
      dilations: config.dilationRate as Pair,
      padding: padded === undefined ? (config.padding as Padding) : 'same',
      ...(activation === undefined ? {} : { activation }),
      inputs: [inputTensors[0]!.id],
      output: output.id,
      inputShape: rowShape(inputTensors[0]!),
    });
  }
  return {
    steps,
    inputId: model.inputs[0]!.id,
    inputShape: rowShape(model.inputs[0]!),
    outputIds,
    dispose: () => tf.dispose(steps.flatMap((step) => (step.kind === 'conv' ? [step.filter, step.bias] : []))),
  };
}
