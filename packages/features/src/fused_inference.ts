import * as tf from '@tensorflow/tfjs';

/** Activations a fused convolution kernel applies itself. */
type FusedActivation = 'relu' | 'relu6';

/** One step of the plan: the layer's output from the tensors it reads (by symbolic tensor id). */
interface Step {
  inputs: number[];
  output: number;
  run: (inputs: tf.Tensor[]) => tf.Tensor;
}

/** A model's forward pass for inference, with folded weights; `dispose` frees those weights. */
export interface InferencePlan {
  run(input: tf.Tensor): tf.Tensor[];
  dispose(): void;
}

type Config = Record<string, unknown>;
type Pair = [number, number];
type Padding = 'valid' | 'same';

function fusedActivationOf(layer: tf.layers.Layer): FusedActivation | undefined {
  const config = layer.getConfig() as Config;
  if (layer.getClassName() === 'Activation' && config.activation === 'relu') return 'relu';
  if (layer.getClassName() === 'ReLU') {
    if (config.maxValue == null) return 'relu';
    if (config.maxValue === 6) return 'relu6';
  }
  return undefined;
}

/** A convolution we can run as one fused kernel: NHWC, no activation of its own. */
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
function weightsByName(layer: tf.layers.Layer): Map<string, tf.Tensor> {
  const values = layer.getWeights();
  return new Map(layer.weights.map((w, i) => [w.originalName.split('/').at(-1)!, values[i]!]));
}

/**
 * conv -> [batch norm] -> [relu | relu6] as one fused convolution: inference batch norm
 * gamma * (z - mean) / sqrt(var + eps) + beta is a per-channel affine map, folded into the
 * kernel and bias (as TensorFlow's graph optimiser does), and the activation runs in the kernel.
 */
function fusedConvolution(
  conv: tf.layers.Layer,
  pad: Padding,
  batchNorm: tf.layers.Layer | undefined,
  activation: FusedActivation | undefined,
): {
  run: Step['run'];
  weights: tf.Tensor[];
} {
  const config = conv.getConfig() as Config;
  const depthwise = conv.getClassName() === 'DepthwiseConv2D';
  const { filter, bias } = tf.tidy(() => {
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
    return { filter: filter.clone(), bias: bias.clone() };
  });
  const args = {
    filter: filter as tf.Tensor4D,
    bias,
    strides: config.strides as [number, number],
    dilations: config.dilationRate as [number, number],
    activation: activation ?? ('linear' as const),
  };
  const run = depthwise
    ? ([x]: tf.Tensor[]) => tf.fused.depthwiseConv2d({ x: x as tf.Tensor4D, pad, ...args })
    : ([x]: tf.Tensor[]) => tf.fused.conv2d({ x: x as tf.Tensor4D, pad, ...args });
  return { run, weights: [filter, bias] };
}

/** TensorFlow's 'same' padding (before, after) of one spatial dimension. */
function samePadding(size: number, kernel: number, stride: number, dilation: number): Pair {
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
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

/**
 * Plans `model`'s forward pass for inference, fusing every convolution with the 'same'-like zero
 * padding before it and the batch norm and ReLU after it (when nothing else reads the tensors in
 * between) into one kernel: fewer passes over memory, the same result up to float rounding. Other layers run as they are. The plan
 * reads the model's weights now: build it after the weights are set.
 */
export function planInference(model: tf.LayersModel): InferencePlan {
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

  const steps: Step[] = [];
  const weights: tf.Tensor[] = [];
  const absorbed = new Set<tf.layers.Layer>();
  /** Convolutions that pad by themselves ('same'), reading the input of the zero padding before them. */
  const paddedInput = new Map<tf.layers.Layer, number>();
  for (const layer of model.layers) {
    const node = nodeOf(layer);
    if (layer.getClassName() === 'InputLayer' || absorbed.has(layer)) continue; // fused layers run inside their convolution
    let inputs = node.inputTensors.map((t) => t.id);
    let output = node.outputTensors[0]! as tf.SymbolicTensor;
    const reader = soleReader(output);
    if (layer.getClassName() === 'ZeroPadding2D' && reader !== undefined && isFusableConv(reader) && isSamePadding(layer, node.inputTensors[0]!, reader)) {
      paddedInput.set(reader, inputs[0]!);
      continue;
    }
    if (isFusableConv(layer)) {
      const padded = paddedInput.get(layer);
      if (padded !== undefined) inputs = [padded];
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
      const fused = fusedConvolution(layer, padded === undefined ? ((layer.getConfig() as Config).padding as Padding) : 'same', batchNorm, activation);
      weights.push(...fused.weights);
      steps.push({ inputs, output: output.id, run: fused.run });
    } else {
      steps.push({ inputs, output: output.id, run: (xs) => layer.apply(xs.length === 1 ? xs[0]! : xs) as tf.Tensor });
    }
  }

  // How many steps read each tensor, so each is freed right after its last reader.
  const readCounts = new Map<number, number>();
  for (const step of steps) for (const id of step.inputs) readCounts.set(id, (readCounts.get(id) ?? 0) + 1);
  const inputId = model.inputs[0]!.id;

  return {
    run(input) {
      const values = new Map<number, tf.Tensor>([[inputId, input]]);
      const remaining = new Map(readCounts);
      for (const step of steps) {
        // A layer's own temporaries (e.g. an unfused ReLU6: relu, then clip) go right away.
        values.set(step.output, tf.tidy(() => step.run(step.inputs.map((id) => values.get(id)!))));
        for (const id of step.inputs) {
          const left = remaining.get(id)! - 1;
          remaining.set(id, left);
          if (left === 0 && id !== inputId && !outputIds.includes(id)) {
            const tensor = values.get(id)!;
            values.delete(id);
            // A layer may pass its input through as its output: free only what nothing holds.
            if (![...values.values()].includes(tensor)) tensor.dispose();
          }
        }
      }
      return outputIds.map((id) => values.get(id)!);
    },
    dispose: () => tf.dispose(weights),
  };
}
