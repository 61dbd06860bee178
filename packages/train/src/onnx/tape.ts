import type { OnnxGraph } from '@flowers/core/onnx';

/** A tensor of the graph being built, with what its consumers need to know about it. */
export interface Value {
  name: string;
  /** 'nchw' maps [C, H, W] (ONNX's convolutions), 'nhwc' maps [H, W, C] (TensorFlow.js'), 'flat' rows [F]. */
  layout: 'nchw' | 'nhwc' | 'flat';
  /** One row's shape (no batch dimension) in that layout. */
  shape: number[];
  /** Whether the loss's gradient flows back into it (not into the input, nor what only the input reaches). */
  needsGradient: boolean;
  /**
   * An activation still to apply: 'relu' is left to the next layer (max pooling applies it after
   * pooling, on a quarter of the values: max commutes with ReLU), 'softmax' to the loss.
   */
  pending?: 'relu' | 'softmax';
}

/**
 * Reverse-mode differentiation of a DAG of ONNX nodes: every forward op records how to turn its
 * output's gradient into its inputs' (and its weights') gradients, as more ONNX nodes. After the
 * loss, `backpropagate` writes those nodes, last op first: ops are recorded in topological order,
 * so every consumer of a value has given its share of the value's gradient before that value's
 * own backward runs. A value read by several consumers gets the Sum of their shares.
 */
export class GradientTape {
  private readonly steps: Array<{ output: Value; backward: (dOutput: string) => void }> = [];
  private readonly gradients = new Map<string, string[]>();

  constructor(readonly graph: OnnxGraph) {}

  /** `backward` gets the gradient of `output` and calls `setGradient` for each input that needs one. */
  record(output: Value, backward: (dOutput: string) => void): void {
    if (output.needsGradient) this.steps.push({ output, backward });
  }

  /** Adds one consumer's share to the gradient of `value`. */
  setGradient(value: Value, gradient: string): void {
    if (!value.needsGradient) return;
    const shares = this.gradients.get(value.name);
    if (shares) shares.push(gradient);
    else this.gradients.set(value.name, [gradient]);
  }

  backpropagate(): void {
    for (const { output, backward } of this.steps.reverse()) {
      const shares = this.gradients.get(output.name);
      if (shares === undefined) continue;
      backward(shares.length === 1 ? shares[0]! : this.graph.node('Sum', shares, {}, `${output.name}/grad_sum`));
    }
  }
}

/** A layout change (a transpose) and its gradient, the inverse transpose. */
export function toLayout(tape: GradientTape, value: Value, layout: 'nchw' | 'nhwc', hint: string): Value {
  if (value.layout === layout) return value;
  if (value.layout === 'flat') throw new Error(`training graph: ${hint} needs a spatial map, got flat rows`);
  const [a, b, c] = value.shape as [number, number, number];
  const toNchw = layout === 'nchw';
  const perm = toNchw ? [0, 3, 1, 2] : [0, 2, 3, 1];
  const inverse = toNchw ? [0, 2, 3, 1] : [0, 3, 1, 2];
  const output: Value = { ...value, name: tape.graph.node('Transpose', [value.name], { perm }, hint), layout, shape: toNchw ? [c, a, b] : [b, c, a] };
  tape.record(output, (dy) => tape.setGradient(value, tape.graph.node('Transpose', [dy], { perm: inverse }, `${hint}/grad`)));
  return output;
}

/** Inputs of an element-wise or channel-wise merge (Add, Concatenate) in one layout: flat rows if all are, else NCHW maps. */
export function commonLayout(tape: GradientTape, inputs: Value[], hint: string): Value[] {
  return inputs.every((input) => input.layout === 'flat') ? inputs : inputs.map((input, i) => toLayout(tape, input, 'nchw', `${hint}/nchw_${i}`));
}

/** ReLU and its gradient: dy where the input was positive, else 0 (Where: a bool-to-float Cast ran 8x slower). */
export function relu(tape: GradientTape, z: Value, hint: string): Value {
  const { graph } = tape;
  const { pending: _applied, ...rest } = z;
  const output: Value = { ...rest, name: graph.node('Relu', [z.name], {}, hint) };
  tape.record(output, (dy) => {
    const zero = graph.scalar(`${hint}/zero`, 0);
    tape.setGradient(z, graph.node('Where', [graph.node('Greater', [z.name, zero], {}, `${hint}/grad`), dy, zero], {}, `${hint}/grad`));
  });
  return output;
}
