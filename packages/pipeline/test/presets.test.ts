import { describe, it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { TRAIN_DEFAULTS, buildClassifier, minInputSize, resolveTrainConfig, type TrainConfig } from '@flowers/train';
import { EXPERIMENTS, EXPERIMENT_NAMES } from '../src/index.ts';

await tf.setBackend('cpu');

function layerSummary(model: tf.LayersModel): Array<[string, number | string | undefined]> {
  return model.layers.map((layer) => {
    const config = layer.getConfig();
    const size = (config.filters ?? config.units ?? config.rate) as number | undefined;
    return [layer.getClassName(), layer instanceof tf.LayersModel ? layer.name : size];
  });
}

function build(name: string, inputShape: number[], baseTop?: tf.LayersModel): { model: tf.LayersModel; config: TrainConfig } {
  const config = resolveTrainConfig({ ...EXPERIMENTS[name] });
  return { config, model: buildClassifier(config, { inputShape, numClasses: 5, ...(baseTop ? { baseTop } : {}) }) };
}

/** A stand-in for the top of InceptionV3 above mixed8: conv + batch norm on 3x3x16 activations. */
function fakeBaseTop(): tf.LayersModel {
  const input = tf.input({ shape: [3, 3, 16] });
  const conv = tf.layers.conv2d({ name: 'mixed9_conv', filters: 8, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: 'mixed9_bn', momentum: 0.99 }).apply(conv) as tf.SymbolicTensor;
  const model = tf.model({ name: 'inception_v3_top', inputs: input, outputs: bn });
  model.trainable = false;
  return model;
}

describe('experiment presets', () => {
  it('lists the five reference recipes and best', () => {
    expect(EXPERIMENT_NAMES).toEqual(['scratch', 'scratch-aug', 'features', 'features-aug', 'finetune', 'best']);
  });

  it('scratch: four conv/pool blocks, dense 512, softmax; RMSprop 1e-3, batch 128, 20 epochs, 1/255', () => {
    const { model, config } = build('scratch', [150, 150, 3]);
    expect(layerSummary(model)).toEqual([
      ['Conv2D', 32], ['MaxPooling2D', undefined], ['Conv2D', 64], ['MaxPooling2D', undefined],
      ['Conv2D', 128], ['MaxPooling2D', undefined], ['Conv2D', 128], ['MaxPooling2D', undefined],
      ['Flatten', undefined], ['Dense', 512], ['Dense', 5],
    ]);
    // Keras: 3*3*3*32+32, 3*3*32*64+64, 3*3*64*128+128, 3*3*128*128+128, 7*7*128*512+512, 512*5+5
    expect(model.countParams()).toBe(896 + 18496 + 73856 + 147584 + 3211776 + 2565);
    expect(config).toMatchObject({ input: 'pixels', optimizer: 'rmsprop', lr: 1e-3, batchSize: 128, epochs: 20, rescale: 1 / 255, dropout: 0 });
    expect(EXPERIMENTS.scratch).toMatchObject({ size: 150, augment: 'none' });
  });

  it('scratch-aug: dropout 0.2 before the dense layers, augmented views, lr 1e-5, 100 epochs', () => {
    const { model, config } = build('scratch-aug', [150, 150, 3]);
    expect(layerSummary(model).slice(8)).toEqual([['Flatten', undefined], ['Dropout', 0.2], ['Dense', 512], ['Dense', 5]]);
    expect(config).toMatchObject({ optimizer: 'rmsprop', lr: 1e-5, epochs: 100 });
    expect(EXPERIMENTS['scratch-aug']).toMatchObject({ augment: 'experiment' });
    expect(EXPERIMENTS['scratch-aug']!.views).toBeGreaterThan(0);
  });

  it('features: flattened 3x3x2048 InceptionV3 map, dense 512, dropout 0.5, softmax; lr 1.5e-6, 120 epochs', () => {
    const { model, config } = build('features', [3, 3, 2048]);
    expect(layerSummary(model).slice(1)).toEqual([['Flatten', undefined], ['Dense', 512], ['Dropout', 0.5], ['Dense', 5]]);
    expect(config).toMatchObject({ input: 'features', optimizer: 'rmsprop', lr: 1.5e-6, epochs: 120 });
    expect(EXPERIMENTS.features).toMatchObject({ base: 'inception_v3', pool: 'none', size: 150 });
  });

  it('features-aug: flatten, dropout 0.2, dense 64, softmax; lr 1e-4, 30 epochs on augmented views', () => {
    const { model, config } = build('features-aug', [3, 3, 2048]);
    expect(layerSummary(model).slice(1)).toEqual([['Flatten', undefined], ['Dropout', 0.2], ['Dense', 64], ['Dense', 5]]);
    expect(config).toMatchObject({ optimizer: 'rmsprop', lr: 1e-4, epochs: 30 });
    expect(EXPERIMENTS['features-aug']!.views).toBeGreaterThan(0);
  });

  it('finetune: the features-aug head trained first, then the base top under it, its batch norms frozen, lr 1e-5', () => {
    const top = fakeBaseTop();
    const { model, config } = build('finetune', [3, 3, 16], top);
    expect(layerSummary(model).slice(1)).toEqual([['Model', 'inception_v3_top'], ['Flatten', undefined], ['Dropout', 0.2], ['Dense', 64], ['Dense', 5]]);
    expect(top.getLayer('mixed9_bn').trainable).toBe(false);
    // The conv kernel and bias train with the head; the batch norm's gamma and beta do not.
    const trainable = model.trainableWeights.map((w) => w.originalName);
    expect(trainable).toEqual(expect.arrayContaining(['mixed9_conv/kernel', 'mixed9_conv/bias']));
    expect(trainable.filter((name) => name.startsWith('mixed9_bn'))).toEqual([]);
    expect(config).toMatchObject({ input: 'cut', optimizer: 'rmsprop', lr: 1e-5, headEpochs: 30, headLr: 1e-4, freezeBatchNorm: true });
    expect(EXPERIMENTS.finetune).toMatchObject({ unfreeze: 'mixed8', base: 'inception_v3' });
  });

  it('best: the avg-pooled head alone on MobileNetV2 features, then the top blocks under it at a lower rate; AdamW, cosine, label smoothing, early stopping, class weights', () => {
    const { model, config } = build('best', [3, 3, 16], fakeBaseTop());
    expect(layerSummary(model).slice(1)).toEqual([['Model', 'inception_v3_top'], ['GlobalAveragePooling2D', undefined], ['Dropout', 0.5], ['Dense', 128], ['Dropout', 0.5], ['Dense', 5]]);
    expect(config).toMatchObject({ input: 'cut', freezeBatchNorm: true, epochViews: 1, optimizer: 'adamw', schedule: 'cosine', labelSmoothing: 0.1, classWeights: true });
    expect(config.headEpochs).toBeGreaterThan(0);
    expect(config.lr).toBeLessThan(config.headLr);
    expect(config.patience).toBeGreaterThan(0);
    expect(EXPERIMENTS.best).toMatchObject({ base: 'mobilenet_v2', alpha: 0.35, pool: 'avg', unfreeze: 'block_12_add' });
    expect(EXPERIMENTS.best!.views).toBeGreaterThan(0);
  });

  it('the same seed builds the same weights, another seed other weights', () => {
    const weightsOf = (seed: number) => {
      const config = resolveTrainConfig({ ...EXPERIMENTS['features-aug'], seed });
      const model = buildClassifier(config, { inputShape: [12], numClasses: 3 });
      return model.getWeights().map((w) => Array.from(w.dataSync()));
    };
    expect(weightsOf(7)).toEqual(weightsOf(7));
    expect(weightsOf(7)).not.toEqual(weightsOf(8));
  });
});

describe('resolveTrainConfig', () => {
  it('takes every preset value and lets any be overridden', () => {
    const overrides: Partial<Record<keyof TrainConfig, unknown>> = {
      epochs: '3', batchSize: 16, optimizer: 'sgd', lr: '0.05', weightDecay: 0.01, schedule: 'onecycle', warmupEpochs: 1,
      labelSmoothing: '0.2', dropout: 0.4, patience: 2, classWeights: 'true', rescale: '1/255', seed: '9',
    };
    for (const name of EXPERIMENT_NAMES) {
      const preset = EXPERIMENTS[name]!;
      const base = resolveTrainConfig({ ...preset });
      for (const key of Object.keys(TRAIN_DEFAULTS) as Array<keyof TrainConfig>) {
        if (key in preset) expect(base[key], `${name}.${key}`).toBe(preset[key]);
      }
      const changed = resolveTrainConfig({ ...preset, ...overrides });
      expect(changed).toMatchObject({ epochs: 3, batchSize: 16, optimizer: 'sgd', lr: 0.05, weightDecay: 0.01, schedule: 'onecycle', warmupEpochs: 1, labelSmoothing: 0.2, dropout: 0.4, patience: 2, classWeights: true, seed: 9 });
      expect(changed.rescale).toBeCloseTo(1 / 255, 12);
    }
  });

  it('fills missing values from TRAIN_DEFAULTS', () => {
    expect(resolveTrainConfig({})).toEqual(TRAIN_DEFAULTS);
  });

  it('rejects bad values with one line naming the flag', () => {
    expect(() => resolveTrainConfig({ lr: 0 })).toThrow('--lr must be a positive number, got 0');
    expect(() => resolveTrainConfig({ lr: 'fast' })).toThrow("--lr must be a number, got 'fast'");
    expect(() => resolveTrainConfig({ batchSize: 2.5 })).toThrow('--batch-size must be a whole number >= 1, got 2.5');
    expect(() => resolveTrainConfig({ optimizer: 'adagrad' })).toThrow("--optimizer must be one of rmsprop, adam, adamw, sgd, got 'adagrad'");
    expect(() => resolveTrainConfig({ dropout: 1 })).toThrow('--dropout must be in [0, 1), got 1');
    expect(() => resolveTrainConfig({ classWeights: 'maybe' })).toThrow("--class-weights must be true or false, got 'maybe'");
    expect(() => resolveTrainConfig({ epochs: 5, warmupEpochs: 5 })).toThrow('--warmup-epochs must be less than --epochs (5), got 5');
    expect(() => resolveTrainConfig({ head: 'scratch_cnn', input: 'features' })).toThrow('--head scratch_cnn trains on images: it needs --input pixels');
    expect(() => resolveTrainConfig({ head: 'dense512', input: 'pixels' })).toThrow('--head dense512 sits on a base model');
  });
});

describe('minInputSize', () => {
  it('is 46 for the scratch CNN (four valid 3x3 convs and 2x2 pools)', () => {
    expect(minInputSize('scratch_cnn')).toBe(46);
    const config = resolveTrainConfig({ ...EXPERIMENTS.scratch });
    expect(() => buildClassifier(config, { inputShape: [45, 45, 3], numClasses: 5 })).toThrow('--size must be at least 46 for --head scratch_cnn, got 45');
    const smallest = buildClassifier(config, { inputShape: [46, 46, 3], numClasses: 5 });
    expect(smallest.getLayer('flatten').outputShape).toEqual([null, 128]);
  });

  it('does not constrain heads on features', () => {
    expect(minInputSize('gap_dense')).toBe(1);
  });
});
