import * as tf from '@tensorflow/tfjs';
import { UserError } from '@flowers/core';

/**
 * Splits a functional model at `layerName`: `bottom` maps the model input to that layer's
 * output; `top` is a new model whose input has the shape of that output and which re-applies
 * the same (weight-sharing) later layers, so top(bottom(x)) = model(x) and training `top` on
 * cached bottom activations trains the model's upper layers. The layer must be a clean cut:
 * nothing after it may read a tensor from before it.
 */
export function splitAtLayer(model: tf.LayersModel, layerName: string): { bottom: tf.LayersModel; top: tf.LayersModel } {
  const cut = model.layers.find((layer) => layer.name === layerName);
  if (cut === undefined) throw new UserError(`model ${model.name} has no layer '${layerName}' to split at`);
  const cutOutput = cut.output as tf.SymbolicTensor;
  const bottom = tf.model({ inputs: model.inputs, outputs: cutOutput, name: `${model.name}_to_${layerName}` });

  const topInput = tf.input({ shape: cutOutput.shape.slice(1) as number[], name: `${layerName}_features` });
  // Original symbolic tensor id -> its counterpart in the top model.
  const mapped = new Map<number, tf.SymbolicTensor>([[cutOutput.id, topInput]]);
  // model.layers is in topological order; each layer's first inbound node is the one it got
  // when the model was built (splitting adds later nodes to the shared layers).
  for (const layer of model.layers) {
    if (layer === cut || layer.inboundNodes.length === 0) continue;
    const inputs = layer.inboundNodes[0]!.inputTensors;
    const found = inputs.map((t) => mapped.get(t.id));
    if (found.every((t) => t === undefined)) continue;
    if (found.some((t) => t === undefined)) {
      throw new UserError(`cannot split ${model.name} at '${layerName}': layer '${layer.name}' also reads a tensor from before it`);
    }
    const applied = layer.apply(found.length === 1 ? found[0]! : (found as tf.SymbolicTensor[])) as tf.SymbolicTensor;
    mapped.set((layer.inboundNodes[0]!.outputTensors[0] as tf.SymbolicTensor).id, applied);
  }
  const outputs = model.outputs.map((t) => mapped.get(t.id));
  if (outputs.some((t) => t === undefined)) {
    throw new UserError(`cannot split ${model.name} at '${layerName}': the model output does not depend on it alone`);
  }
  const top = tf.model({ inputs: topInput, outputs: outputs as tf.SymbolicTensor[], name: `${model.name}_from_${layerName}` });
  return { bottom, top };
}
