import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@flowers/core/tf';
import { BASES, buildBase, type BaseName } from '../src/models/index.ts';
import { planInference } from '../src/fused_inference.ts';

beforeAll(async () => {
  await selectBackend('cpu');
});

/** Batch norms with seeded, non-trivial statistics, so folding them is really exercised. */
function randomizeBatchNorms(model: tf.LayersModel): void {
  model.layers
    .filter((l) => l.getClassName() === 'BatchNormalization')
    .forEach((layer, i) => layer.setWeights(layer.getWeights().map((w, j) => tf.randomUniform(w.shape, 0.5, 1.5, 'float32', i * 10 + j))));
}

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('planInference', () => {
  for (const [base, size] of [['mobilenet_v2', 40], ['mobilenet_v2', 41], ['inception_v3', 75]] as const) {
    it(`${base} at ${size} px: the base's outputs and its cut layer's, with batch norms, padding and ReLUs fused`, async () => {
      const baseModel = buildBase(base as BaseName, { inputSize: size, alpha: 0.35 });
      randomizeBatchNorms(baseModel);
      const cut = baseModel.getLayer(BASES[base].fineTuneFrom).output as tf.SymbolicTensor;
      const model = tf.model({ inputs: baseModel.inputs, outputs: [baseModel.outputs[0]!, cut] });
      const plan = planInference(model);
      const x = tf.randomUniform([2, size, size, 3], -1, 1, 'float32', 5);
      const expected = model.predict(x) as tf.Tensor[];
      const profile = await tf.profile(() => {
        const actual = plan.run(x);
        expect(actual.map((t) => t.shape)).toEqual(expected.map((t) => t.shape));
        for (const [i, t] of actual.entries()) {
          const scale = tf.max(tf.abs(expected[i]!)).dataSync()[0]!;
          expect(scale).toBeGreaterThan(0.1);
          expect(maxAbsDiff(t, expected[i]!)).toBeLessThan(1e-4 * Math.max(1, scale));
        }
        tf.dispose(actual);
      });
      const kernels = new Set(profile.kernels.map((k) => k.name));
      for (const fused of ['FusedBatchNorm', 'PadV2', 'Relu', 'Relu6', 'ClipByValue']) expect(kernels.has(fused)).toBe(false);
      expect(kernels.has(base === 'mobilenet_v2' ? 'FusedDepthwiseConv2D' : 'FusedConv2D')).toBe(true);
    });
  }

  it('frees every intermediate tensor', () => {
    const model = buildBase('mobilenet_v2', { inputSize: 40, alpha: 0.35 });
    const plan = planInference(model);
    const x = tf.zeros([1, 40, 40, 3]);
    tf.dispose(plan.run(x));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(plan.run(x));
    expect(tf.memory().numTensors).toBe(before);
    plan.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  });
});
