import { errorMessage, UserError, type Logger } from '@flowers/core';
import { findCutLayer } from '../feature_model.ts';
import { buildBase, splitAtLayer, type BaseName, type MobileNetV2Alpha } from '../models/index.ts';
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
  /** A layer to cut at for fine-tuning, and the option that named it: checked to exist and to be a clean cut. */
  cut?: { layer: string; option: string };
  onProgress?: (doneBytes: number, totalBytes: number | undefined) => void;
  log?: Logger;
}): Promise<CheckedWeights> {
  const { base, inputSize } = options;
  const settled = await settleWeights(options);
  const where = (NAMED_WEIGHTS as readonly string[]).includes(options.weights) ? settled.weights : options.weights;
  const model = buildBase(base, { inputSize, alpha: settled.alpha as MobileNetV2Alpha });
  try {
    const { cut } = options;
    if (cut !== undefined) {
      findCutLayer(model, base, cut.layer, cut.option);
      splitAtLayer(model, cut.layer); // the trainer splits there: check it can
    }
    try {
      const weights = await resolveWeights({ base, alpha: settled.alpha, inputSize, weights: settled });
      applyLayerWeights(model, weights.layers, weights.source);
      return { settled, sha256: weights.sha256 };
    } catch (error) {
      const message = errorMessage(error).split('\n')[0]!;
      throw new UserError(message.includes(String(where)) ? message : `weights ${where}: ${message}`);
    }
  } finally {
    model.dispose();
  }
}
