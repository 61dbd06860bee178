import type * as tf from '@tensorflow/tfjs';
import { OnnxGraph } from '@flowers/core/onnx';
import { crossEntropy } from './loss.ts';
import { GradientTape, relu, type Value } from './tape.ts';
import { LAYER_WRITERS, TAKES_PENDING_RELU, UnsupportedForOnnx, unsupported } from './layers/index.ts';

const BATCH = 'batch';
export const STEP_INPUTS = { rows: 'rows', targets: 'targets', rowScale: 'row_scale' } as const;
export const STEP_OUTPUTS = { loss: 'loss', hits: 'hits', probabilities: 'probabilities' } as const;
export const weightInput = (index: number): string => `weight_${index}`;
export const gradientOutput = (index: number): string => `gradient_${index}`;
export const maskInput = (layerName: string): string => `mask_${layerName}`;

export interface DropoutMaskSpec {
  layer: string;
  /** One row of the mask. */
  shape: number[];
  rate: number;
}

export interface TrainingGraphs {
  /** rows, targets, row scales, masks and weights in; loss, hits and every weight's gradient out. */
  train: Uint8Array;
  /** rows and weights in; class probabilities out. */
  infer: Uint8Array;
  /** The masks the training graph takes, one input per Dropout layer. */
  dropouts: DropoutMaskSpec[];
}

/** The model's layers in order, when it is a chain (each layer reads the one before); else why not. */
function chainOf(model: tf.LayersModel): tf.layers.Layer[] {
  const layers = model.layers.filter((layer) => layer.getClassName() !== 'InputLayer');
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new UnsupportedForOnnx(`model ${model.name} has several inputs or outputs`);
  let previous = model.inputs[0]!;
  for (const layer of layers) {
    if (layer.inboundNodes.length !== 1) throw new UnsupportedForOnnx(`layer '${layer.name}' is used more than once`);
    const inputs = layer.inboundNodes[0]!.inputTensors;
    if (inputs.length !== 1 || inputs[0]!.id !== previous.id) throw new UnsupportedForOnnx(`model ${model.name} is not a chain of layers (at '${layer.name}')`);
    previous = layer.inboundNodes[0]!.outputTensors[0]!;
  }
  return layers;
}

/** Writes one pass over the model; in training, with the loss and the gradients of every trainable weight. */
function writePass(model: tf.LayersModel, training: boolean): { graph: OnnxGraph; dropouts: DropoutMaskSpec[] } {
  const layers = chainOf(model);
  const graph = new OnnxGraph(`${model.name}_${training ? 'train' : 'infer'}`, [
    ...Object.values(STEP_INPUTS),
    ...Object.values(STEP_OUTPUTS),
    ...model.trainableWeights.flatMap((_, i) => [weightInput(i), gradientOutput(i)]),
    ...layers.map((layer) => maskInput(layer.name)),
  ]);
  const tape = new GradientTape(graph);
  const rowShape = model.inputs[0]!.shape.slice(1) as number[];
  graph.input(STEP_INPUTS.rows, 'float32', [BATCH, ...rowShape]);
  const weightIndex = new Map(model.trainableWeights.map((w, i) => [w, i]));
  const dropouts: DropoutMaskSpec[] = [];
  const weightShapes = model.trainableWeights.map((w) => w.shape as number[]);
  weightShapes.forEach((shape, i) => graph.input(weightInput(i), 'float32', shape));

  let value: Value = { name: STEP_INPUTS.rows, layout: rowShape.length === 3 ? 'nhwc' : 'flat', shape: rowShape, needsGradient: false };
  for (const layer of layers) {
    if (value.pending === 'softmax') throw unsupported(layer, 'comes after a softmax; the softmax must end the model');
    const writer = LAYER_WRITERS[layer.getClassName()];
    if (writer === undefined) throw unsupported(layer, 'has no training-graph writer');
    if (value.pending === 'relu' && !TAKES_PENDING_RELU.has(layer.getClassName())) value = relu(tape, value, `${layer.name}/input_relu`);
    if (layer.nonTrainableWeights.length > 0) throw unsupported(layer, 'has non-trainable weights');
    const indices = layer.trainableWeights.map((w) => weightIndex.get(w)!);
    value = writer(
      {
        tape,
        graph,
        layer,
        config: layer.getConfig() as Record<string, unknown>,
        weights: indices.map(weightInput),
        setWeightGradient: (local, gradient) => graph.output(gradient, gradientOutput(indices[local]!), 'float32', weightShapes[indices[local]!]!),
        training,
        dropoutMask: (shape) => {
          dropouts.push({ layer: layer.name, shape, rate: (layer.getConfig() as { rate: number }).rate });
          return graph.input(maskInput(layer.name), 'float32', [BATCH, ...shape]);
        },
      },
      value,
    );
  }
  if (value.pending !== 'softmax') throw new UnsupportedForOnnx(`model ${model.name} does not end in a softmax Dense layer`);
  const classes = value.shape[0]!;
  if (!training) {
    graph.output(graph.node('Softmax', [value.name], { axis: -1 }, 'probabilities'), STEP_OUTPUTS.probabilities, 'float32', [BATCH, classes]);
    return { graph, dropouts };
  }
  graph.input(STEP_INPUTS.targets, 'float32', [BATCH, classes]);
  graph.input(STEP_INPUTS.rowScale, 'float32', [BATCH]);
  const { loss, hits, dLogits } = crossEntropy(graph, value.name, STEP_INPUTS.targets, STEP_INPUTS.rowScale);
  graph.output(loss, STEP_OUTPUTS.loss, 'float32', []);
  graph.output(hits, STEP_OUTPUTS.hits, 'float32', []);
  tape.setGradient(value, dLogits);
  tape.backpropagate();
  return { graph, dropouts };
}

/**
 * The model as two ONNX graphs built from its TensorFlow.js layers: one training step (forward,
 * loss and backward, whose gradients the trainer applies) and inference. Weights are inputs, so
 * the same graphs serve every step. A model with a layer the writers do not handle throws
 * UnsupportedForOnnx, naming it.
 */
export function buildTrainingGraphs(model: tf.LayersModel): TrainingGraphs {
  const train = writePass(model, true);
  const infer = writePass(model, false);
  return { train: train.graph.encode(), infer: infer.graph.encode(), dropouts: train.dropouts };
}
