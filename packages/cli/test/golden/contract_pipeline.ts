/**
 * Runs every stage on a small deterministic input (links to a few shared photos, the
 * shared MobileNetV2 weights, the pure-JavaScript engine) and lists the data files each writes,
 * so a test can compare their columns with hashes recorded from an earlier version of the code.
 */
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { memoryLogger } from '@flowers/core';
import { selectBackend } from '@flowers/core/tf';
import { AUGMENT_PRESETS, produceAugment } from '@flowers/augment';
import { BASES, produceFeatures } from '@flowers/features';
import { produceIngest, scanDataset } from '@flowers/ingest';
import { produceTrain, resolveTrainConfig } from '@flowers/train';
import { SHARED_FLOWERS, SHARED_MOBILENET as WEIGHTS } from '../../../../shared_folder.ts';


const CLASSES = ['daisy', 'rose', 'tulip'];
const PHOTOS_PER_CLASS = 5;

/** A photo folder of links to the first few shared photos of three classes. */
function linkPhotos(root: string): void {
  for (const label of CLASSES) {
    mkdirSync(path.join(root, label));
    const photos = readdirSync(path.join(SHARED_FLOWERS, label)).filter((f) => f.endsWith('.jpg')).sort().slice(0, PHOTOS_PER_CLASS);
    for (const photo of photos) symlinkSync(path.join(SHARED_FLOWERS, label, photo), path.join(root, label, photo));
  }
}

export interface ContractPipelineOutput {
  /** Temporary folder holding the photos and every artifact; absolute paths under it are run-specific. */
  root: string;
  dirs: { data: string; ingest: string; augment: string; features: string; train: string };
}

export async function runContractPipeline(): Promise<ContractPipelineOutput> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'contract-pipeline-'));
  const dirs = { data: 'data', ingest: 'ingest', augment: 'augment', features: 'features', train: 'train' };
  const abs = Object.fromEntries(Object.entries(dirs).map(([k, d]) => [k, path.join(root, d)])) as ContractPipelineOutput['dirs'];
  for (const dir of Object.values(abs)) mkdirSync(dir);
  linkPhotos(abs.data);
  const log = memoryLogger();
  await produceIngest(abs.ingest, await scanDataset(abs.data), { dataDir: abs.data, split: [0.5, 0.25, 0.25], seed: 0, maxPixels: 1e7 }, { workers: 1, log });
  await produceAugment(abs.augment, path.join(abs.ingest, 'split.arrow'), { size: 40, views: 2, augment: AUGMENT_PRESETS.experiment, seed: 0 }, { workers: 2, log });
  const cpu = await selectBackend('cpu');
  await produceFeatures(abs.features, abs.augment, { base: 'mobilenet_v2', alpha: 0.35, pool: 'avg', weights: WEIGHTS, cut: BASES.mobilenet_v2.fineTuneFrom, batchSize: 4 }, { workers: 2, backend: cpu, log });
  const config = resolveTrainConfig({ input: 'features', head: 'gap_linear', epochs: 2, batchSize: 8, optimizer: 'adam', lr: 0.01, seed: 0 });
  await produceTrain({
    outDir: abs.train,
    trainFile: path.join(abs.features, 'train.arrow'),
    validationFile: path.join(abs.features, 'validation.arrow'),
    testFile: path.join(abs.features, 'test.arrow'),
    config,
    resume: false,
    log,
    modelMeta: {},
  });
  return { root, dirs: abs };
}
