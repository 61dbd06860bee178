/**
 * The features stage's output: per split, `<split>.arrow` with the rows of the pixel file it came
 * from, in the same order, each with the base's output for that image view as float32 values
 * (shape in the `feature_shape` metadata), plus the index file of the same rows (see image_rows.ts).
 */
import path from 'node:path';
import type { Schema } from '../arrow_io.ts';
import { ImageRowsWriter, imageRowsIndexFile, imageRowsSchema, type ImageRowsContract } from './image_rows.ts';
import { SPLITS, type SplitName } from './split.ts';

/** Version 2 added each row's row_id and path, and the data_dir metadata. */
export const FEATURES_CONTRACT: ImageRowsContract = { name: 'feature', version: 2, values: 'features' };
export const FEATURE_FILES: Record<SplitName, string> = { train: 'train.arrow', validation: 'validation.arrow', test: 'test.arrow' };
export const FEATURE_INDEX_FILES = Object.fromEntries(SPLITS.map((s) => [s, imageRowsIndexFile(FEATURE_FILES[s])])) as Record<SplitName, string>;

/** Metadata every feature (and cut) file carries: how the values were computed. */
export interface FeatureFileMeta {
  base: string;
  alpha: string;
  weights: string;
  weights_source: string;
  weights_sha256: string;
  pixel_scaling: string;
  input_size: string;
  backend: string;
  classes: string;
  /** The data folder the rows' paths are relative to (the pixel files'). */
  data_dir: string;
  /** The layer whose output the values are, and how it was pooled. */
  layer: string;
  pool: string;
}

export function featureSchema(shape: readonly number[], meta: FeatureFileMeta): Schema {
  const size = shape.reduce((a, b) => a * b, 1);
  return imageRowsSchema(FEATURES_CONTRACT, size, { ...meta, feature_shape: JSON.stringify(shape) });
}

export function createFeatureWriter(dir: string, split: SplitName, schema: Schema): ImageRowsWriter {
  return new ImageRowsWriter(path.join(dir, FEATURE_FILES[split]), schema);
}
