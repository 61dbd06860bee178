import { explicitPads, type Pair } from '@flowers/core/onnx';
import { relu, toLayout, type Value } from '../tape.ts';
import { unsupported, type LayerWriter } from './layer.ts';

/**
 * MaxPooling2D. Its gradient puts dY back where each window's maximum was: MaxPool's second
 * output holds those positions (flat over N*C*H*W). Windows that do not overlap (stride = pool
 * size, no padding; the scratch CNN's) take each position once, so MaxUnpool places dY exactly;
 * overlapping ones need ScatterElements with 'add', 5x slower. A ReLU pending on the input is
 * applied after pooling: the same values, and its gradient on a quarter of them.
 */
export const writeMaxPooling2D: LayerWriter = ({ tape, graph, layer, config }, [input]) => {
  if (config.dataFormat !== 'channelsLast') throw unsupported(layer, 'is not channels-last');
  const { pending, ...rest } = input;
  const x = toLayout(tape, rest, 'nchw', `${layer.name}/nchw`);
  const kernel = config.poolSize as Pair;
  const strides = config.strides as Pair;
  const [channels, height, width] = x.shape as [number, number, number];
  const pads = explicitPads(config.padding as string, [height, width], kernel, strides);
  const [values, indices] = graph.nodeWithOutputs('MaxPool', [x.name], { kernel_shape: kernel, strides, pads }, layer.name, 2);
  const size = (n: number, k: number, s: number, begin: number, end: number): number => Math.floor((n + begin + end - k) / s) + 1;
  const y: Value = { name: values!, layout: 'nchw', shape: [channels, size(height, kernel[0], strides[0], pads[0]!, pads[2]!), size(width, kernel[1], strides[1], pads[1]!, pads[3]!)], needsGradient: x.needsGradient };
  const disjoint = kernel[0] === strides[0] && kernel[1] === strides[1] && pads.every((p) => p === 0);
  tape.record(y, (dy) => {
    const hint = `${layer.name}/grad`;
    const shape = graph.node('Shape', [x.name], {}, hint);
    if (disjoint) {
      tape.setGradient(x, graph.node('MaxUnpool', [dy, indices!, shape], { kernel_shape: kernel, strides }, hint));
      return;
    }
    const flat = graph.ints(`${hint}/flat`, [-1]);
    const zeros = graph.node('Reshape', [graph.node('ConstantOfShape', [shape], {}, hint), flat], {}, hint);
    const scattered = graph.node(
      'ScatterElements',
      [zeros, graph.node('Reshape', [indices!, flat], {}, hint), graph.node('Reshape', [dy, flat], {}, hint)],
      { axis: 0, reduction: { text: 'add' } },
      hint,
    );
    tape.setGradient(x, graph.node('Reshape', [scattered, shape], {}, hint));
  });
  if (pending === 'softmax') throw unsupported(layer, 'comes after a softmax');
  return pending === 'relu' ? relu(tape, y, `${layer.name}/relu`) : y;
};
