import * as tf from '@tensorflow/tfjs';
import { UserError } from '@flowers/core';
import { fileIOHandler } from '@flowers/core/tf';
import { groupByLayer, type LayerWeights } from './layer_weights.ts';

/** Reads the weights of a TF.js layers model (its model.json, or the folder holding it). */
export async function readTfjsLayersWeights(modelJsonPathOrDir: string): Promise<LayerWeights> {
  const artifacts = await fileIOHandler(modelJsonPathOrDir).load();
  if (artifacts.weightSpecs === undefined || artifacts.weightData === undefined) {
    throw new UserError(`TF.js model ${modelJsonPathOrDir} has no weights manifest`);
  }
  return groupByLayer(Object.entries(tf.io.decodeWeights(artifacts.weightData, artifacts.weightSpecs)));
}
