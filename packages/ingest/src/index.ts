export { scanDataset, datasetFingerprint, IMAGE_EXTENSIONS, SPLITS, type ScannedDataset, type ScannedFile, type SplitName } from './scan.ts';
export { parseSplitFractions, formatSplitTable, type DuplicateGroup } from './split.ts';
export {
  produceIngest,
  readSplitFile,
  unreadableFileCount,
  DEFAULT_MAX_PIXELS,
  SPLIT_FILE,
  CLASSES_FILE,
  INGEST_REPORT_FILE,
  type IngestParams,
  type IngestReport,
  type SplitFile,
} from './ingest.ts';
export { ensureDemoDataset } from './demo.ts';
export { ingestStage } from './definition.ts';
