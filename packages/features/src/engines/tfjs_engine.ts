import { selectBackend } from '@flowers/core/tf';
import { buildFeatureModel, computeFeatures, prepareExtractor, setEncodedWeights, type FeatureModel } from '../feature_model.ts';
import type { BaseRunner, TfjsEngineData } from './engine.ts';

/** A feature model whose weights are set, run on the active TensorFlow.js backend in this thread. */
export function tfjsRunner(featureModel: FeatureModel, batchSize: number): BaseRunner {
  const extractor = prepareExtractor(featureModel);
  return {
    run: async (pixels, rows) => computeFeatures(extractor, pixels, rows, batchSize),
    dispose: () => {
      extractor.plan.dispose();
      featureModel.base.dispose();
    },
  };
}

/** In a worker thread: builds the model on the parent's backend, from the parent's weights. */
export async function loadTfjsRunner(data: TfjsEngineData): Promise<BaseRunner> {
  await selectBackend(data.backend);
  const featureModel = buildFeatureModel(data.spec);
  setEncodedWeights(featureModel.base, data.weights);
  return tfjsRunner(featureModel, data.batchSize);
}
