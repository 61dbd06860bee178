import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { fileIOHandler, selectBackend } from '@flowers/core/tf';
import {
  BASES,
  buildBase,
  buildInceptionV3,
  buildMobileNetV2,
  preprocessInceptionV3,
  preprocessMobileNetV2,
  splitAtLayer,
} from '../src/models/index.ts';
import { applyLayerWeights } from '../src/weights/apply.ts';
import { readTfjsLayersWeights } from '../src/weights/tfjs_layers.ts';
import { SHARED_MOBILENET } from '../../../shared_folder.ts';


beforeAll(async () => {
  await selectBackend('cpu');
});

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('InceptionV3', () => {
  const model = buildInceptionV3({ inputSize: 150 });

  it('has the Keras parameter count and a 3x3x2048 output at 150 px', () => {
    expect(model.countParams()).toBe(21_802_784);
    const out = model.predict(tf.zeros([1, 150, 150, 3])) as tf.Tensor;
    expect(out.shape).toEqual([1, 3, 3, 2048]);
  });

  it('uses the Keras 2 layer names of the official weights file', () => {
    const names = new Set(model.layers.map((l) => l.name));
    for (let i = 1; i <= 94; i++) {
      expect(names.has(`conv2d_${i}`)).toBe(true);
      expect(names.has(`batch_normalization_${i}`)).toBe(true);
      expect(names.has(`activation_${i}`)).toBe(true);
    }
    expect(names.has('conv2d_95')).toBe(false);
    for (let i = 0; i <= 10; i++) expect(names.has(`mixed${i}`)).toBe(true);
    for (const name of ['mixed9_0', 'mixed9_1', 'concatenate_1', 'concatenate_2', 'max_pooling2d_4', 'average_pooling2d_9']) {
      expect(names.has(name)).toBe(true);
    }
    // conv2d_bn: no bias, BN without scale.
    expect(model.getLayer('conv2d_1').getWeights().map((w) => w.shape)).toEqual([[3, 3, 3, 32]]);
    expect(model.getLayer('batch_normalization_1').getWeights().map((w) => w.shape)).toEqual([[32], [32], [32]]);
    // mixed0's 1x1 branch is the 6th convolution Keras creates.
    expect(model.getLayer('conv2d_6').getWeights()[0]!.shape).toEqual([1, 1, 192, 64]);
    expect(model.getLayer('conv2d_94').getWeights()[0]!.shape).toEqual([1, 1, 2048, 192]);
  });

  it('accepts 75 px and refuses smaller inputs', () => {
    expect(buildInceptionV3({ inputSize: 75 }).outputs[0]!.shape).toEqual([null, 1, 1, 2048]);
    expect(() => buildInceptionV3({ inputSize: 74 })).toThrow(/inputSize must be an integer >= 75/);
  });
});

describe('MobileNetV2', () => {
  it('has the Keras parameter counts and a 7x7x1280 output at 224 px', () => {
    const model = buildMobileNetV2({ alpha: 0.35, inputSize: 224 });
    expect(model.countParams()).toBe(410_208);
    expect((model.predict(tf.zeros([1, 224, 224, 3])) as tf.Tensor).shape).toEqual([1, 7, 7, 1280]);
    expect(buildMobileNetV2({ alpha: 1.0, inputSize: 96 }).countParams()).toBe(2_257_984);
    expect(() => buildMobileNetV2({ alpha: 0.35, inputSize: 31 })).toThrow(/>= 32/);
  });

  it('has the layers of the Keras model, in order, with the same classes', () => {
    const json = JSON.parse(readFileSync(SHARED_MOBILENET, 'utf8')) as {
      modelTopology: { config: { layers: Array<{ name: string; class_name: string }> } };
    };
    const expected = json.modelTopology.config.layers.map((l) => `${l.name}:${l.class_name}`);
    const model = buildMobileNetV2({ alpha: 0.35, inputSize: 224 });
    expect(model.layers.map((l) => `${l.name}:${l.getClassName()}`)).toEqual(expected);
  });

  it('with the shared weights loaded by name, computes what the shared model computes', async () => {
    const reference = await tf.loadLayersModel(fileIOHandler(SHARED_MOBILENET));
    const model = buildMobileNetV2({ alpha: 0.35, inputSize: 224 });
    applyLayerWeights(model, await readTfjsLayersWeights(SHARED_MOBILENET), SHARED_MOBILENET);
    const x = tf.randomUniform([2, 224, 224, 3], -1, 1, 'float32', 11);
    const expected = reference.predict(x) as tf.Tensor;
    const actual = model.predict(x) as tf.Tensor;
    expect(actual.shape).toEqual([2, 7, 7, 1280]);
    expect(maxAbsDiff(actual, expected)).toBeLessThan(1e-4);
    // Not trivially equal: ReLU6 features that vary.
    expect(tf.max(actual).dataSync()[0]).toBeGreaterThan(0.5);
    // Inference is deterministic on a backend.
    expect(Array.from((model.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(actual.dataSync()));
  });
});

describe('preprocessing', () => {
  it('maps [0, 255] to [-1, 1] for uint8 and float inputs', () => {
    for (const preprocess of [preprocessInceptionV3, preprocessMobileNetV2]) {
      const out = preprocess(tf.tensor1d([0, 51, 255], 'int32').cast('float32'));
      expect(out.dtype).toBe('float32');
      expect(Array.from(out.dataSync()).map((v) => Number(v.toFixed(5)))).toEqual([-1, -0.6, 1]);
      expect(Array.from(preprocess(tf.tensor1d(new Uint8Array([255]), 'int32')).dataSync())).toEqual([1]);
    }
  });
});

describe('buildBase and splitAtLayer', () => {
  it('builds each base by name', () => {
    expect(buildBase('mobilenet_v2', { alpha: 0.35, inputSize: 64 }).countParams()).toBe(410_208);
    expect(buildBase('inception_v3', { inputSize: 75 }).countParams()).toBe(21_802_784);
  });

  for (const [name, size] of [['mobilenet_v2', 96], ['inception_v3', 75]] as const) {
    it(`${name}: top(bottom(x)) equals model(x) at the default fine-tuning cut`, () => {
      const model = buildBase(name, { alpha: 0.35, inputSize: size });
      const cutName = BASES[name].fineTuneFrom;
      const { bottom, top } = splitAtLayer(model, cutName);
      expect(top.inputs[0]!.shape).toEqual(model.getLayer(cutName).outputShape);
      // The top shares the model's layers (and so its weights).
      expect(top.layers.at(-1)).toBe(model.layers.at(-1));
      expect(top.countParams() + bottom.countParams()).toBe(model.countParams());
      const x = tf.randomUniform([2, size, size, 3], -1, 1, 'float32', 3);
      const whole = model.predict(x) as tf.Tensor;
      const split = top.predict(bottom.predict(x) as tf.Tensor) as tf.Tensor;
      expect(split.shape).toEqual(whole.shape);
      expect(maxAbsDiff(split, whole)).toBeLessThan(1e-5);
    });
  }

  it('refuses a cut that later layers bypass, and an unknown layer', () => {
    const model = buildMobileNetV2({ alpha: 0.35, inputSize: 64 });
    // block_14_add also reads block_13_project_BN, from before block_14_project_BN.
    expect(() => splitAtLayer(model, 'block_14_project_BN')).toThrow(/layer 'block_14_add' also reads a tensor from before it/);
    expect(() => splitAtLayer(model, 'no_such_layer')).toThrow(/no layer 'no_such_layer'/);
  });
});
