import path from 'node:path';
import type { Logger } from '@flowers/core';
import { UserError } from '@flowers/core';
import { BASES, type BaseName, type PixelScaling } from '../models/index.ts';
import { downloadToCache } from './download.ts';
import { readKerasH5Weights } from './keras_h5.ts';
import { digestLayerWeights, type LayerWeights } from './layer_weights.ts';
import { NSFWJS_BASES, NSFWJS_PIXEL_SCALING, readNsfwjsWeights } from './nsfwjs.ts';
import { readTfjsLayersWeights } from './tfjs_layers.ts';

/** The bases bundled with nsfwjs, by the name --weights takes. */
const NSFWJS_CHOICES = { 'nsfwjs-inception': 'inception_v3', 'nsfwjs-mobilenet-v2': 'mobilenet_v2' } as const satisfies Record<string, BaseName>;
type NsfwjsChoice = keyof typeof NSFWJS_CHOICES;
const NSFWJS_CHOICE_OF: Record<BaseName, NsfwjsChoice> = { inception_v3: 'nsfwjs-inception', mobilenet_v2: 'nsfwjs-mobilenet-v2' };
const isNsfwjsChoice = (weights: string): weights is NsfwjsChoice => Object.hasOwn(NSFWJS_CHOICES, weights);

/** The choices --weights takes by name; anything else is a path. */
export const NAMED_WEIGHTS = ['auto', 'imagenet', ...(Object.keys(NSFWJS_CHOICES) as NsfwjsChoice[])] as const;

/**
 * 'auto' (the ImageNet weights, else the base nsfwjs bundles), 'imagenet', 'nsfwjs-inception',
 * 'nsfwjs-mobilenet-v2', or a path: a Keras .h5 file or a TF.js model.json (or its folder).
 */
export type WeightsChoice = (typeof NAMED_WEIGHTS)[number] | (string & {});

export interface ResolveWeightsOptions {
  base: BaseName;
  /** MobileNetV2 width multiplier (default 1.0, as in buildBase); ignored for InceptionV3. */
  alpha?: number;
  inputSize: number;
  /** A choice, or one settleWeights has settled already (taken as it is: no second download attempt). */
  weights: WeightsChoice | SettledWeights;
  cacheDir?: string;
  onProgress?: (doneBytes: number, totalBytes: number | undefined) => void;
  log?: Logger;
}

/** What a weights choice comes to on this machine, before any weights are read. */
export interface SettledWeights {
  /** 'auto' settled into 'imagenet' or a bundled base; any other choice as given. */
  weights: WeightsChoice;
  /**
   * The MobileNetV2 width the weights are for, and so the width to build the base with: the
   * requested one, except where 'auto' fell back to a bundled base of another width.
   */
  alpha: number;
  /** The pixels the weights expect (Keras' [-1, 1] for ImageNet and weight files, nsfwjs' [0, 1]). */
  pixelScaling: PixelScaling;
  /** Set when 'auto' could not get the ImageNet weights: why, and the width that was asked for. */
  fallback?: { reason: string; requestedAlpha: number };
  /** Set when the weights are usable but not what a Keras user would get (the caller prints it). */
  warning?: string;
}

export interface ResolvedWeights extends SettledWeights {
  layers: LayerWeights;
  /** Where they came from: a file path or a package, for messages and run records. */
  source: string;
  /** SHA-256 of the weights themselves (see digestLayerWeights). */
  sha256: string;
  /** SHA-256 of the downloaded file, for weights fetched from the Keras ImageNet URLs. */
  fileSha256?: string;
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

/** The Keras ImageNet file for the options, from the cache or downloaded into it. */
async function imagenetFile(options: ResolveWeightsOptions): Promise<{ path: string; sha256: string }> {
  const { url, md5, note } = imagenetWeightsUrl(options);
  if (note !== undefined) options.log?.info(note);
  options.log?.info(`ImageNet weights: ${url}`);
  return downloadToCache({ url, md5, cacheDir: options.cacheDir, onProgress: options.onProgress });
}

/** Why the bundled weights are a stand-in, and how to get the real ones. */
function nsfwjsWarning(options: ResolveWeightsOptions): string {
  const { base, alpha = 1.0 } = options;
  const bundled = NSFWJS_BASES[base];
  const what = bundled.alpha === undefined ? 'InceptionV3' : `MobileNetV2 (alpha ${kerasAlpha(bundled.alpha)}${alpha === bundled.alpha ? '' : `, not ${kerasAlpha(alpha)}`})`;
  const { url } = imagenetWeightsUrl(options);
  return (
    `using the ${what} weights bundled with ${bundled.source}: ImageNet-pretrained but fine-tuned for NSFW detection and uint8-quantized, ` +
    `so accuracy will be lower than with the Keras ImageNet weights; for those, download ${url} on a machine with internet and pass --weights /path/to/${path.basename(new URL(url).pathname)}`
  );
}

function bundledAlpha(base: BaseName, requested: number): number {
  return NSFWJS_BASES[base].alpha ?? requested;
}

/**
 * Settles a weights choice for a base: 'auto' becomes 'imagenet' when the Keras file is cached
 * or downloads, and the base nsfwjs bundles otherwise (with its own width, and a warning).
 * Returns the ImageNet file it fetched, so reading the weights need not look it up again.
 */
async function settle(options: ResolveWeightsOptions): Promise<SettledWeights & { imagenet?: { path: string; sha256: string } }> {
  const { base, weights, alpha = 1.0 } = options;
  if (typeof weights === 'object') {
    // Settled earlier, so the file is in the cache and was announced then.
    return weights.weights === 'imagenet' ? { ...weights, imagenet: await imagenetFile({ ...options, alpha: weights.alpha, log: undefined }) } : weights;
  }
  if (weights === 'auto' || weights === 'imagenet') {
    try {
      return { weights: 'imagenet', alpha, pixelScaling: BASES[base].pixelScaling, imagenet: await imagenetFile(options) };
    } catch (error) {
      if (weights === 'imagenet') throw error;
      const reason = error instanceof Error ? error.message : String(error);
      return {
        weights: NSFWJS_CHOICE_OF[base],
        alpha: bundledAlpha(base, alpha),
        pixelScaling: NSFWJS_PIXEL_SCALING,
        fallback: { reason, requestedAlpha: alpha },
        warning: `ImageNet weights unavailable (${reason}); ${nsfwjsWarning(options)}`,
      };
    }
  }
  if (isNsfwjsChoice(weights)) {
    const holds = NSFWJS_CHOICES[weights];
    if (holds !== base) throw new UserError(`--weights ${weights} holds ${holds} weights, not ${base}`);
    const bundled = bundledAlpha(base, alpha);
    if (bundled !== alpha) throw new UserError(`--weights ${weights} holds ${base} weights of alpha ${kerasAlpha(bundled)}, not ${kerasAlpha(alpha)}: pass --alpha ${kerasAlpha(bundled)}`);
    return { weights, alpha, pixelScaling: NSFWJS_PIXEL_SCALING, warning: nsfwjsWarning(options) };
  }
  return { weights, alpha, pixelScaling: BASES[base].pixelScaling };
}

/**
 * What a weights choice comes to here and now (see SettledWeights), downloading the ImageNet
 * file into the cache if 'auto' or 'imagenet' needs it; nothing is read. Settle once and pass
 * the settled choice on, so a cache key and the weights read for it cannot disagree.
 */
export async function settleWeights(options: ResolveWeightsOptions): Promise<SettledWeights> {
  const { imagenet: _file, ...settled } = await settle(options);
  return settled;
}

/** Finds and reads the pretrained weights for a base, by the rules of `weights` (see WeightsChoice). */
export async function resolveWeights(options: ResolveWeightsOptions): Promise<ResolvedWeights> {
  const { imagenet, ...settled } = await settle(options);
  const { weights } = settled;
  let chosen: { layers: LayerWeights; source: string; fileSha256?: string };
  if (imagenet !== undefined) {
    chosen = { layers: await readKerasH5Weights(imagenet.path), source: imagenet.path, fileSha256: imagenet.sha256 };
  } else if (isNsfwjsChoice(weights)) {
    chosen = { layers: await readNsfwjsWeights(options.base), source: NSFWJS_BASES[options.base].source };
  } else {
    chosen = { layers: weights.toLowerCase().endsWith('.h5') ? await readKerasH5Weights(weights) : await readTfjsLayersWeights(weights), source: weights };
  }
  return { ...settled, ...chosen, sha256: digestLayerWeights(chosen.layers) };
}
