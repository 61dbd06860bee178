import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import h5wasm from 'h5wasm/node';
import * as tf from '@tensorflow/tfjs';
import { fileIOHandler, selectBackend } from '@flowers/core/tf';
import { buildInceptionV3, buildMobileNetV2 } from '../src/models/index.ts';
import { applyLayerWeights } from '../src/weights/apply.ts';
import { downloadToCache } from '../src/weights/download.ts';
import { disposeLayerWeights } from '../src/weights/layer_weights.ts';
import { readKerasH5Weights } from '../src/weights/keras_h5.ts';
import { nsfwjsModelDir, readNsfwjsWeights } from '../src/weights/nsfwjs.ts';
import { imagenetWeightsUrl, resolveWeights, settleWeights } from '../src/weights/resolve.ts';
import { readTfjsLayersWeights } from '../src/weights/tfjs_layers.ts';
import { SHARED_MOBILENET } from '../../../shared_folder.ts';


const tempDir = (): string => mkdtempSync(path.join(os.tmpdir(), 'features-weights-'));

beforeAll(async () => {
  await selectBackend('cpu');
  await h5wasm.ready;
});

/** Every weighted layer's arrays, as plain numbers, keyed by layer name. */
function weightValues(model: tf.LayersModel): Map<string, number[][]> {
  return new Map(
    model.layers.filter((l) => l.weights.length > 0).map((l) => [l.name, l.getWeights().map((w) => Array.from(w.dataSync()))]),
  );
}

/**
 * Writes `model`'s weights in the Keras 2 `save_weights` HDF5 layout (as h5py does): root
 * attribute layer_names (weightless layers included, with empty weight_names), one group per
 * layer with attribute weight_names, datasets at `<layer>/<layer>/<weight>:0`.
 */
function writeKerasH5(file: string, model: tf.LayersModel, { nested = false, skip = '', prefix = '' } = {}): void {
  const h5 = new h5wasm.File(file, 'w');
  const root = nested ? h5.create_group('model_weights') : h5;
  const layers = model.layers.filter((l) => l.name !== skip);
  const names = layers.map((l) => prefix + l.name);
  root.create_attribute('layer_names', names, [names.length], `S${Math.max(...names.map((n) => n.length))}`);
  for (const [index, layer] of layers.entries()) {
    const group = root.create_group(names[index]!);
    const weightNames = layer.weights.map((w) => `${w.originalName.split('/').at(-1)}:0`);
    const fullNames = weightNames.map((n) => `${names[index]}/${n}`);
    group.create_attribute('weight_names', fullNames, [fullNames.length], `S${Math.max(1, ...fullNames.map((n) => n.length))}`);
    if (weightNames.length === 0) continue;
    const values = group.create_group(names[index]!);
    layer.getWeights().forEach((w, i) => {
      values.create_dataset({ name: weightNames[i]!, data: w.dataSync() as Float32Array, shape: w.shape, dtype: '<f' });
    });
  }
  h5.close();
}

describe('fileIOHandler', () => {
  it('saves model.json + weights.bin and loads them back to the same model', async () => {
    const dir = tempDir();
    const model = buildMobileNetV2({ alpha: 0.35, inputSize: 32 });
    await model.save(fileIOHandler(dir));
    expect(readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    const loaded = await tf.loadLayersModel(fileIOHandler(path.join(dir, 'model.json')));
    expect(loaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
    const x = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 5);
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((model.predict(x) as tf.Tensor).dataSync()));
  });

  it('names the missing shard', async () => {
    const dir = tempDir();
    await buildMobileNetV2({ alpha: 0.35, inputSize: 32 }).save(fileIOHandler(dir));
    rmSync(path.join(dir, 'weights.bin'));
    await expect(tf.loadLayersModel(fileIOHandler(dir))).rejects.toThrow(`${path.join(dir, 'weights.bin')} (ENOENT)`);
  });
});

describe('TF.js layers weights', () => {
  it('groups the shared model weights by layer, in Keras order', async () => {
    const layers = await readTfjsLayersWeights(path.dirname(SHARED_MOBILENET));
    expect(layers.get('block_1_expand')!.map((t) => t.shape)).toEqual([[1, 1, 8, 48]]);
    expect(layers.get('bn_Conv1')!.map((t) => t.shape)).toEqual([[16], [16], [16], [16]]);
    expect(layers.has('Conv1_relu')).toBe(false);
    // moving_variance comes last; variances are positive, betas are not all positive.
    expect(Math.min(...layers.get('bn_Conv1')![3]!.dataSync())).toBeGreaterThan(0);
    expect(layers.size).toBe(104);
  });

  it('orders weights listed by name (bias before kernel) as Keras does', async () => {
    const dir = tempDir();
    const specs = [
      { name: 'dense_a/bias', shape: [2], dtype: 'float32' },
      { name: 'dense_a/kernel', shape: [1, 2], dtype: 'float32' },
    ];
    writeFileSync(path.join(dir, 'weights.bin'), new Uint8Array(new Float32Array([7, 8, 1, 2]).buffer));
    writeFileSync(
      path.join(dir, 'model.json'),
      JSON.stringify({ format: 'layers-model', modelTopology: {}, weightsManifest: [{ paths: ['weights.bin'], weights: specs }] }),
    );
    const [kernel, bias] = (await readTfjsLayersWeights(dir)).get('dense_a')!;
    expect(kernel!.shape).toEqual([1, 2]);
    expect(Array.from(kernel!.dataSync())).toEqual([1, 2]);
    expect(Array.from(bias!.dataSync())).toEqual([7, 8]);
  });
});

describe('Keras .h5 weights', () => {
  for (const nested of [false, true]) {
    it(`loads each array into its layer (${nested ? 'model_weights/ of a full model file' : 'save_weights layout'})`, async () => {
      const file = path.join(tempDir(), 'weights.h5');
      const source = buildMobileNetV2({ alpha: 0.35, inputSize: 32 });
      writeKerasH5(file, source, { nested });
      const target = buildMobileNetV2({ alpha: 0.35, inputSize: 32 });
      // Fresh initialisations differ (the h5 write is not a no-op).
      expect(target.getLayer('Conv1').getWeights()[0]!.dataSync()).not.toEqual(source.getLayer('Conv1').getWeights()[0]!.dataSync());
      applyLayerWeights(target, await readKerasH5Weights(file), file);
      expect(weightValues(target)).toEqual(weightValues(source));
    });
  }

  it('pairs layers by order, as Keras load_weights does, when no layer name matches', async () => {
    const file = path.join(tempDir(), 'renamed.h5');
    const source = buildMobileNetV2({ alpha: 0.35, inputSize: 32 });
    writeKerasH5(file, source, { prefix: 'other_' });
    const target = buildMobileNetV2({ alpha: 0.35, inputSize: 32 });
    applyLayerWeights(target, await readKerasH5Weights(file), file);
    expect(weightValues(target)).toEqual(weightValues(source));

    const narrow = path.join(tempDir(), 'renamed_narrow.h5');
    writeKerasH5(narrow, buildMobileNetV2({ alpha: 0.5, inputSize: 32 }), { prefix: 'other_' });
    await expect(async () => applyLayerWeights(target, await readKerasH5Weights(narrow), narrow)).rejects.toThrow(
      `weights ${narrow}, layer 'block_1_project' (paired by order with 'other_block_1_project'): shapes [[1,1,48,16]] do not fit the model's [[1,1,48,8]]`,
    );
  });

  it('names the file, the layer and the shapes when the architecture differs', async () => {
    const dir = tempDir();
    const narrow = path.join(dir, 'narrow.h5');
    writeKerasH5(narrow, buildMobileNetV2({ alpha: 0.5, inputSize: 32 }));
    const model = buildMobileNetV2({ alpha: 0.35, inputSize: 32 });
    const before = weightValues(model);
    await expect(async () => applyLayerWeights(model, await readKerasH5Weights(narrow), narrow)).rejects.toThrow(
      // alpha 0.5 first differs at block_1_project: _make_divisible(24 * 0.5) = 16 filters, not 8.
      `weights ${narrow}, layer 'block_1_project': shapes [[1,1,48,16]] do not fit the model's [[1,1,48,8]]`,
    );
    // A failed load leaves the model untouched.
    expect(weightValues(model)).toEqual(before);

    const missing = path.join(dir, 'missing.h5');
    writeKerasH5(missing, buildMobileNetV2({ alpha: 0.35, inputSize: 32 }), { skip: 'block_3_expand' });
    await expect(async () => applyLayerWeights(model, await readKerasH5Weights(missing), missing)).rejects.toThrow(
      // block_2 outputs _make_divisible(24 * 0.35) = 8 channels; expansion 6 makes 48.
      `weights ${missing} have no layer 'block_3_expand' (model mobilenetv2_0.35_32 expects shapes [[1,1,8,48]])`,
    );

    const extra = path.join(dir, 'inception.h5');
    const tiny = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 2, kernelSize: 1, name: 'conv2d_1' })] });
    writeKerasH5(extra, tiny);
    await expect(async () => applyLayerWeights(model, await readKerasH5Weights(extra), extra)).rejects.toThrow(
      `weights ${extra} have layer 'conv2d_1' that model mobilenetv2_0.35_32 does not have`,
    );
  });

  it('explains files that are not Keras weights', async () => {
    const dir = tempDir();
    const notH5 = path.join(dir, 'text.h5');
    writeFileSync(notH5, 'hello');
    await expect(readKerasH5Weights(notH5)).rejects.toThrow(`${notH5} is not an HDF5 file`);
    const plain = path.join(dir, 'plain.h5');
    const h5 = new h5wasm.File(plain, 'w');
    h5.create_dataset({ name: 'x', data: new Float32Array([1]) });
    h5.close();
    await expect(readKerasH5Weights(plain)).rejects.toThrow(`${plain} is not a Keras 2 weights file: no 'layer_names' attribute`);
    await expect(readKerasH5Weights(path.join(dir, 'absent.h5'))).rejects.toThrow(/absent\.h5 \(ENOENT\)/);
  });
});

describe('nsfwjs InceptionV3 weights', () => {
  /** The package's own first weight, dequantized here by hand: min + scale * byte. */
  function firstWeightByHand(): { name: string; values: number[] } {
    const dir = nsfwjsModelDir('inception_v3');
    const evaluate = (file: string): unknown => {
      const sandbox = { module: { exports: {} as unknown }, exports: {} };
      vm.runInNewContext(readFileSync(path.join(dir, file), 'utf8'), sandbox);
      return sandbox.module.exports;
    };
    const manifest = (evaluate('model.min.js') as { weightsManifest: tf.io.WeightsManifestConfig }).weightsManifest;
    const first = manifest[0]!.weights[0]!;
    const bytes = Buffer.from(evaluate(`${manifest[0]!.paths[0]}.min.js`) as string, 'base64');
    const { min, scale } = first.quantization as { min: number; scale: number };
    return { name: first.name, values: Array.from(bytes.subarray(0, first.shape[0]), (q) => min + scale * q) };
  }

  it('load into every weighted layer of the code-built InceptionV3, dequantized', async () => {
    const resolved = await resolveWeights({ base: 'inception_v3', inputSize: 75, weights: 'nsfwjs-inception' });
    expect(resolved.warning).toMatch(/fine-tuned for NSFW detection/);
    expect(resolved.source).toBe('nsfwjs@4.2.1 inception_v3');
    expect(resolved.sha256).toMatch(/^[0-9a-f]{64}$/);
    // 94 conv2d + 94 batch_normalization layers; the dense head is dropped.
    expect(resolved.layers.size).toBe(188);
    expect(resolved.layers.has('dense_1')).toBe(false);
    expect(resolved.layers.get('conv2d_94')!.map((t) => t.shape)).toEqual([[1, 1, 2048, 192]]);

    const model = buildInceptionV3({ inputSize: 75 });
    const initial = Array.from(model.getLayer('conv2d_50').getWeights()[0]!.dataSync().slice(0, 16));
    // applyLayerWeights refuses weights that leave any weighted layer unassigned.
    applyLayerWeights(model, resolved.layers, resolved.source);
    expect(Array.from(model.getLayer('conv2d_50').getWeights()[0]!.dataSync().slice(0, 16))).not.toEqual(initial);

    const byHand = firstWeightByHand();
    expect(byHand.name).toBe('batch_normalization_1/beta');
    const beta = model.getLayer('batch_normalization_1').getWeights()[0]!;
    Array.from(beta.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(byHand.values[i]!, 5));

    const features = model.predict(tf.randomUniform([1, 75, 75, 3], -1, 1, 'float32', 2)) as tf.Tensor;
    expect(features.shape).toEqual([1, 1, 1, 2048]);
    expect(Number.isFinite(tf.sum(features).dataSync()[0])).toBe(true);
  });
});

describe('downloadToCache', () => {
  const payload = Buffer.from('pretend these are weights\n'.repeat(5000));
  const md5 = createHash('md5').update(payload).digest('hex');
  const sha256 = createHash('sha256').update(payload).digest('hex');
  let server: Server;
  let base = '';
  let requests = 0;

  beforeAll(async () => {
    server = createServer((request, response) => {
      requests++;
      if (request.url === '/models/w.h5') {
        response.writeHead(200, { 'content-length': payload.length });
        response.end(payload);
      } else {
        response.writeHead(404);
        response.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('keeps nothing when the MD5 does not match', async () => {
    const cacheDir = tempDir();
    const url = `${base}/models/w.h5`;
    await expect(downloadToCache({ url, cacheDir, md5: '0'.repeat(32) })).rejects.toThrow(
      `download of ${url} failed: corrupt: MD5 ${md5}, expected ${'0'.repeat(32)}`,
    );
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('downloads once, then reuses the verified cached file; a damaged one is fetched again', async () => {
    const cacheDir = tempDir();
    const url = `${base}/models/w.h5`;
    const progress: Array<[number, number | undefined]> = [];
    const before = requests;
    const first = await downloadToCache({ url, cacheDir, md5, onProgress: (done, total) => progress.push([done, total]) });
    expect(first).toEqual({ path: path.join(cacheDir, 'w.h5'), sha256 });
    expect(readFileSync(first.path).equals(payload)).toBe(true);
    expect(progress.at(-1)).toEqual([payload.length, payload.length]);
    expect(readdirSync(cacheDir)).toEqual(['w.h5']);

    expect(await downloadToCache({ url, cacheDir, md5 })).toEqual(first);
    expect(requests).toBe(before + 1);

    writeFileSync(first.path, 'truncated');
    expect(await downloadToCache({ url, cacheDir, md5 })).toEqual(first);
    expect(requests).toBe(before + 2);
    expect(readFileSync(first.path).equals(payload)).toBe(true);
  });

  it('names the URL of a failed request', async () => {
    const url = `${base}/models/absent.h5`;
    await expect(downloadToCache({ url, cacheDir: tempDir() })).rejects.toThrow(`download of ${url} failed: HTTP 404`);
  });
});

describe('resolveWeights', () => {
  it('names the Keras MobileNetV2 files like Keras, falling back to 224 px weights', () => {
    const prefix = 'https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels';
    expect(imagenetWeightsUrl({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 96 })).toEqual({ url: `${prefix}_0.35_96_no_top.h5`, note: undefined });
    expect(imagenetWeightsUrl({ base: 'mobilenet_v2', inputSize: 224 }).url).toBe(`${prefix}_1.0_224_no_top.h5`);
    const odd = imagenetWeightsUrl({ base: 'mobilenet_v2', alpha: 0.5, inputSize: 150 });
    expect(odd.url).toBe(`${prefix}_0.5_224_no_top.h5`);
    expect(odd.note).toMatch(/using the 224 px weights/);
    expect(imagenetWeightsUrl({ base: 'inception_v3', inputSize: 150 }).md5).toBe('bcbd6486424b2319ff4ef7d526e38f63');
  });

  it('reads ImageNet weights from the cache, and .h5 or TF.js files given by path', async () => {
    const cacheDir = tempDir();
    const source = buildMobileNetV2({ alpha: 0.35, inputSize: 32 });
    writeKerasH5(path.join(cacheDir, 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_128_no_top.h5'), source);
    const cached = await resolveWeights({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 128, weights: 'imagenet', cacheDir });
    expect(cached.source).toBe(path.join(cacheDir, 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_128_no_top.h5'));
    expect(cached.warning).toBeUndefined();
    // Keras ImageNet weights expect preprocess_input's [-1, 1].
    expect(cached.pixelScaling).toEqual({ divisor: 127.5, offset: -1 });
    // The file's own hash, for the manifest, besides the hash of the weights in it.
    expect(cached.fileSha256).toBe(createHash('sha256').update(readFileSync(cached.source)).digest('hex'));
    const model = buildMobileNetV2({ alpha: 0.35, inputSize: 32 });
    applyLayerWeights(model, cached.layers, cached.source);
    expect(weightValues(model)).toEqual(weightValues(source));

    const byPath = await resolveWeights({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 32, weights: cached.source });
    expect(byPath.sha256).toBe(cached.sha256);
    expect(byPath.fileSha256).toBeUndefined();

    const shared = await resolveWeights({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 224, weights: SHARED_MOBILENET });
    expect(shared.layers.size).toBe(104);
    expect(shared.sha256).not.toBe(cached.sha256);
  });

  it("'auto' falls back to the base nsfwjs bundles: InceptionV3, and MobileNetV2 at its own alpha 1.0", async () => {
    // A cache "directory" that is a file makes the ImageNet download fail without the network.
    const cacheDir = path.join(tempDir(), 'not-a-dir');
    writeFileSync(cacheDir, '');
    const fallback = await resolveWeights({ base: 'inception_v3', inputSize: 75, weights: 'auto', cacheDir });
    expect(fallback.source).toBe('nsfwjs@4.2.1 inception_v3');
    expect(fallback.weights).toBe('nsfwjs-inception');
    expect(fallback.warning).toMatch(/^ImageNet weights unavailable \(download of https:\/\/storage\.googleapis\.com\/.*inception_v3_weights_tf_dim_ordering_tf_kernels_notop\.h5 failed: .*\); using the InceptionV3 weights bundled with nsfwjs/);
    expect(fallback.layers.size).toBe(188);
    // nsfwjs fine-tuned its bases on pixels / 255, and feeds them so.
    expect(fallback.pixelScaling).toEqual({ divisor: 255, offset: 0 });
    disposeLayerWeights(fallback.layers);

    const file = 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5';
    const mobilenet = await resolveWeights({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 224, weights: 'auto', cacheDir });
    expect(mobilenet).toMatchObject({ source: 'nsfwjs@4.2.1 mobilenet_v2', weights: 'nsfwjs-mobilenet-v2', alpha: 1.0 });
    expect(mobilenet.fallback).toEqual({ reason: expect.stringMatching(new RegExp(`^download of https://\\S+/${file} failed: `)), requestedAlpha: 0.35 });
    // One line: what happened, that accuracy suffers, and how to get the ImageNet file.
    expect(mobilenet.warning).not.toContain('\n');
    expect(mobilenet.warning).toMatch(/^ImageNet weights unavailable \(download of .*\); using the MobileNetV2 \(alpha 1\.0, not 0\.35\) weights bundled with nsfwjs@4\.2\.1 mobilenet_v2: /);
    expect(mobilenet.warning).toContain('accuracy will be lower');
    expect(mobilenet.warning).toMatch(new RegExp(`download https://storage\\.googleapis\\.com/\\S+/${file} on a machine with internet and pass --weights /path/to/${file}$`));
    // The base only (52 convolutions and their batch norms), for the alpha 1.0 builder.
    expect(mobilenet.layers.size).toBe(104);
    expect([...mobilenet.layers.keys()].filter((layer) => layer.startsWith('dense'))).toEqual([]);
    // applyLayerWeights checks every layer's name and shape.
    applyLayerWeights(buildMobileNetV2({ alpha: 1.0, inputSize: 96 }), mobilenet.layers, mobilenet.source);

    // Settled once, the choice is passed on as it is: no second download attempt, same warning.
    const settled = await settleWeights({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 224, weights: 'auto', cacheDir });
    expect(settled).toEqual({ weights: mobilenet.weights, alpha: 1.0, pixelScaling: { divisor: 255, offset: 0 }, fallback: mobilenet.fallback, warning: mobilenet.warning });
    const again = await resolveWeights({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 224, weights: settled });
    expect(again.sha256).toBe(mobilenet.sha256);
    expect(again.warning).toBe(mobilenet.warning);
  });

  it('refuses nsfwjs weights for another base or another MobileNetV2 width', async () => {
    await expect(resolveWeights({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 96, weights: 'nsfwjs-inception' })).rejects.toThrow(
      /nsfwjs-inception holds inception_v3 weights, not mobilenet_v2/,
    );
    await expect(resolveWeights({ base: 'inception_v3', inputSize: 96, weights: 'nsfwjs-mobilenet-v2' })).rejects.toThrow(
      /nsfwjs-mobilenet-v2 holds mobilenet_v2 weights, not inception_v3/,
    );
    await expect(resolveWeights({ base: 'mobilenet_v2', alpha: 0.35, inputSize: 96, weights: 'nsfwjs-mobilenet-v2' })).rejects.toThrow(
      '--weights nsfwjs-mobilenet-v2 holds mobilenet_v2 weights of alpha 1.0, not 0.35: pass --alpha 1.0',
    );
  });
});

describe('nsfwjs MobileNetV2 weights', () => {
  it("give our MobileNetV2 (alpha 1.0) the features of nsfwjs' own model at its out_relu layer", async () => {
    // nsfwjs' own loader and API: its bundled layers model, run up to the base's last layer.
    // Its CommonJS build: the ES module one imports 'buffer/', a directory Node's ESM loader refuses.
    const nsfwjs = createRequire(import.meta.url)('nsfwjs') as typeof import('nsfwjs');
    const theirs = await nsfwjs.load('MobileNetV2');
    const ours = buildMobileNetV2({ alpha: 1.0, inputSize: 224 });
    applyLayerWeights(ours, await readNsfwjsWeights('mobilenet_v2'), 'nsfwjs');
    for (const seed of [1, 2]) {
      const image = tf.randomUniform([224, 224, 3], 0, 256, 'int32', seed);
      const expected = theirs.infer(image as tf.Tensor3D, 'out_relu');
      // nsfwjs feeds its model pixels / 255.
      const actual = ours.predict(image.toFloat().div(255).expandDims(0)) as tf.Tensor;
      expect(actual.shape).toEqual([1, 7, 7, 1280]);
      expect(expected.shape).toEqual(actual.shape);
      const scale = tf.max(tf.abs(expected)).dataSync()[0]!;
      const error = tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0]!;
      expect(scale).toBeGreaterThan(0.1);
      expect(error / scale).toBeLessThan(1e-4);
    }
  }, 120_000);
});
