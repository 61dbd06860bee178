import { UserError } from '@flowers/core';
import { datasetFingerprint, scanDataset, type ScannedDataset } from './scan.ts';

/** The dataset as scanned now, which must be the one the key was computed from (`fingerprint`). */
export async function scanUnchanged(dataDir: string, fingerprint: string | undefined): Promise<ScannedDataset> {
  const dataset = await scanDataset(dataDir);
  if (datasetFingerprint(dataset) !== fingerprint) throw new UserError(`the dataset ${dataDir} changed while the pipeline started: run it again`);
  return dataset;
}
