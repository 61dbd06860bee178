/**
 * The files between stages, one module per file: each names its files and owns their schema,
 * schema version, writer and reader. Stages reach each other's outputs only through these.
 */
export { SPLITS, SPLIT_FILE, CLASSES_FILE, writeSplit, readSplitFile, type SplitName, type SplitRow, type SplitFile } from './split.ts';
export { INGEST_REPORT_FILE, writeIngestReport, readIngestReport, type IngestReport, type DuplicateGroup } from './ingest_report.ts';
export { ImageRowsWriter, imageRowsSchema, openImageRowsFile, readImageRowsIndex, imageRowsIndexFile, type ImageRow, type ImageRowsFile, type ImageRowsIndexBatch, type ImageRowsContract } from './image_rows.ts';
export { PIXELS_CONTRACT, PIXEL_FILES, PIXEL_INDEX_FILES, AUGMENT_PREVIEW_FILE, createPixelWriter, openPixelFile, type PixelFile, type PixelFileMeta } from './pixels.ts';
export { FEATURES_CONTRACT, FEATURE_FILES, FEATURE_INDEX_FILES, featureSchema, createFeatureWriter, type FeatureFileMeta } from './features.ts';
export { CUT_DIR, CUT_TOP_DIR, CUT_FILES, createCutWriter } from './cut.ts';
export { PREDICTIONS_FILE, writePredictions, readPredictions, probabilityRows, type Predictions } from './predictions.ts';
export { METRICS_FILE, metricsJson, classificationReportOf, ttaMetricsOf, writeMetrics, readMetrics, type MetricsJson, type TtaMetrics } from './metrics.ts';
export { HISTORY_FILE, joinPhases, writeHistory, readHistory, type EpochRecord } from './history.ts';
