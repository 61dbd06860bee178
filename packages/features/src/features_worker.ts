/**
 * Piscina worker: one record batch of pixels -> its features. Each worker builds its own model
 * once, on the backend the parent chose, from the weights the parent encoded (no file reads).
 */
import { workerData } from 'node:worker_threads';
import { move } from 'piscina';
import { errorMessage } from '@flowers/core';
import { selectBackend, type BackendRequest } from '@flowers/core/tf';
import {
  buildFeatureModel,
  computeFeatures,
  prepareExtractor,
  setEncodedWeights,
  type EncodedWeights,
  type FeatureExtractor,
  type FeatureModelSpec,
} from './feature_model.ts';

export interface FeaturesWorkerData {
  spec: FeatureModelSpec;
  /** The backend the parent selected (a concrete name, so every worker runs the same one). */
  backend: BackendRequest;
  batchSize: number;
  weights: EncodedWeights;
}

export interface FeaturesTask {
  /** `rows` images, HWC RGB uint8, one after another (transferred, not copied). */
  pixels: Uint8Array;
  rows: number;
}

const data = workerData as FeaturesWorkerData;
let ready: Promise<FeatureExtractor> | undefined;

async function loadModel(): Promise<FeatureExtractor> {
  await selectBackend(data.backend);
  const featureModel = buildFeatureModel(data.spec);
  setEncodedWeights(featureModel.base, data.weights);
  return prepareExtractor(featureModel);
}

/** Answers the features buffer (see computeFeatures), transferred to the parent. */
export default async function extractFeatures(task: FeaturesTask): Promise<ReturnType<typeof move>> {
  try {
    const extractor = await (ready ??= loadModel());
    return move(computeFeatures(extractor, task.pixels, task.rows, data.batchSize));
  } catch (error) {
    // Errors cross the thread boundary as plain Errors; keep them to the one line the CLI prints.
    throw new Error(`features worker (${data.backend}, ${data.spec.base}): ${errorMessage(error).split('\n')[0]}`);
  }
}
