import type { Stage } from '@flowers/core';
import { featuresLibraries } from './code_version.ts';
import { CUT_DIR, FEATURE_FILES, FEATURE_INDEX_FILES } from '@flowers/core/contracts';
import { releaseWarmBase } from './prepared_base.ts';
import { featuresShards } from './shards.ts';
import type { FeaturesStageParams } from './stage.ts';
import { produceFeaturesStep } from './step.ts';
import type { SettledWeights } from './weights/resolve.ts';

/** The features stage's params as the pipeline spec settles them: weights checked, engine chosen. */
export interface FeaturesStepParams extends FeaturesStageParams {
  weights: SettledWeights;
  /** SHA-256 of the weights themselves (see checkWeights). */
  weightsSha256: string;
  /** The engine ('onnx-cpu', 'wasm', ...): different engines give slightly different floats. */
  engine: string;
}

/** Runs the pretrained base over the pixel files and writes its features (and cut activations) as Arrow files. */
export const featuresStage: Stage<FeaturesStepParams> = {
  name: 'features',
  package: '@flowers/features',
  reads: () => ['augment'],
  writes: [...Object.values(FEATURE_FILES), ...Object.values(FEATURE_INDEX_FILES), CUT_DIR],
  release: releaseWarmBase,
  libraries: async () => featuresLibraries(),
  keyInputs: async (_params, { augment }) => ({ augment: augment!.manifest.key }),
  // The weights are known by their digest, never by how they were named; ONNX Runtime's thread
  // count is not in the key: its features are bit-identical for any count (tested).
  keyParams: ({ weights, weightsSha256, ...params }) => ({ ...params, weights: { sha256: weightsSha256, pixelScaling: weights.pixelScaling } }),
  engine: (_params, env) => env.backend?.name ?? 'none',
  shards: featuresShards,
  produce: ({ dir, params, inputs, env }) => produceFeaturesStep(dir, inputs.augment!.dir, params, env),
};
