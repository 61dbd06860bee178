import { explicitPads, type Pair } from '@flowers/core/onnx';
import { unsupported, type LayerConverter } from './converter.ts';

function poolConverter(opType: 'MaxPool' | 'AveragePool'): LayerConverter {
  return ({ graph, layer, config, inputs, inputShapes }) => {
    if (config.dataFormat !== 'channelsLast') throw unsupported(layer, 'is not channels-last');
    const kernel = config.poolSize as Pair;
    const strides = config.strides as Pair;
    const pads = explicitPads(config.padding as string, inputShapes[0]!, kernel, strides);
    // Keras' 'same' average pooling leaves the padding out of the count: ONNX's count_include_pad=0, the default.
    return graph.node(opType, [inputs[0]!], { kernel_shape: kernel, strides, pads }, layer.name);
  };
}

export const convertMaxPooling2D = poolConverter('MaxPool');
export const convertAveragePooling2D = poolConverter('AveragePool');
