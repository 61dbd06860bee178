import * as tf from '@tensorflow/tfjs';
import { UserError } from '@flowers/core';
import { planInference, type InferencePlan } from './fused_inference.ts';
import type { FeatureRows } from './engines/engine.ts';
import { BASES, buildBase, scalePixels, type BaseName, type MobileNetV2Alpha, type PixelScaling } from './models/index.ts';

export const FEATURE_POOLS = ['avg', 'none'] as const;
/** 'avg': global average pooling of the base's output map; 'none': the flattened map. */
export type FeaturePool = (typeof FEATURE_POOLS)[number];

/** Everything needed to rebuild the same feature extractor in another thread. */
export interface FeatureModelSpec {
  base: BaseName;
  alpha: number;
  inputSize: number;
  pool: FeaturePool;
  /** Inner layer whose activations are also returned (for fine-tuning the top from a cache). */
  cut?: string;
  /** The pixels the weights expect, when not the base's Keras preprocessing (see SettledWeights). */
  pixelScaling?: PixelScaling;
}

/** The scaling every engine applies to the pixels before the base. */
export function pixelScalingOf(spec: FeatureModelSpec): PixelScaling {
  return spec.pixelScaling ?? BASES[spec.base].pixelScaling;
}

export interface FeatureModel {
  spec: FeatureModelSpec;
  /** The base itself: it owns the weights. */
  base: tf.LayersModel;
  /** The base with the cut layer as a second output, or the base when there is no cut. */
  model: tf.LayersModel;
  /** Name of the base's output layer. */
  layer: string;
  /** Shape of one row of features, after pooling: [2048], or [3, 3, 2048] with pool 'none'. */
  featureShape: number[];
  /** Shape of one row of cut activations (never pooled). */
  cutShape?: number[];
}

const rowShape = (t: tf.SymbolicTensor): number[] => t.shape.slice(1) as number[];
export const shapeSize = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The base's layer to cut at, or a one-line error naming the option that asked for it. */
export function findCutLayer(model: tf.LayersModel, base: BaseName, cut: string, option = '--cut'): tf.layers.Layer {
  const layer = model.layers.find((l) => l.name === cut);
  if (layer === undefined) throw new UserError(`${option}: ${base} has no layer '${cut}' (its fine-tuning default is '${BASES[base].fineTuneFrom}')`);
  return layer;
}

/** Builds the (unweighted) base and its feature outputs; the weights come separately. */
export function buildFeatureModel(spec: FeatureModelSpec): FeatureModel {
  const base = buildBase(spec.base, { inputSize: spec.inputSize, alpha: spec.alpha as MobileNetV2Alpha });
  const output = base.outputs[0]!;
  const mapShape = rowShape(output);
  const featureShape = spec.pool === 'avg' ? [mapShape[2]!] : mapShape;
  const layer = base.layers[base.layers.length - 1]!.name;
  if (spec.cut === undefined) return { spec, base, model: base, layer, featureShape };
  const cutOutput = findCutLayer(base, spec.base, spec.cut).output as tf.SymbolicTensor;
  const model = tf.model({ inputs: base.inputs, outputs: [output, cutOutput], name: `${base.name}_and_${spec.cut}` });
  return { spec, base, model, layer, featureShape, cutShape: rowShape(cutOutput) };
}

/** The base's weights as one buffer, to hand a worker without re-reading any file. */
export interface EncodedWeights {
  data: ArrayBuffer;
  specs: tf.io.WeightsManifestEntry[];
}

/** Encodes the model's weights in `model.weights` order (the same in every build of one spec). */
export async function encodeModelWeights(model: tf.LayersModel): Promise<EncodedWeights> {
  return tf.io.encodeWeights(model.getWeights().map((tensor, i) => ({ name: `w${i}`, tensor })));
}

export function setEncodedWeights(model: tf.LayersModel, weights: EncodedWeights): void {
  const named = tf.io.decodeWeights(weights.data, weights.specs);
  const tensors = weights.specs.map((spec) => named[spec.name]!);
  try {
    model.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}

/** A feature model whose weights are set, planned for inference (see planInference). */
export interface FeatureExtractor extends FeatureModel {
  plan: InferencePlan;
}

/** Call once the weights are set: the plan reads them. */
export function prepareExtractor(featureModel: FeatureModel): FeatureExtractor {
  return { ...featureModel, plan: planInference(featureModel.model) };
}

/**
 * Runs the extractor on TensorFlow.js over `rows` images (HWC RGB uint8, one after another),
 * `batchSize` at a time: every row's features (pooled as the spec says) and, with a cut, every
 * row's cut activations. Every tensor is freed.
 */
export function computeFeatures(extractor: FeatureExtractor, pixels: Uint8Array, rows: number, batchSize: number): FeatureRows {
  const { spec, plan, featureShape, cutShape } = extractor;
  const pixelBytes = spec.inputSize * spec.inputSize * 3;
  if (pixels.length !== rows * pixelBytes) {
    throw new Error(`features: got ${pixels.length} pixel bytes for ${rows} rows of ${spec.inputSize}x${spec.inputSize}x3`);
  }
  const featureSize = shapeSize(featureShape);
  const cutSize = cutShape === undefined ? 0 : shapeSize(cutShape);
  const out: FeatureRows = { features: new Float32Array(rows * featureSize), ...(cutShape === undefined ? {} : { cut: new Float32Array(rows * cutSize) }) };
  const pixelScaling = pixelScalingOf(spec);
  for (let start = 0; start < rows; start += batchSize) {
    const n = Math.min(batchSize, rows - start);
    tf.tidy(() => {
      const images = tf.tensor4d(pixels.subarray(start * pixelBytes, (start + n) * pixelBytes), [n, spec.inputSize, spec.inputSize, 3], 'float32');
      const [map, cut] = plan.run(scalePixels(images, pixelScaling));
      const features = spec.pool === 'avg' ? tf.mean(map!, [1, 2]) : map!;
      out.features.set(features.dataSync(), start * featureSize);
      if (cut !== undefined) out.cut!.set(cut.dataSync(), start * cutSize);
    });
  }
  return out;
}
