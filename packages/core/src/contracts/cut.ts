/**
 * With a cut layer, the features stage also writes that inner layer's activations, for
 * fine-tuning the layers above it: feature files (same schema and version, see features.ts,
 * unpooled) under `cut/`, one per split; and in `cut/top/` the pretrained layers above the cut,
 * with the weights the activations came from, so the trainer fine-tunes from the artifact alone.
 */
import path from 'node:path';
import type { ImageRowsWriter } from './image_rows.ts';
import { createFeatureWriter, FEATURE_FILES, featureSchema, type FeatureFileMeta } from './features.ts';
import { SPLITS, type SplitName } from './split.ts';

export const CUT_DIR = 'cut';
/** In CUT_DIR: the layers above the cut, as a TF.js layers model. */
export const CUT_TOP_DIR = 'top';
/** Relative to the features artifact. */
export const CUT_FILES = Object.fromEntries(SPLITS.map((s) => [s, path.join(CUT_DIR, FEATURE_FILES[s])])) as Record<SplitName, string>;

/** The writer of one split's activations of `layer`, in `<dir>/cut/` (which must exist). */
export function createCutWriter(dir: string, split: SplitName, shape: readonly number[], meta: Omit<FeatureFileMeta, 'layer' | 'pool'>, layer: string): ImageRowsWriter {
  return createFeatureWriter(path.join(dir, CUT_DIR), split, featureSchema(shape, { ...meta, layer, pool: 'none' }));
}
