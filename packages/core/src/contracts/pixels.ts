/**
 * The augment stage's output: per split, `<split>.arrow` with one row per image view (the plain
 * resized image is view 0, a training image's augmented views 1..K, and with test-time
 * augmentation a validation or test image's mirror image view 1) and its size x size x 3 RGB
 * bytes, plus the index file of the same rows (see image_rows.ts); and `preview.png`, one
 * training image and its views as a grid.
 */
import path from 'node:path';
import { UserError } from '../errors.ts';
import { ImageRowsWriter, imageRowsIndexFile, imageRowsSchema, openImageRowsFile, type ImageRowsContract, type ImageRowsFile } from './image_rows.ts';
import { SPLITS, type SplitName } from './split.ts';

/** Version 2 added each row's row_id and path, and the data_dir metadata. */
export const PIXELS_CONTRACT: ImageRowsContract = { name: 'pixel', version: 2, values: 'pixels' };
export const PIXEL_FILES: Record<SplitName, string> = { train: 'train.arrow', validation: 'validation.arrow', test: 'test.arrow' };
export const PIXEL_INDEX_FILES = Object.fromEntries(SPLITS.map((s) => [s, imageRowsIndexFile(PIXEL_FILES[s])])) as Record<SplitName, string>;
export const AUGMENT_PREVIEW_FILE = 'preview.png';

export interface PixelFileMeta {
  /** Image side in pixels. */
  size: number;
  classes: readonly string[];
  /** Augmented views per training image. */
  views: number;
  /** The augmentation parameters, as given. */
  augment: unknown;
  seed: number;
  /** The data folder the rows' paths are relative to (split.arrow's). */
  dataDir: string;
}

export function createPixelWriter(dir: string, split: SplitName, meta: PixelFileMeta): ImageRowsWriter {
  const schema = imageRowsSchema(PIXELS_CONTRACT, meta.size * meta.size * 3, {
    size: String(meta.size),
    classes: JSON.stringify(meta.classes),
    views: String(meta.views),
    augment: JSON.stringify(meta.augment),
    seed: String(meta.seed),
    data_dir: meta.dataDir,
  });
  return new ImageRowsWriter(path.join(dir, PIXEL_FILES[split]), schema);
}

export interface PixelFile extends ImageRowsFile {
  size: number;
  /** The classes metadata as written (a JSON list). */
  classesJson: string;
  dataDir: string;
}

/** Opens one pixel file and checks its version, columns and image size. */
export async function openPixelFile(file: string): Promise<PixelFile> {
  const rows = await openImageRowsFile(file, [PIXELS_CONTRACT]);
  const size = Number(rows.metadata.get('size'));
  if (!Number.isInteger(size) || size < 1 || rows.listSize !== size * size * 3) {
    await rows.arrow.close();
    throw new UserError(`pixel file ${file}: column 'pixels' is not a fixed-size list of size x size x 3 bytes for its 'size' metadata '${rows.metadata.get('size')}'`);
  }
  return { ...rows, size, classesJson: rows.metadata.get('classes') ?? '[]', dataDir: rows.metadata.get('data_dir') ?? '' };
}
