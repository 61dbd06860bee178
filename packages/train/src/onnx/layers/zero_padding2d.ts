import { toLayout, type Value } from '../tape.ts';
import { unsupported, type LayerWriter } from './layer.ts';

/** ZeroPadding2D (before MobileNetV2's stride-2 depthwise convolutions); its gradient is dY cut back to the input's rows and columns. */
export const writeZeroPadding2D: LayerWriter = ({ tape, graph, layer, config }, [input]) => {
  if (config.dataFormat !== 'channelsLast') throw unsupported(layer, 'is not channels-last');
  const x = toLayout(tape, input, 'nchw', `${layer.name}/nchw`);
  const [[top, bottom], [left, right]] = config.padding as [[number, number], [number, number]];
  const [channels, height, width] = x.shape as [number, number, number];
  const y: Value = {
    name: graph.node('Pad', [x.name, graph.ints(`${layer.name}/pads`, [0, 0, top, left, 0, 0, bottom, right])], {}, layer.name),
    layout: 'nchw',
    shape: [channels, height + top + bottom, width + left + right],
    needsGradient: x.needsGradient,
  };
  tape.record(y, (dy) => {
    const hint = `${layer.name}/grad`;
    const cut = graph.node('Slice', [dy, graph.ints(`${hint}/starts`, [top, left]), graph.ints(`${hint}/ends`, [top + height, left + width]), graph.ints(`${hint}/axes`, [2, 3])], {}, hint);
    tape.setGradient(x, cut);
  });
  return y;
};
