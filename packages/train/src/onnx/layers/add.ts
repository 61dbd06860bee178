import { commonLayout, type Value } from '../tape.ts';
import type { LayerWriter } from './layer.ts';

/** Add (MobileNetV2's residuals): the inputs' sum; each input's gradient is dY itself. */
export const writeAdd: LayerWriter = ({ tape, graph, layer }, inputs) => {
  const xs = commonLayout(tape, inputs, layer.name);
  const y: Value = {
    ...xs[0]!,
    name: graph.node('Sum', xs.map((x) => x.name), {}, layer.name),
    needsGradient: xs.some((x) => x.needsGradient),
  };
  tape.record(y, (dy) => xs.forEach((x) => tape.setGradient(x, dy)));
  return y;
};
