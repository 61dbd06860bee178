import { unsupported, type LayerConverter } from './converter.ts';

/** Keras concatenates channels-last maps on the last axis: NCHW's axis 1. */
export const convertConcatenate: LayerConverter = ({ graph, layer, config, inputs }) => {
  if (config.axis !== -1 && config.axis !== 3) throw unsupported(layer, `concatenates on axis ${String(config.axis)}; only the channel axis is handled`);
  return graph.node('Concat', inputs, { axis: 1 }, layer.name);
};

export const convertAdd: LayerConverter = ({ graph, layer, inputs }) => graph.node('Sum', inputs, {}, layer.name);
