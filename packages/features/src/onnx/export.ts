import { planLayers } from '../inference_plan.ts';
import { pixelScalingOf, shapeSize, type FeatureModel } from '../feature_model.ts';
import { OnnxGraph } from '@flowers/core/onnx';
import { convertConvolution, LAYER_CONVERTERS, unsupported } from './layers/index.ts';
import { ONNX_CUT_OUTPUT, ONNX_FEATURES_OUTPUT, ONNX_PIXELS_INPUT } from './graph_io.ts';

const BATCH = 'batch';

/**
 * The feature model (weights set) as one ONNX graph from pixels to features: the base's
 * preprocessing, its layers as planLayers fuses them (batch norm folded into the convolutions,
 * 'same' padding explicit), the pooling, and the same row layout as the tfjs path (NHWC
 * flattening), so both engines write interchangeable feature files. Inside, the graph is NCHW,
 * ONNX's native layout.
 */
export function exportFeatureGraph(featureModel: FeatureModel): Uint8Array {
  const { spec, model, featureShape, cutShape } = featureModel;
  const plan = planLayers(model);
  try {
    const graph = new OnnxGraph(model.name, [ONNX_PIXELS_INPUT, ONNX_FEATURES_OUTPUT, ONNX_CUT_OUTPUT]);
    const [height, width, channels] = plan.inputShape as [number, number, number];
    const pixels = graph.input(ONNX_PIXELS_INPUT, 'uint8', [BATCH, height, width, channels]);
    const { divisor, offset } = pixelScalingOf(spec);
    let x = graph.node('Cast', [pixels], { to: 1 }, 'preprocess');
    x = graph.node('Div', [x, graph.scalar('preprocess/divisor', divisor)], {}, 'preprocess');
    x = graph.node('Add', [x, graph.scalar('preprocess/offset', offset)], {}, 'preprocess');
    x = graph.node('Transpose', [x], { perm: [0, 3, 1, 2] }, 'preprocess');

    const names = new Map<number, string>([[plan.inputId, x]]);
    for (const step of plan.steps) {
      const inputs = step.inputs.map((id) => names.get(id)!);
      if (step.kind === 'conv') {
        names.set(step.output, convertConvolution(graph, step, inputs[0]!));
        continue;
      }
      const convert = LAYER_CONVERTERS[step.layer.getClassName()];
      if (convert === undefined) throw unsupported(step.layer, 'has no ONNX converter');
      names.set(step.output, convert({ graph, layer: step.layer, config: step.layer.getConfig() as Record<string, unknown>, inputs, inputShapes: step.inputShapes }));
    }

    /** An NCHW map back to channels-last rows, flattened as tfjs flattens them. */
    const channelsLastRows = (tensor: string, hint: string): string =>
      graph.node('Flatten', [graph.node('Transpose', [tensor], { perm: [0, 2, 3, 1] }, hint)], { axis: 1 }, hint);
    const [map, cut] = plan.outputIds.map((id) => names.get(id)!);
    const features =
      spec.pool === 'avg'
        ? graph.node('Flatten', [graph.node('GlobalAveragePool', [map!], {}, 'pool')], { axis: 1 }, 'pool')
        : channelsLastRows(map!, 'flatten');
    graph.output(features, ONNX_FEATURES_OUTPUT, 'float32', [BATCH, shapeSize(featureShape)]);
    if (cutShape !== undefined) graph.output(channelsLastRows(cut!, 'cut'), ONNX_CUT_OUTPUT, 'float32', [BATCH, shapeSize(cutShape)]);
    return graph.encode();
  } finally {
    plan.dispose();
  }
}
