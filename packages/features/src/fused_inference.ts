import * as tf from '@tensorflow/tfjs';
import { planLayers, type ConvStep, type PlanStep } from './inference_plan.ts';

/** A model's forward pass for inference on TensorFlow.js, with folded weights; `dispose` frees those weights. */
export interface InferencePlan {
  run(input: tf.Tensor): tf.Tensor[];
  dispose(): void;
}

/** One fused tfjs kernel per convolution step. */
function runConvolution(step: ConvStep): (inputs: tf.Tensor[]) => tf.Tensor {
  const args = {
    filter: step.filter,
    bias: step.bias,
    strides: step.strides,
    dilations: step.dilations,
    pad: step.padding,
    activation: step.activation ?? ('linear' as const),
  };
  return step.depthwise
    ? ([x]) => tf.fused.depthwiseConv2d({ x: x as tf.Tensor4D, ...args })
    : ([x]) => tf.fused.conv2d({ x: x as tf.Tensor4D, ...args });
}

function runStep(step: PlanStep): (inputs: tf.Tensor[]) => tf.Tensor {
  if (step.kind === 'conv') return runConvolution(step);
  return (xs) => step.layer.apply(xs.length === 1 ? xs[0]! : xs) as tf.Tensor;
}

/**
 * Runs `model`'s forward pass as planLayers plans it (every convolution fused with its padding,
 * batch norm and ReLU): fewer passes over memory, the same result up to float rounding. Build it
 * after the weights are set.
 */
export function planInference(model: tf.LayersModel): InferencePlan {
  const plan = planLayers(model);
  const steps = plan.steps.map((step) => ({ inputs: step.inputs, output: step.output, run: runStep(step) }));
  const { inputId, outputIds } = plan;
  // How many steps read each tensor, so each is freed right after its last reader.
  const readCounts = new Map<number, number>();
  for (const step of steps) for (const id of step.inputs) readCounts.set(id, (readCounts.get(id) ?? 0) + 1);

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
    dispose: plan.dispose,
  };
}
