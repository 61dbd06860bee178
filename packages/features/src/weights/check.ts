import { errorMessage, UserError, type Logger } from '@flowers/core';
import { buildBase, type BaseName, type MobileNetV2Alpha } from '../models/index.ts';
import { applyLayerWeights } from './apply.ts';
import { NAMED_WEIGHTS, resolveWeights, settleWeights, type SettledWeights, type WeightsChoice } from './resolve.ts';

export interface CheckedWeights {
  settled: SettledWeights;
  /** SHA-256 of the weights themselves: what cache keys know them by, however they were named. */
  sha256: string;
}

/**
 * Settles a weights choice, reads the weights and loads them into the base once, so that a
 * missing, truncated, foreign or wrong-architecture file fails in one line naming it, before
 * any stage runs. Quiet, but for a download's progress: the caller reports the settled choice.
 */
export async function checkWeights(options: {
  base: BaseName;
  alpha: number;
  inputSize: number;
  weights: WeightsChoice;
  onProgress?: (doneBytes: number, totalBytes: number | undefined) => void;
  log?: Logger;
}): Promise<CheckedWeights> {
  const { base, inputSize } = options;
  const settled = await settleWeights(options);
  const where = (NAMED_WEIGHTS as readonly string[]).includes(options.weights) ? settled.weights : options.weights;
  try {
    const weights = await resolveWeights({ base, alpha: settled.alpha, inputSize, weights: settled });
    const model = buildBase(base, { inputSize, alpha: settled.alpha as MobileNetV2Alpha });
    try {
      applyLayerWeights(model, weights.layers, weights.source);
    } finally {
      model.dispose();
    }
    return { settled, sha256: weights.sha256 };
  } catch (error) {
    const message = errorMessage(error).split('\n')[0]!;
    throw new UserError(message.includes(String(where)) ? message : `weights ${where}: ${message}`);
  }
}
