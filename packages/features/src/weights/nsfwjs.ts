import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '@flowers/core';
import type { BaseName, PixelScaling } from '../models/index.ts';
import { disposeLayerWeights, groupByLayer, type LayerWeights } from './layer_weights.ts';

/**
 * The bases nsfwjs 4.2.1 bundles, as TF.js layers models with Keras 2.2.4 layer names (the ones
 * our builders use), ImageNet-pretrained and fine-tuned to classify NSFW images. `alpha` is the
 * MobileNetV2 width the bundle holds; `lastLayer` is the top of the base (the head is dropped).
 */
export const NSFWJS_BASES = {
  inception_v3: { dir: 'inception_v3', source: 'nsfwjs@4.2.1 inception_v3', lastLayer: 'mixed10', alpha: undefined },
  // 224 px, width 1.0; its head (average pooling, three dense layers) sits above out_relu.
  mobilenet_v2: { dir: 'mobilenet_v2', source: 'nsfwjs@4.2.1 mobilenet_v2', lastLayer: 'out_relu', alpha: 1.0 },
} as const satisfies Record<BaseName, { dir: string; source: string; lastLayer: string; alpha: number | undefined }>;

/** nsfwjs feeds its models pixels / 255, in [0, 1], not Keras' [-1, 1]; its weights were fine-tuned on that. */
export const NSFWJS_PIXEL_SCALING: PixelScaling = { divisor: 255, offset: 0 };

interface KerasLayerConfig {
  name: string;
  inbound_nodes: Array<Array<[string, number, number, unknown]>>;
}
interface BundledModel {
  modelTopology: { model_config: { config: { layers: KerasLayerConfig[] } } };
  weightsManifest: tf.io.WeightsManifestConfig;
}

/** The folder of the package's bundled model for a base. */
export function nsfwjsModelDir(base: BaseName): string {
  // nsfwjs exports only its entry points, so find the package from its CommonJS main file.
  const main = createRequire(import.meta.url).resolve('nsfwjs');
  return path.join(path.dirname(main), '..', 'models', NSFWJS_BASES[base].dir);
}

/**
 * Evaluates one of the package's UMD bundles in an empty context (no require, no globals), where
 * it can only fill in `module.exports`: the model JSON, or one shard as a base64 string.
 */
async function evaluateBundle(file: string): Promise<unknown> {
  let code: string;
  try {
    code = await readFile(file, 'utf8');
  } catch (error) {
    throw new UserError(`cannot read nsfwjs model bundle ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const sandbox = { module: { exports: {} as unknown }, exports: {} };
  vm.runInNewContext(code, sandbox, { filename: file, timeout: 30_000 });
  return sandbox.module.exports;
}

/** Names of `last` and every layer it depends on, from a Keras topology's inbound nodes. */
function layersUpTo(layers: KerasLayerConfig[], last: string, base: BaseName): Set<string> {
  const byName = new Map(layers.map((layer) => [layer.name, layer]));
  const kept = new Set<string>();
  const pending = [last];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (kept.has(name)) continue;
    const layer = byName.get(name);
    if (layer === undefined) throw new UserError(`nsfwjs ${base} topology has no layer '${name}'`);
    kept.add(name);
    for (const node of layer.inbound_nodes) for (const [inbound] of node) pending.push(inbound);
  }
  return kept;
}

/**
 * Reads the base (everything up to NSFWJS_BASES[base].lastLayer) out of the package's bundled
 * model: uint8-quantized weights, dequantized by tf.io.decodeWeights. The head is dropped.
 */
export async function readNsfwjsWeights(base: BaseName, modelDir = nsfwjsModelDir(base)): Promise<LayerWeights> {
  // A JSON round trip turns the sandbox's objects into plain objects of this realm.
  const bundled = JSON.parse(JSON.stringify(await evaluateBundle(path.join(modelDir, 'model.min.js')))) as BundledModel;
  const specs = bundled.weightsManifest.flatMap((group) => group.weights);
  const shards: ArrayBuffer[] = [];
  for (const shard of bundled.weightsManifest.flatMap((group) => group.paths)) {
    const file = path.join(modelDir, `${shard}.min.js`);
    const base64 = await evaluateBundle(file);
    if (typeof base64 !== 'string') throw new UserError(`nsfwjs weight bundle ${file} does not export a base64 string`);
    const bytes = Buffer.from(base64, 'base64');
    shards.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  }
  const all = groupByLayer(Object.entries(tf.io.decodeWeights(shards, specs)));
  const kept = layersUpTo(bundled.modelTopology.model_config.config.layers, NSFWJS_BASES[base].lastLayer, base);
  disposeLayerWeights(new Map([...all].filter(([layer]) => !kept.has(layer))));
  return new Map([...all].filter(([layer]) => kept.has(layer)));
}
