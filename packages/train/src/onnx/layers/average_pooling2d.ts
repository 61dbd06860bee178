import { explicitPads, type Pair } from '@flowers/core/onnx';
import { toLayout, type Value } from '../tape.ts';
import { unsupported, type LayerWriter } from './layer.ts';

/**
 * AveragePooling2D, stride 1 (InceptionV3's 3x3 'same' pooling). As in TensorFlow, a window's
 * mean is over its cells inside the map (ONNX count_include_pad=0). Its gradient is the one
 * TensorFlow.js' AvgPoolGrad computes (on cpu and wasm alike), so both engines train the same
 * model: each input cell gets the sum of dY over the windows that hold it over the window's
 * area, even where the forward pass divided by fewer cells (at the borders of 'same' padding).
 * That sum is an AveragePool of dY padded by (window - 1 - pad) on each side.
 */
export const writeAveragePooling2D: LayerWriter = ({ tape, graph, layer, config }, [input]) => {
  if (config.dataFormat !== 'channelsLast') throw unsupported(layer, 'is not channels-last');
  const kernel = config.poolSize as Pair;
  const strides = config.strides as Pair;
  if (strides[0] !== 1 || strides[1] !== 1) throw unsupported(layer, 'has strides other than 1');
  const x = toLayout(tape, input, 'nchw', `${layer.name}/nchw`);
  const [channels, height, width] = x.shape as [number, number, number];
  const pads = explicitPads(config.padding as string, [height, width], kernel, strides);
  const [top, left, bottom, right] = pads as [number, number, number, number];
  const outHeight = height + top + bottom - kernel[0] + 1;
  const outWidth = width + left + right - kernel[1] + 1;
  const y: Value = {
    name: graph.node('AveragePool', [x.name], { kernel_shape: kernel, strides, pads, count_include_pad: 0 }, layer.name),
    layout: 'nchw',
    shape: [channels, outHeight, outWidth],
    needsGradient: x.needsGradient,
  };
  tape.record(y, (dy) => {
    const hint = `${layer.name}/grad`;
    const spread = [0, 0, kernel[0] - 1 - top, kernel[1] - 1 - left, 0, 0, kernel[0] - 1 - bottom, kernel[1] - 1 - right];
    const padded = graph.node('Pad', [dy, graph.ints(`${hint}/pads`, spread)], {}, hint);
    tape.setGradient(x, graph.node('AveragePool', [padded], { kernel_shape: kernel, strides: [1, 1] }, hint));
  });
  return y;
};
