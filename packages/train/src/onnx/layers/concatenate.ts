import { commonLayout, type Value } from '../tape.ts';
import { unsupported, type LayerWriter } from './layer.ts';

/** Concatenate along the channels (of maps, or of flat rows); its gradient is dY split back into the inputs' widths. */
export const writeConcatenate: LayerWriter = ({ tape, graph, layer, config }, inputs) => {
  const rank = inputs.every((input) => input.layout === 'flat') ? 2 : 4;
  const axis = config.axis as number;
  if (axis !== -1 && axis !== rank - 1) throw unsupported(layer, 'concatenates along an axis other than the channels');
  const xs = commonLayout(tape, inputs, layer.name);
  const widths = xs.map((x) => x.shape[0]!);
  const y: Value = {
    name: graph.node('Concat', xs.map((x) => x.name), { axis: 1 }, layer.name),
    layout: xs[0]!.layout,
    shape: [widths.reduce((a, b) => a + b, 0), ...xs[0]!.shape.slice(1)],
    needsGradient: xs.some((x) => x.needsGradient),
  };
  tape.record(y, (dy) => {
    const hint = `${layer.name}/grad`;
    const parts = graph.nodeWithOutputs('Split', [dy, graph.ints(`${hint}/widths`, widths)], { axis: 1 }, hint, xs.length);
    xs.forEach((x, i) => tape.setGradient(x, parts[i]!));
  });
  return y;
};
