import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UserError, type Logger } from '@flowers/core';
import { fileIOHandler, type SelectedBackend } from '@flowers/core/tf';
import { decodeResized } from '@flowers/augment';
import {
  applyLayerWeights,
  buildFeatureModel,
  loadBaseRunner,
  prepareEngine,
  resolveWeights,
  tfjsRunner,
  type BaseName,
  type BaseRunner,
  type FeatureModel,
  type FeaturePool,
} from '@flowers/features';
import { PIPELINE_MODEL_FILE } from '@flowers/train';

/** What `pipeline-model.json` says about a trained model, so it can be used on its own. */
export interface PipelineModelMeta {
  experiment?: string;
  classes: string[];
  inputSize: number;
  input: 'pixels' | 'features' | 'cut';
  rescale: number;
  feature_shape: number[] | null;
  base?: BaseName;
  alpha?: number;
  pool?: FeaturePool;
  /** The weights choice the features were computed with, as settleWeights settled it: 'imagenet', a bundled base or a path. */
  weights?: string;
  weights_sha256?: string;
  cut?: string;
}

export interface Classifier {
  meta: PipelineModelMeta;
  /** Class probabilities for images given as size x size x 3 RGB bytes. */
  classify(images: Uint8Array[]): Promise<Float32Array[]>;
  dispose(): void;
}

const PREDICT_BATCH = 16;

async function readMeta(modelDir: string): Promise<PipelineModelMeta> {
  const file = path.join(modelDir, PIPELINE_MODEL_FILE);
  let meta: PipelineModelMeta;
  try {
    meta = JSON.parse(await readFile(file, 'utf8')) as PipelineModelMeta;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `${modelDir} is not a trained model directory: ${PIPELINE_MODEL_FILE} is missing` : `cannot read ${file}: ${(error as Error).message}`);
  }
  if (!Array.isArray(meta.classes) || !meta.input || !Number.isInteger(meta.inputSize)) throw new UserError(`${file} lacks classes, input or inputSize`);
  if (meta.input !== 'pixels' && (!meta.base || !meta.weights)) throw new UserError(`${file} names no base model or weights for its ${meta.input} input`);
  return meta;
}

/** The base a feature head was trained on, with the very weights it was trained with, on the selected engine. */
async function loadBase(meta: PipelineModelMeta, backend: SelectedBackend, log: Logger): Promise<{ runner: BaseRunner; featureModel: FeatureModel }> {
  const weights = await resolveWeights({ base: meta.base!, alpha: meta.alpha ?? 1, inputSize: meta.inputSize, weights: meta.weights!, log });
  const featureModel = buildFeatureModel({
    base: meta.base!,
    alpha: meta.alpha ?? 1,
    inputSize: meta.inputSize,
    pool: meta.pool ?? 'avg',
    pixelScaling: weights.pixelScaling,
    ...(meta.input === 'cut' ? { cut: meta.cut! } : {}),
  });
  if (meta.weights_sha256 && weights.sha256 !== meta.weights_sha256) {
    throw new UserError(`the model was trained on ${meta.base} weights ${meta.weights_sha256.slice(0, 12)}, but ${weights.source} holds ${weights.sha256.slice(0, 12)}`);
  }
  applyLayerWeights(featureModel.base, weights.layers, weights.source);
  if (backend.onnx === undefined) return { runner: tfjsRunner(featureModel, PREDICT_BATCH), featureModel };
  try {
    const engine = await prepareEngine(featureModel, backend, { batchSize: PREDICT_BATCH, weightsSha256: weights.sha256, log });
    return { runner: await loadBaseRunner(engine), featureModel };
  } finally {
    featureModel.base.dispose(); // the graph holds the weights now
  }
}

/** Loads `runs/<run>/model/` (or a copy of it anywhere): head, metadata and, for feature heads, the base. */
export async function loadClassifier(modelDir: string, backend: SelectedBackend, log: Logger): Promise<Classifier> {
  const meta = await readMeta(modelDir);
  let head: tf.LayersModel;
  try {
    head = await tf.loadLayersModel(fileIOHandler(modelDir));
  } catch (error) {
    throw error instanceof UserError ? error : new UserError(`cannot load the model in ${modelDir}: ${(error as Error).message.split('\n')[0]}`);
  }
  const outputs = head.outputs[0]!.shape.at(-1);
  if (outputs !== meta.classes.length) throw new UserError(`${modelDir}: the model has ${outputs} outputs but ${PIPELINE_MODEL_FILE} lists ${meta.classes.length} classes`);
  const base = meta.input === 'pixels' ? undefined : await loadBase(meta, backend, log);
  const pixelBytes = meta.inputSize * meta.inputSize * 3;
  return {
    meta,
    async classify(images) {
      const result: Float32Array[] = [];
      for (let start = 0; start < images.length; start += PREDICT_BATCH) {
        const batch = images.slice(start, start + PREDICT_BATCH);
        const pixels = new Uint8Array(batch.length * pixelBytes);
        batch.forEach((image, i) => pixels.set(image, i * pixelBytes));
        const rows = base === undefined ? undefined : await base.runner.run(pixels, batch.length);
        const probabilities = tf.tidy(() => {
          let x: tf.Tensor;
          if (rows === undefined) {
            x = tf.tensor4d(pixels, [batch.length, meta.inputSize, meta.inputSize, 3], 'float32').mul(meta.rescale);
          } else {
            const { featureShape, cutShape } = base!.featureModel;
            x = meta.input === 'cut' ? tf.tensor(rows.cut!, [batch.length, ...cutShape!]) : tf.tensor(rows.features, [batch.length, ...featureShape]);
          }
          return (head.predict(x) as tf.Tensor).dataSync() as Float32Array;
        });
        batch.forEach((_, i) => result.push(probabilities.slice(i * meta.classes.length, (i + 1) * meta.classes.length)));
      }
      return result;
    },
    dispose() {
      head.dispose();
      base?.runner.dispose();
    },
  };
}

/** Decodes an image the way the pipeline's augment stage does (same size and resampling). */
export function decodeForModel(file: string, meta: PipelineModelMeta): Promise<Uint8Array> {
  return decodeResized(file, meta.inputSize);
}
