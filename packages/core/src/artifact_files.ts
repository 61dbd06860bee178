/**
 * Files one stage writes and a later stage (or the report) reads: the file contract between
 * packages, named once here so writer and readers cannot drift apart.
 */
export const AUGMENT_PREVIEW_FILE = 'preview.png';
export const TRAIN_HISTORY_FILE = 'history.json';
export const TRAIN_PREDICTIONS_FILE = 'predictions.arrow';
