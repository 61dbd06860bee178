import sharp from 'sharp';
import { releaseWarmPools, type Stage } from '@flowers/core';
import { CLASSES_FILE, INGEST_REPORT_FILE, SPLIT_FILE } from '@flowers/core/contracts';
import { produceIngest, unreadableFileCount, type IngestParams } from './ingest.ts';
import { datasetFingerprint, scanDataset } from './scan.ts';
import { scanUnchanged } from './scan_unchanged.ts';
import { ingestShards, withSplitTable } from './shards.ts';

/** Scans, validates, de-duplicates and splits a dataset folder into split.arrow. */
export const ingestStage: Stage<IngestParams> = {
  name: 'ingest',
  package: '@flowers/ingest',
  reads: () => [],
  writes: [SPLIT_FILE, CLASSES_FILE, INGEST_REPORT_FILE],
  libraries: async () => ({ sharp: sharp.versions.sharp, libvips: sharp.versions.vips }),
  // The key sees names, sizes and times, not contents: see rebuildReason.
  keyInputs: async (params) => ({ data: datasetFingerprint(await scanDataset(params.dataDir)) }),
  rebuildReason(artifact) {
    const unreadable = unreadableFileCount(artifact.manifest);
    return unreadable ? `it could not read ${unreadable} file(s) last time: reading them again` : undefined;
  },
  shards: ingestShards,
  release: releaseWarmPools,
  async produce({ dir, params, env, keyInputs }) {
    const dataset = await scanUnchanged(params.dataDir, keyInputs.data);
    return withSplitTable(await produceIngest(dir, dataset, params, { workers: env.workers, log: env.log }));
  },
};
