export {
  BASE_NAMES,
  BASES,
  buildBase,
  splitAtLayer,
  preprocessInceptionV3,
  preprocessMobileNetV2,
  MOBILENET_V2_ALPHAS,
  type BaseName,
  type BaseInfo,
  type BaseOptions,
  type MobileNetV2Alpha,
} from './models/index.ts';
export { NAMED_WEIGHTS, resolveWeights, settleWeights, type WeightsChoice, type ResolvedWeights, type ResolveWeightsOptions, type SettledWeights } from './weights/resolve.ts';
export { applyLayerWeights } from './weights/apply.ts';
export { readTfjsLayersWeights } from './weights/tfjs_layers.ts';
export type { LayerWeights } from './weights/layer_weights.ts';
export {
  FEATURE_POOLS,
  buildFeatureModel,
  computeFeatures,
  prepareExtractor,
  type FeatureExtractor,
  type FeaturePool,
  type FeatureModel,
  type FeatureModelSpec,
} from './feature_model.ts';
export { loadBaseRunner, onnxSessionLayout, prepareEngine, tfjsRunner, type BaseRunner, type EngineData, type FeatureRows } from './engines/index.ts';
export { exportFeatureGraph } from './onnx/export.ts';
export { produceFeatures, downloadProgress, type FeaturesStageParams, type FeaturesStageOptions } from './stage.ts';
export { releaseWarmBase } from './prepared_base.ts';
export { featuresStage, type FeaturesStepParams } from './definition.ts';
export { checkWeights, type CheckedWeights } from './weights/check.ts';
export { featuresCodeVersion } from './code_version.ts';
