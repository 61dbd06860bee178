import { toLayout, type Value } from '../tape.ts';
import { unsupported, type LayerWriter } from './layer.ts';

/** GlobalAveragePooling2D; its gradient spreads dY evenly over each map. */
export const writeGlobalAveragePooling2D: LayerWriter = ({ tape, graph, layer, config }, [input]) => {
  if (config.dataFormat !== 'channelsLast') throw unsupported(layer, 'is not channels-last');
  const x = toLayout(tape, input, 'nchw', `${layer.name}/nchw`);
  const [channels, height, width] = x.shape as [number, number, number];
  const y: Value = {
    name: graph.node('Flatten', [graph.node('GlobalAveragePool', [x.name], {}, layer.name)], { axis: 1 }, layer.name),
    layout: 'flat',
    shape: [channels],
    needsGradient: x.needsGradient,
  };
  tape.record(y, (dy) => {
    const hint = `${layer.name}/grad`;
    const perCell = graph.node('Div', [graph.node('Reshape', [dy, graph.ints(`${hint}/shape`, [0, channels, 1, 1])], {}, hint), graph.scalar(`${hint}/cells`, height * width)], {}, hint);
    tape.setGradient(x, graph.node('Expand', [perCell, graph.node('Shape', [x.name], {}, hint)], {}, hint));
  });
  return y;
};
