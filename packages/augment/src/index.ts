export {
  AUGMENT_PRESETS,
  DEFAULT_AUGMENT_PARAMS,
  EXPERIMENT_AUGMENTATION,
  FILL_MODES,
  MIN_IMAGE_SIZE,
  validateAugmentParams,
  type AugmentParams,
  type FillMode,
} from './keras_params.ts';
export { decodeResized } from './decode.ts';
export { produceAugment, AUGMENT_REPORT_FILE, type AugmentStageParams } from './stage.ts';
export { augmentStage } from './definition.ts';
