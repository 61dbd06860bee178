import { mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { relativeError } from '../../core/test/numeric.ts';
import * as tf from '@tensorflow/tfjs';
import { createRandom, memoryLogger } from '@flowers/core';
import { selectBackend, type SelectedBackend } from '@flowers/core/tf';
import {
  applyLayerWeights,
  buildFeatureModel,
  computeFeatures,
  exportFeatureGraph,
  loadBaseRunner,
  prepareEngine,
  prepareExtractor,
  resolveWeights,
  type FeatureModel,
  type FeatureModelSpec,
} from '../src/index.ts';
import type { FeatureRows } from '../src/engines/engine.ts';
import { SHARED_DIR as SHARED } from '../../../shared_folder.ts';

const MOBILENET = path.join(SHARED, 'models/mobilenet_v2_0.35_imagenet/model.json');
const FLOWERS = path.join(SHARED, 'data/flowers');
const tempDir = (): string => mkdtempSync(path.join(os.tmpdir(), 'onnx-engine-'));

/** The first photo of each class, resized to `size` as the augment stage does (fill, RGB). */
async function photos(size: number, count: number): Promise<Uint8Array> {
  const classes = readdirSync(FLOWERS).filter((c) => !c.startsWith('.')).sort();
  const files = classes.flatMap((c) => readdirSync(path.join(FLOWERS, c)).filter((f) => f.endsWith('.jpg')).sort().slice(0, 2).map((f) => path.join(FLOWERS, c, f)));
  const out = new Uint8Array(count * size * size * 3);
  for (const [i, file] of files.slice(0, count).entries()) {
    out.set(await sharp(file).resize(size, size, { fit: 'fill' }).removeAlpha().raw().toBuffer(), i * size * size * 3);
  }
  return out;
}

/** Every weight from a seeded generator, batch-norm statistics included, so folding has something to fold. */
function setSeededWeights(model: tf.LayersModel, seed: string): void {
  const random = createRandom(seed);
  const values = model.weights.map((w) => {
    const n = (w.shape as number[]).reduce((a, b) => a * b, 1);
    const name = w.originalName.split('/').at(-1)!;
    const fanIn = w.shape.length === 4 ? w.shape[0]! * w.shape[1]! * w.shape[2]! : 1;
    const draw = (): number => {
      if (name === 'moving_variance') return random.uniform(0.5, 1.5);
      if (name === 'gamma') return random.uniform(0.8, 1.2);
      if (name === 'moving_mean' || name === 'beta') return random.uniform(-0.1, 0.1);
      const limit = Math.sqrt(6 / fanIn);
      return random.uniform(-limit, limit);
    };
    return tf.tensor(Float32Array.from({ length: n }, draw), w.shape as number[]);
  });
  model.setWeights(values);
  tf.dispose(values);
}

let onnx: SelectedBackend;
const cacheDir = tempDir();

beforeAll(async () => {
  onnx = await selectBackend('onnx');
});

/** Features of `pixels` through ONNX Runtime (the exported, cached graph) and through TensorFlow.js, from one model. */
async function bothEngines(featureModel: FeatureModel, pixels: Uint8Array, rows: number, threads = 2): Promise<{ onnx: FeatureRows; tfjs: FeatureRows }> {
  const extractor = prepareExtractor(featureModel);
  const tfjs = computeFeatures(extractor, pixels, rows, rows);
  extractor.plan.dispose();
  const engine = await prepareEngine(featureModel, onnx, { batchSize: rows, threads, weightsSha256: 'test', cacheDir });
  const runner = await loadBaseRunner(engine);
  try {
    return { onnx: await runner.run(pixels, rows), tfjs };
  } finally {
    runner.dispose();
  }
}

describe('the onnx engine', () => {
  it('is ONNX Runtime on the CPU here, over wasm tensors, and says so', () => {
    expect(onnx.name).toBe('onnx-cpu');
    expect(onnx.tfjs).toBe('wasm');
    expect(onnx.reason).toMatch(/^ONNX Runtime 1\.30\.0 on cpu \(no CUDA device\)/);
  });

  it('matches TensorFlow.js within 1e-4 on real photos with the shared MobileNetV2: pooled, unpooled and cut', async () => {
    const rows = 6;
    for (const spec of [
      { base: 'mobilenet_v2', alpha: 0.35, inputSize: 224, pool: 'avg', cut: 'block_13_project_BN' },
      { base: 'mobilenet_v2', alpha: 0.35, inputSize: 160, pool: 'none' },
    ] satisfies FeatureModelSpec[]) {
      const featureModel = buildFeatureModel(spec);
      const weights = await resolveWeights({ base: 'mobilenet_v2', alpha: 0.35, inputSize: spec.inputSize, weights: MOBILENET }); // applying consumes them
      applyLayerWeights(featureModel.base, weights.layers, weights.source);
      const pixels = await photos(spec.inputSize, rows);
      const out = await bothEngines(featureModel, pixels, rows);
      featureModel.base.dispose();
      expect(relativeError(out.onnx.features, out.tfjs.features)).toBeLessThan(1e-4);
      if (spec.cut !== undefined) expect(relativeError(out.onnx.cut!, out.tfjs.cut!)).toBeLessThan(1e-4);
      // Real features, not zeros: pooled ReLU6 maps of real photos spread over [0, 6].
      expect(out.onnx.features.reduce((a, b) => Math.max(a, b), 0)).toBeGreaterThan(1);
    }
  });

  it('matches TensorFlow.js within 1e-4 on InceptionV3 with seeded random weights: pooled, unpooled and cut', async () => {
    const rows = 2;
    const random = createRandom('inception-pixels');
    const pixels = Uint8Array.from({ length: rows * 150 * 150 * 3 }, () => random.int(256));
    for (const spec of [
      { base: 'inception_v3', alpha: 1, inputSize: 150, pool: 'none', cut: 'mixed8' },
      { base: 'inception_v3', alpha: 1, inputSize: 150, pool: 'avg' },
    ] satisfies FeatureModelSpec[]) {
      const featureModel = buildFeatureModel(spec);
      setSeededWeights(featureModel.base, 'inception-weights');
      const out = await bothEngines(featureModel, pixels, rows);
      featureModel.base.dispose();
      expect(out.onnx.features).toHaveLength(rows * (spec.pool === 'none' ? 3 * 3 * 2048 : 2048));
      expect(relativeError(out.onnx.features, out.tfjs.features)).toBeLessThan(1e-4);
      if (spec.cut !== undefined) {
        expect(out.onnx.cut).toHaveLength(rows * 3 * 3 * 1280);
        expect(relativeError(out.onnx.cut!, out.tfjs.cut!)).toBeLessThan(1e-4);
      }
    }
  }, 120_000);

  it("applies the weights' own pixel scaling (nsfwjs' [0, 1]) on both engines", async () => {
    const rows = 3;
    const pixels = await photos(96, rows);
    const run = async (spec: FeatureModelSpec) => {
      const featureModel = buildFeatureModel(spec);
      // Real weights: random ones saturate the ReLU6 maps whatever the input scale.
      const weights = await resolveWeights({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 96, weights: MOBILENET });
      applyLayerWeights(featureModel.base, weights.layers, weights.source);
      const out = await bothEngines(featureModel, pixels, rows);
      featureModel.base.dispose();
      return out;
    };
    const keras = await run({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 96, pool: 'avg' });
    const unit = await run({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 96, pool: 'avg', pixelScaling: { divisor: 255, offset: 0 } });
    expect(relativeError(unit.onnx.features, unit.tfjs.features)).toBeLessThan(1e-4);
    expect(relativeError(unit.onnx.features, keras.onnx.features)).toBeGreaterThan(1e-2);
  });

  it('gives bit-identical features for the same and for different thread counts', async () => {
    const featureModel = buildFeatureModel({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 96, pool: 'none' });
    const weights = await resolveWeights({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 96, weights: MOBILENET });
    applyLayerWeights(featureModel.base, weights.layers, weights.source);
    const pixels = await photos(96, 8);
    const runs: Float32Array[] = [];
    for (const threads of [1, 2, 2]) {
      const runner = await loadBaseRunner(await prepareEngine(featureModel, onnx, { batchSize: 8, threads, weightsSha256: weights.sha256, cacheDir }));
      runs.push((await runner.run(pixels, 8)).features);
      runner.dispose();
    }
    featureModel.base.dispose();
    expect(Buffer.from(runs[1]!.buffer).equals(Buffer.from(runs[2]!.buffer))).toBe(true);
    expect(Buffer.from(runs[0]!.buffer).equals(Buffer.from(runs[1]!.buffer))).toBe(true);
  });

  it('splits a record batch into forward passes of batchSize rows without changing a value', async () => {
    const featureModel = buildFeatureModel({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 96, pool: 'avg', cut: 'block_13_project_BN' });
    const weights = await resolveWeights({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 96, weights: MOBILENET });
    applyLayerWeights(featureModel.base, weights.layers, weights.source);
    const pixels = await photos(96, 7);
    const whole = await loadBaseRunner(await prepareEngine(featureModel, onnx, { batchSize: 7, threads: 1, weightsSha256: 'batches', cacheDir }));
    const split = await loadBaseRunner(await prepareEngine(featureModel, onnx, { batchSize: 3, threads: 1, weightsSha256: 'batches', cacheDir }));
    const [a, b] = [await whole.run(pixels, 7), await split.run(pixels, 7)];
    whole.dispose();
    split.dispose();
    featureModel.base.dispose();
    expect(b.features).toHaveLength(7 * 1280);
    expect(relativeError(b.features, a.features)).toBeLessThan(1e-6);
    expect(relativeError(b.cut!, a.cut!)).toBeLessThan(1e-6);
  });
});

describe('exportFeatureGraph', () => {
  it('refuses a layer it has no converter for, naming the layer', () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv' }).apply(input) as tf.SymbolicTensor;
    const output = tf.layers.leakyReLU({ name: 'odd_relu' }).apply(conv) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: output });
    const featureModel: FeatureModel = { spec: { base: 'mobilenet_v2', alpha: 1, inputSize: 8, pool: 'avg' }, base: model, model, layer: 'odd_relu', featureShape: [4] };
    expect(() => exportFeatureGraph(featureModel)).toThrow("ONNX export: layer 'odd_relu' (LeakyReLU) has no ONNX converter");
    model.dispose();
  });

  it('refuses an activation it does not handle instead of writing a wrong graph', () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv' }).apply(input) as tf.SymbolicTensor;
    const output = tf.layers.activation({ activation: 'tanh', name: 'squash' }).apply(conv) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: output });
    const featureModel: FeatureModel = { spec: { base: 'mobilenet_v2', alpha: 1, inputSize: 8, pool: 'avg' }, base: model, model, layer: 'squash', featureShape: [4] };
    expect(() => exportFeatureGraph(featureModel)).toThrow("ONNX export: layer 'squash' (Activation) has activation 'tanh'");
    model.dispose();
  });
});

describe('the graph cache', () => {
  it('exports once, reuses the file, rebuilds a damaged one with a note, and keys by the weights', async () => {
    const dir = tempDir();
    const featureModel = buildFeatureModel({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 64, pool: 'avg' });
    setSeededWeights(featureModel.base, 'cache');
    const log = memoryLogger();
    const prepare = async (weightsSha256: string): Promise<string> => {
      const engine = await prepareEngine(featureModel, onnx, { batchSize: 4, threads: 1, weightsSha256, cacheDir: dir, log });
      if (engine.engine !== 'onnx') throw new Error('expected the onnx engine');
      return engine.graphFile;
    };
    const exported = (): number => log.lines.filter((line) => line.includes('ONNX graph: exported')).length;

    const file = await prepare('weights-a');
    expect(path.dirname(file)).toBe(path.join(dir, 'onnx'));
    expect(readFileSync(`${file}.sha256`, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    const bytes = readFileSync(file);
    expect(await prepare('weights-a')).toBe(file);
    expect(exported()).toBe(1);

    truncateSync(file, 1000); // as an interrupted copy or a full disk would leave it
    expect(await prepare('weights-a')).toBe(file);
    expect(exported()).toBe(2);
    expect(log.lines.some((line) => line.includes(`cached ONNX graph ${file} is damaged (checksum mismatch); rebuilding it`))).toBe(true);
    expect(readFileSync(file).equals(bytes)).toBe(true);

    writeFileSync(file, Buffer.alloc(bytes.length)); // same size, wrong bytes
    await prepare('weights-a');
    expect(exported()).toBe(3);
    expect(readFileSync(file).equals(bytes)).toBe(true);

    const other = await prepare('weights-b');
    expect(other).not.toBe(file);
    expect(exported()).toBe(4);
    featureModel.base.dispose();
  });
});
