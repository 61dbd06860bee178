export { scanDataset, datasetFingerprint, IMAGE_EXTENSIONS, type ScannedDataset, type ScannedFile } from './scan.ts';
export { parseSplitFractions, formatSplitTable } from './split.ts';
export {
  produceIngest,
  unreadableFileCount,
  DEFAULT_MAX_PIXELS,
  type IngestParams,
} from './ingest.ts';
export { ensureDemoDataset } from './demo.ts';
export { ingestStage } from './definition.ts';
