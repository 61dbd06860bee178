/**
 * Files one stage writes and a later stage (or the report) reads: the file contract between
 * packages, named once here so writer and readers cannot drift apart.
 */
export const AUGMENT_PREVIEW_FILE = 'preview.png';
export const TRAIN_HISTORY_FILE = 'history.json';
export const TRAIN_PREDICTIONS_FILE = 'predictions.arrow';
/** The pixel and feature files, one per split (the same names in both stages' artifacts). */
export const SPLIT_ARROW_FILES = { train: 'train.arrow', validation: 'validation.arrow', test: 'test.arrow' } as const;
/** The features artifact's sub-folder with the cut layer's activations, and in it the layers above the cut. */
export const CUT_DIR = 'cut';
export const CUT_TOP_DIR = 'top';
