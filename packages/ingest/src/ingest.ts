import path from 'node:path';
import { mapOrdered, withPool, startProgress, UserError, type ArtifactManifest, type Logger, type StageResult } from '@flowers/core';
import { INGEST_REPORT_FILE, SPLITS, writeIngestReport, writeSplit, type IngestReport } from '@flowers/core/contracts';
import type { ScannedDataset, ScannedFile } from './scan.ts';
import { assignSplits, countSplits, dropDuplicates, formatSplitTable, type ValidImage } from './split.ts';
import type { ValidateResult, ValidateTask } from './validate_worker.ts';

export interface IngestParams {
  /** Absolute path of the dataset folder. */
  dataDir: string;
  split: [number, number, number];
  seed: number;
  /** Images with more pixels are skipped (decompression-bomb guard). */
  maxPixels: number;
  /** Images that take longer to decode are skipped (default DEFAULT_DECODE_TIMEOUT_SECONDS). */
  decodeTimeoutSeconds?: number;
}

export const DEFAULT_MAX_PIXELS = 8192 * 8192;
// The largest photo the pixel limit lets through decodes in about a second.
export const DEFAULT_DECODE_TIMEOUT_SECONDS = 30;
/** Validates every image in parallel, drops duplicates, splits and writes the ingest artifact. */
export async function produceIngest(
  outDir: string,
  dataset: ScannedDataset,
  params: IngestParams,
  options: { workers: number; log: Logger },
): Promise<StageResult & { table: string; report: IngestReport }> {
  return finishIngest(outDir, dataset, await validateFiles(dataset, dataset.files, params, options), params, options.log);
}

/** What validating scanned files found, in their order: the images that decode, the files skipped and why. */
export interface Validation {
  valid: ValidImage[];
  skipped: IngestReport['skipped'];
  /** Files skipped because reading them failed (see unreadableFileCount). */
  unreadable: number;
  seconds: number;
}

/** Ingest's expensive step, on a worker pool: decodes and hashes each of `files` (all of the dataset's, or a shard's). */
export async function validateFiles(
  dataset: ScannedDataset,
  files: readonly ScannedFile[],
  params: IngestParams,
  options: { workers: number; keepWarm?: boolean },
): Promise<Validation> {
  const started = performance.now();
  const valid: ValidImage[] = [];
  const skipped: IngestReport['skipped'] = [];
  let unreadable = 0;
  const progress = startProgress('ingest: validating images', files.length, 'img');
  // Redraws the line while one slow image holds up every tick, so a stall does not look like a hang.
  const heartbeat = setInterval(() => progress.tick(0), 1000);
  const task = (file: ScannedFile): ValidateTask => ({
    file: path.join(dataset.root, file.path),
    maxPixels: params.maxPixels,
    decodeTimeoutSeconds: params.decodeTimeoutSeconds ?? DEFAULT_DECODE_TIMEOUT_SECONDS,
  });
  try {
    await withPool(new URL('./validate_worker.ts', import.meta.url), options.workers, { tasksPerWorker: 2, keepWarm: options.keepWarm }, (pool) =>
      mapOrdered(
        files,
        options.workers * 4,
        (file) => pool.run(task(file)) as Promise<ValidateResult>,
        (result, index) => {
          const file = files[index]!;
          progress.tick();
          if (result.ok) {
            valid.push({ path: file.path, label: file.label, sha256: result.sha256, width: result.width, height: result.height, channels: result.channels, ...(file.givenSplit ? { givenSplit: file.givenSplit } : {}) });
          } else {
            skipped.push({ path: file.path, reason: result.reason });
            if (result.readError) unreadable++;
          }
        },
      ),
    );
  } finally {
    clearInterval(heartbeat);
    progress.done();
  }
  return { valid, skipped, unreadable, seconds: (performance.now() - started) / 1000 };
}

/** Ingest's last step, from the validation of every scanned file: drops duplicates, splits and writes the artifact's files. */
export async function finishIngest(
  outDir: string,
  dataset: ScannedDataset,
  validation: Validation,
  params: IngestParams,
  log: Logger,
): Promise<StageResult & { table: string; report: IngestReport }> {
  const { valid, unreadable, seconds: validateSeconds } = validation;
  const skipped = [...dataset.ignored, ...validation.skipped];
  const { unique, duplicates } = dropDuplicates(valid);
  for (const label of dataset.classes) {
    if (!unique.some((image) => image.label === label)) {
      throw new UserError(`class '${label}' has no readable images in ${path.join(dataset.root, label)}`);
    }
  }
  const rows = assignSplits(unique, dataset.classes, params.split, params.seed);
  for (const split of ['train', 'test'] as const) {
    if (!rows.some((r) => r.split === split)) throw new UserError(`the ${split} split is empty: ${dataset.root} has too few images for --split ${params.split.join(',')}`);
  }
  await writeSplit(outDir, { dataDir: params.dataDir, classes: dataset.classes, seed: params.seed, fractions: params.split, rows });
  const counts = countSplits(rows, dataset.classes);
  const report: IngestReport = { dataDir: dataset.root, images: rows.length, skipped, duplicates, counts };
  await writeIngestReport(outDir, report);
  if (skipped.length) log.warn(`skipped ${skipped.length} file(s) (see ${INGEST_REPORT_FILE}): ${skipped.slice(0, 3).map((s) => `${s.path}: ${s.reason}`).join('; ')}${skipped.length > 3 ? '; ...' : ''}`);
  if (duplicates.length) {
    const conflicts = duplicates.filter((d) => d.conflictingLabels).length;
    log.info(`dropped ${duplicates.reduce((n, d) => n + d.dropped.length, 0)} duplicate photo(s) in ${duplicates.length} group(s)${conflicts ? `, ${conflicts} filed under two classes` : ''}`);
  }
  return {
    table: formatSplitTable(counts),
    report,
    rows: { images: rows.length, skipped: skipped.length, unreadable, duplicates: duplicates.reduce((n, d) => n + d.dropped.length, 0), ...Object.fromEntries(SPLITS.map((s) => [s, rows.filter((r) => r.split === s).length])) },
    timings: { validate_s: Math.round(validateSeconds * 1000) / 1000, images_per_s: Math.round((dataset.files.length / validateSeconds) * 10) / 10 },
    extra: { dataDir: dataset.root, classes: dataset.classes, presplit: dataset.presplit },
  };
}

/**
 * How many files an ingest artifact skipped because reading them failed. Such a skip is no verdict
 * on the file (it may be readable now), so that ingest must not be reused.
 */
export function unreadableFileCount(manifest: ArtifactManifest): number {
  return manifest.rows.unreadable ?? 0;
}
