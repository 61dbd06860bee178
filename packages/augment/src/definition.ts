import path from 'node:path';
import sharp from 'sharp';
import { releaseWarmPools, type Stage } from '@flowers/core';
import { AUGMENT_PREVIEW_FILE, PIXEL_FILES, PIXEL_INDEX_FILES, SPLIT_FILE } from '@flowers/core/contracts';
import { augmentShards } from './shards.ts';
import { AUGMENT_REPORT_FILE, produceAugment, type AugmentStageParams } from './stage.ts';

/** Decodes and resizes every image, with Keras-style augmented views of the training images, into pixel files. */
export const augmentStage: Stage<AugmentStageParams> = {
  name: 'augment',
  package: '@flowers/augment',
  reads: () => ['ingest'],
  writes: [...Object.values(PIXEL_FILES), ...Object.values(PIXEL_INDEX_FILES), AUGMENT_PREVIEW_FILE, AUGMENT_REPORT_FILE],
  libraries: async () => ({ sharp: sharp.versions.sharp, libvips: sharp.versions.vips }),
  // Keyed on the split's content too: an ingest redone under its key (files unreadable last time) may hold more images.
  keyInputs: async (_params, { ingest }) => ({ ingest: ingest!.manifest.key, split: ingest!.manifest.outputs.find((o) => o.file === SPLIT_FILE)!.sha256 }),
  shards: augmentShards,
  release: releaseWarmPools,
  produce: ({ dir, params, inputs, env }) => produceAugment(dir, path.join(inputs.ingest!.dir, SPLIT_FILE), params, { workers: env.workers, log: env.log }),
};
