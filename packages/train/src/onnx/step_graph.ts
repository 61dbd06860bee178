import * as tf from '@tensorflow/tfjs';
import { OnnxGraph } from '@flowers/core/onnx';
import { crossEntropy } from './loss.ts';
import { GradientTape, relu, type Value } from './tape.ts';
import { LAYER_WRITERS, TAKES_PENDING_RELU, UnsupportedForOnnx, unsupported } from './layers/index.ts';

const BATCH = 'batch';
export const STEP_INPUTS = { rows: 'rows', targets: 'targets', rowScale: 'row_scale' } as const;
export const STEP_OUTPUTS = { loss: 'loss', hits: 'hits', probabilities: 'probabilities' } as const;
export const weightInput = (index: number): string => `weight_${index}`;
export const gradientOutput = (index: number): string => `gradient_${index}`;
/** Non-trainable weights (batch norm's moving statistics, fixed scales) go in as `state_i`, by model.nonTrainableWeights index. */
export const stateInput = (index: number): string => `state_${index}`;
export const stateOutput = (index: number): string => `state_update_${index}`;
export const maskInput = (layerName: string): string => `mask_${layerName}`;

export interface DropoutMaskSpec {
  layer: string;
  /** One row of the mask. */
  shape: number[];
  rate: number;
}

export interface TrainingGraphs {
  /** rows, targets, row scales, masks, weights and states in; loss, hits, every weight's gradient and the updated states out. */
  train: Uint8Array;
  /** rows, weights and states in; class probabilities out. */
  infer: Uint8Array;
  /** The masks the training graph takes, one input per Dropout layer. */
  dropouts: DropoutMaskSpec[];
  /** The model.nonTrainableWeights indices whose new values the training graph outputs. */
  updatedStates: number[];
}

/** Every layer of `model`, those of nested models included (for the graph's reserved names). */
function allLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.flatMap((layer) => (layer instanceof tf.LayersModel ? [layer, ...allLayers(layer)] : [layer]));
}

/** Where a weight goes in and its gradient or new value comes out. */
interface WeightSlot {
  input: string;
  shape: number[];
  /** Set for trainable weights. */
  gradient?: string;
  /** Set for non-trainable ones. */
  update?: { index: number; output: string };
}

/** Writes one pass over the model; in training, with the loss, the gradients of every trainable weight and the updated states. */
function writePass(model: tf.LayersModel, training: boolean): { graph: OnnxGraph; dropouts: DropoutMaskSpec[]; updatedStates: number[] } {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new UnsupportedForOnnx(`model ${model.name} has several inputs or outputs`);
  const graph = new OnnxGraph(`${model.name}_${training ? 'train' : 'infer'}`, [
    ...Object.values(STEP_INPUTS),
    ...Object.values(STEP_OUTPUTS),
    ...model.trainableWeights.flatMap((_, i) => [weightInput(i), gradientOutput(i)]),
    ...model.nonTrainableWeights.flatMap((_, i) => [stateInput(i), stateOutput(i)]),
    ...allLayers(model).map((layer) => maskInput(layer.name)),
  ]);
  const tape = new GradientTape(graph);
  const rowShape = model.inputs[0]!.shape.slice(1) as number[];
  graph.input(STEP_INPUTS.rows, 'float32', [BATCH, ...rowShape]);
  const slots = new Map<tf.LayerVariable, WeightSlot>();
  model.trainableWeights.forEach((w, i) => slots.set(w, { input: graph.input(weightInput(i), 'float32', w.shape as number[]), shape: w.shape as number[], gradient: gradientOutput(i) }));
  model.nonTrainableWeights.forEach((w, i) => slots.set(w, { input: graph.input(stateInput(i), 'float32', w.shape as number[]), shape: w.shape as number[], update: { index: i, output: stateOutput(i) } }));
  const dropouts: DropoutMaskSpec[] = [];
  const updatedStates: number[] = [];
  // A pending ReLU is applied once per value, however many layers read it.
  const applied = new Map<string, Value>();
  const withRelu = (value: Value, hint: string): Value => {
    if (!applied.has(value.name)) applied.set(value.name, relu(tape, value, hint));
    return applied.get(value.name)!;
  };

  const write = (layer: tf.layers.Layer, received: Value[]): Value => {
    const className = layer.getClassName();
    const writer = LAYER_WRITERS[className];
    if (writer === undefined) throw unsupported(layer, 'has no training-graph writer');
    const inputs = received.map((value) => {
      if (value.pending === 'softmax') throw unsupported(layer, 'comes after a softmax; the softmax must end the model');
      return value.pending === 'relu' && !TAKES_PENDING_RELU.has(className) ? withRelu(value, `${layer.name}/input_relu`) : value;
    }) as [Value, ...Value[]];
    const slotOf = (name: string): WeightSlot | undefined => {
      const weight = layer.weights.find((w) => w.originalName.split('/').at(-1) === name);
      return weight === undefined ? undefined : slots.get(weight);
    };
    return writer(
      {
        tape,
        graph,
        layer,
        config: layer.getConfig() as Record<string, unknown>,
        weight: (name) => slotOf(name)?.input,
        setWeightGradient: (name, gradient) => {
          const slot = slotOf(name)!;
          if (slot.gradient !== undefined) graph.output(gradient(), slot.gradient, 'float32', slot.shape);
        },
        setWeightUpdate: (name, value) => {
          const { update, shape } = slotOf(name)!;
          if (update === undefined) throw unsupported(layer, `updates its trainable weight '${name}' in the forward pass`);
          graph.output(value, update.output, 'float32', shape);
          updatedStates.push(update.index);
        },
        training,
        dropoutMask: (shape) => {
          dropouts.push({ layer: layer.name, shape, rate: (layer.getConfig() as { rate: number }).rate });
          return graph.input(maskInput(layer.name), 'float32', [BATCH, ...shape]);
        },
      },
      inputs,
    );
  };

  // The model's graph, walked back from its output: each symbolic tensor maps to the Value that
  // holds it. A nested model (fine-tuning's base top) is walked inside, its inputs mapped to
  // what its caller feeds it. The recursion returns in topological order, which the tape needs.
  const values = new Map<number, Value>([[model.inputs[0]!.id, { name: STEP_INPUTS.rows, layout: rowShape.length === 3 ? 'nhwc' : 'flat', shape: rowShape, needsGradient: false }]]);
  const written = new Set<tf.layers.Layer>();
  const valueOf = (tensor: tf.SymbolicTensor): Value => {
    const known = values.get(tensor.id);
    if (known !== undefined) return known;
    const layer = tensor.sourceLayer as tf.layers.Layer;
    const node = layer.inboundNodes[tensor.nodeIndex]!;
    if (node.inputTensors.length === 0) throw new UnsupportedForOnnx(`model ${model.name} reads '${layer.name}', which is not its input`);
    const inputs = node.inputTensors.map(valueOf);
    if (written.has(layer)) throw unsupported(layer, 'is used more than once');
    written.add(layer);
    if (layer instanceof tf.LayersModel) {
      if (layer.inputs.length !== inputs.length || layer.outputs.length !== 1) throw unsupported(layer, 'has several outputs');
      layer.inputs.forEach((input, i) => values.set(input.id, inputs[i]!));
      values.set(node.outputTensors[0]!.id, valueOf(layer.outputs[0]!));
    } else {
      values.set(node.outputTensors[0]!.id, write(layer, inputs));
    }
    return values.get(tensor.id)!;
  };
  const value = valueOf(model.outputs[0]!);

  if (value.pending !== 'softmax') throw new UnsupportedForOnnx(`model ${model.name} does not end in a softmax Dense layer`);
  const classes = value.shape[0]!;
  if (!training) {
    graph.output(graph.node('Softmax', [value.name], { axis: -1 }, 'probabilities'), STEP_OUTPUTS.probabilities, 'float32', [BATCH, classes]);
    return { graph, dropouts, updatedStates };
  }
  graph.input(STEP_INPUTS.targets, 'float32', [BATCH, classes]);
  graph.input(STEP_INPUTS.rowScale, 'float32', [BATCH]);
  const { loss, hits, dLogits } = crossEntropy(graph, value.name, STEP_INPUTS.targets, STEP_INPUTS.rowScale);
  graph.output(loss, STEP_OUTPUTS.loss, 'float32', []);
  graph.output(hits, STEP_OUTPUTS.hits, 'float32', []);
  tape.setGradient(value, dLogits);
  tape.backpropagate();
  return { graph, dropouts, updatedStates };
}

/**
 * The model as two ONNX graphs built from its TensorFlow.js layers: one training step (forward,
 * loss and backward, whose gradients the trainer applies) and inference. Weights and states are
 * inputs, so the same graphs serve every step. A model with a layer the writers do not handle throws
 * UnsupportedForOnnx, naming it.
 */
export function buildTrainingGraphs(model: tf.LayersModel): TrainingGraphs {
  const train = writePass(model, true);
  const infer = writePass(model, false);
  return { train: train.graph.encode(), infer: infer.graph.encode(), dropouts: train.dropouts, updatedStates: train.updatedStates };
}
