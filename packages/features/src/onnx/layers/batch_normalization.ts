import { weightsByName } from '../../inference_plan.ts';
import { unsupported, type LayerConverter } from './converter.ts';

/** A batch norm that no convolution absorbed (inference form, moving statistics). */
export const convertBatchNormalization: LayerConverter = ({ graph, layer, config, inputs }) => {
  if (config.axis !== -1 && config.axis !== 3) throw unsupported(layer, `normalises axis ${String(config.axis)}; only the channel axis is handled`);
  const weights = weightsByName(layer);
  const mean = weights.get('moving_mean')!;
  const channels = mean.shape[0]!;
  const values = (name: string, fallback: number): Float32Array => {
    const tensor = weights.get(name);
    return tensor === undefined ? new Float32Array(channels).fill(fallback) : (tensor.dataSync() as Float32Array).slice();
  };
  const constant = (name: string, fallback: number): string => graph.constant(`${layer.name}/${name}`, values(name, fallback), [channels]);
  const read = [constant('gamma', 1), constant('beta', 0), constant('moving_mean', 0), constant('moving_variance', 1)];
  return graph.node('BatchNormalization', [inputs[0]!, ...read], { epsilon: { float: config.epsilon as number } }, layer.name);
};
