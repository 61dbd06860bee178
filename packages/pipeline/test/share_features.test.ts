import { describe, expect, it } from 'vitest';
import { pipelineSteps, shareFeatureExtraction, type PipelineSpec } from '../src/index.ts';

/** A spec as resolvePipelineSpec makes one, with only what feature sharing looks at filled in. */
function spec(experiment: string, views: number, cut?: string, withFeatures = true): PipelineSpec {
  return {
    through: 'train',
    experiment,
    ingest: { dataDir: '/photos', split: [0.6, 0.2, 0.2], seed: 0, maxPixels: 1e7 },
    augment: { size: 150, views, augment: { rotation_range: 40 }, seed: 0 },
    ...(withFeatures ? { features: { base: 'inception_v3', alpha: 1, pool: 'none', batchSize: 32, weightsSha256: 'ab', engine: 'onnx', ...(cut ? { cut } : {}) } } : {}),
    workers: 2,
  } as unknown as PipelineSpec;
}

const featuresParams = (s: PipelineSpec) => pipelineSteps(s).find((step) => step.stage.name === 'features')?.params;

describe('shareFeatureExtraction', () => {
  it('gives an experiment without a cut the cut of one whose features are otherwise the same, and leaves the others alone', () => {
    const specs = [spec('scratch-aug', 10, undefined, false), spec('features', 0), spec('features-aug', 10), spec('finetune', 10, 'mixed8')];
    const shared = shareFeatureExtraction(specs);
    expect(featuresParams(shared[2]!)).toEqual(featuresParams(shared[3]!));
    expect(shared[2]!.features!.cut).toBe('mixed8');
    // Other views mean other features: nothing to share.
    expect(shared[1]).toBe(specs[1]);
    expect(shared[0]).toBe(specs[0]);
    expect(shared[3]).toBe(specs[3]);
    // Alone, an experiment keeps its own features.
    expect(shareFeatureExtraction([specs[2]!])[0]!.features!.cut).toBeUndefined();
  });
});
