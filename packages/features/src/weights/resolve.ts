import type { Logger } from '@flowers/core';
import { UserError } from '@flowers/core';
import type { BaseName } from '../models/index.ts';
import { downloadToCache } from './download.ts';
import { readKerasH5Weights } from './keras_h5.ts';
import { digestLayerWeights, type LayerWeights } from './layer_weights.ts';
import { NSFWJS_INCEPTION_SOURCE, readNsfwjsInceptionWeights } from './nsfwjs_inception.ts';
import { readTfjsLayersWeights } from './tfjs_layers.ts';

/** 'auto' | 'imagenet' | 'nsfwjs-inception', or a path: a Keras .h5 file or a TF.js model.json (or its folder). */
export type WeightsChoice = 'auto' | 'imagenet' | 'nsfwjs-inception' | (string & {});

export interface ResolveWeightsOptions {
  base: BaseName;
  /** MobileNetV2 width multiplier (default 1.0, as in buildBase); ignored for InceptionV3. */
  alpha?: number;
  inputSize: number;
  weights: WeightsChoice;
  cacheDir?: string;
  onProgress?: (doneBytes: number, totalBytes: number | undefined) => void;
  log?: Logger;
}

export interface ResolvedWeights {
  layers: LayerWeights;
  /** Where they came from: a file path or a package, for messages and run records. */
  source: string;
  /** SHA-256 of the weights themselves (see digestLayerWeights). */
  sha256: string;
  /** SHA-256 of the downloaded file, for weights fetched from the Keras ImageNet URLs. */
  fileSha256?: string;
  /** Set when the weights are usable but not what a Keras user would get (the caller prints it). */
  warning?: string;
}

const KERAS_WEIGHTS = 'https://storage.googleapis.com/tensorflow/keras-applications';
const INCEPTION_V3_NOTOP = {
  url: `${KERAS_WEIGHTS}/inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`,
  md5: 'bcbd6486424b2319ff4ef7d526e38f63',
};
/** Keras publishes MobileNetV2 ImageNet weights trained at these sizes only. */
const MOBILENET_V2_WEIGHT_SIZES = [96, 128, 160, 192, 224];

/** Keras `str(float(alpha))`: '0.35', '0.5', '1.0'. */
function kerasAlpha(alpha: number): string {
  return Number.isInteger(alpha) ? alpha.toFixed(1) : String(alpha);
}

/** The Keras ImageNet no-top weights file for a base, with a note when Keras would warn. */
export function imagenetWeightsUrl({ base, alpha = 1.0, inputSize }: { base: BaseName; alpha?: number; inputSize: number }): {
  url: string;
  md5?: string;
  note?: string;
} {
  if (base === 'inception_v3') return INCEPTION_V3_NOTOP;
  const trained = MOBILENET_V2_WEIGHT_SIZES.includes(inputSize);
  const size = trained ? inputSize : 224;
  return {
    url: `${KERAS_WEIGHTS}/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_${kerasAlpha(alpha)}_${size}_no_top.h5`,
    note: trained
      ? undefined
      : `no MobileNetV2 ImageNet weights were trained at ${inputSize} px (only ${MOBILENET_V2_WEIGHT_SIZES.join(', ')}); using the 224 px weights, as Keras does`,
  };
}

type ChosenWeights = { layers: LayerWeights; source: string; fileSha256?: string; warning?: string };

async function imagenetWeights(options: ResolveWeightsOptions): Promise<ChosenWeights> {
  const { url, md5, note } = imagenetWeightsUrl(options);
  if (note !== undefined) options.log?.info(note);
  options.log?.info(`ImageNet weights: ${url}`);
  const file = await downloadToCache({ url, md5, cacheDir: options.cacheDir, onProgress: options.onProgress });
  return { layers: await readKerasH5Weights(file.path), source: file.path, fileSha256: file.sha256 };
}

async function nsfwjsWeights(base: BaseName): Promise<{ layers: LayerWeights; source: string }> {
  if (base !== 'inception_v3') throw new UserError(`--weights nsfwjs-inception holds InceptionV3 weights, not ${base}`);
  return { layers: await readNsfwjsInceptionWeights(), source: NSFWJS_INCEPTION_SOURCE };
}

const NSFWJS_WARNING =
  `using the InceptionV3 weights bundled with ${NSFWJS_INCEPTION_SOURCE}: ImageNet-pretrained but fine-tuned for NSFW detection, ` +
  'so accuracy will be lower than with the Keras ImageNet weights; pass --weights /path/to/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 for those';

async function chooseWeights(options: ResolveWeightsOptions): Promise<ChosenWeights> {
  const { base, weights } = options;
  if (weights === 'imagenet') return imagenetWeights(options);
  if (weights === 'nsfwjs-inception') return { ...(await nsfwjsWeights(base)), warning: NSFWJS_WARNING };
  if (weights === 'auto') {
    try {
      return await imagenetWeights(options);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (base === 'inception_v3') {
        return { ...(await nsfwjsWeights(base)), warning: `ImageNet weights unavailable (${reason}); ${NSFWJS_WARNING}` };
      }
      throw new UserError(
        `ImageNet weights for ${base} unavailable (${reason}); pass --weights /path/to/model.json (a TF.js layers model) or a Keras .h5 weights file`,
      );
    }
  }
  const layers = weights.toLowerCase().endsWith('.h5') ? await readKerasH5Weights(weights) : await readTfjsLayersWeights(weights);
  return { layers, source: weights };
}

/** Finds and reads the pretrained weights for a base, by the rules of `weights` (see WeightsChoice). */
export async function resolveWeights(options: ResolveWeightsOptions): Promise<ResolvedWeights> {
  const chosen = await chooseWeights(options);
  return { ...chosen, sha256: digestLayerWeights(chosen.layers) };
}
