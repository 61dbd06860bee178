import type { Pair } from '@flowers/core/onnx';
import { unsupported, type LayerConverter } from './converter.ts';

/** A ZeroPadding2D that no convolution absorbed: ONNX Pad over the spatial axes of NCHW. */
export const convertZeroPadding2D: LayerConverter = ({ graph, layer, config, inputs }) => {
  if (config.dataFormat !== 'channelsLast') throw unsupported(layer, 'is not channels-last');
  const [[top, bottom], [left, right]] = config.padding as [Pair, Pair];
  const pads = graph.constant(`${layer.name}/pads`, BigInt64Array.from([0, 0, top, left, 0, 0, bottom, right].map(BigInt)), [8]);
  return graph.node('Pad', [inputs[0]!, pads], {}, layer.name);
};
