import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ArrowFileSink,
  Field,
  Int32,
  Schema,
  Utf8,
  createPool,
  int32Column,
  makeRecordBatch,
  mapOrdered,
  readArrowTable,
  startProgress,
  utf8Column,
  UserError,
  type ArtifactManifest,
  type Logger,
  type StageResult,
} from '@flowers/core';
import type { ScannedDataset, ScannedFile, SplitName } from './scan.ts';
import { assignSplits, countSplits, dropDuplicates, formatSplitTable, type DuplicateGroup, type SplitRow, type ValidImage } from './split.ts';
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
export const SPLIT_FILE = 'split.arrow';
export const CLASSES_FILE = 'classes.json';
export const INGEST_REPORT_FILE = 'ingest-report.json';

export interface IngestReport {
  dataDir: string;
  images: number;
  skipped: Array<{ path: string; reason: string }>;
  duplicates: DuplicateGroup[];
  counts: Record<string, Record<SplitName, number>>;
}

const SPLIT_SCHEMA_FIELDS = [
  new Field('path', new Utf8(), false),
  new Field('sha256', new Utf8(), false),
  new Field('label', new Utf8(), false),
  new Field('label_index', new Int32(), false),
  new Field('split', new Utf8(), false),
  new Field('width', new Int32(), false),
  new Field('height', new Int32(), false),
  new Field('channels', new Int32(), false),
];

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
export async function validateFiles(dataset: ScannedDataset, files: readonly ScannedFile[], params: IngestParams, options: { workers: number }): Promise<Validation> {
  const started = performance.now();
  const pool = createPool(new URL('./validate_worker.ts', import.meta.url), options.workers, { tasksPerWorker: 2 });
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
    await mapOrdered(
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
    );
  } finally {
    clearInterval(heartbeat);
    progress.done();
    await pool.destroy();
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
  await writeSplitFile(path.join(outDir, SPLIT_FILE), rows, dataset.classes, params);
  const counts = countSplits(rows, dataset.classes);
  const report: IngestReport = { dataDir: dataset.root, images: rows.length, skipped, duplicates, counts };
  await writeFile(path.join(outDir, CLASSES_FILE), `${JSON.stringify(dataset.classes, null, 2)}\n`);
  await writeFile(path.join(outDir, INGEST_REPORT_FILE), `${JSON.stringify(report, null, 2)}\n`);
  if (skipped.length) log.warn(`skipped ${skipped.length} file(s) (see ${INGEST_REPORT_FILE}): ${skipped.slice(0, 3).map((s) => `${s.path}: ${s.reason}`).join('; ')}${skipped.length > 3 ? '; ...' : ''}`);
  if (duplicates.length) {
    const conflicts = duplicates.filter((d) => d.conflictingLabels).length;
    log.info(`dropped ${duplicates.reduce((n, d) => n + d.dropped.length, 0)} duplicate photo(s) in ${duplicates.length} group(s)${conflicts ? `, ${conflicts} filed under two classes` : ''}`);
  }
  return {
    table: formatSplitTable(counts),
    report,
    rows: { images: rows.length, skipped: skipped.length, unreadable, duplicates: duplicates.reduce((n, d) => n + d.dropped.length, 0), ...Object.fromEntries((['train', 'validation', 'test'] as const).map((s) => [s, rows.filter((r) => r.split === s).length])) },
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

async function writeSplitFile(file: string, rows: readonly SplitRow[], classes: readonly string[], params: IngestParams): Promise<void> {
  const metadata = new Map([
    ['classes', JSON.stringify(classes)],
    ['data_dir', params.dataDir],
    ['seed', String(params.seed)],
    ['split_fractions', params.split.join(',')],
  ]);
  const schema = new Schema(SPLIT_SCHEMA_FIELDS, metadata);
  const sink = new ArrowFileSink(file, schema);
  try {
    sink.write(
      makeRecordBatch(schema, [
        utf8Column(rows.map((r) => r.path)),
        utf8Column(rows.map((r) => r.sha256)),
        utf8Column(rows.map((r) => r.label)),
        int32Column(Int32Array.from(rows, (r) => r.labelIndex)),
        utf8Column(rows.map((r) => r.split)),
        int32Column(Int32Array.from(rows, (r) => r.width)),
        int32Column(Int32Array.from(rows, (r) => r.height)),
        int32Column(Int32Array.from(rows, (r) => r.channels)),
      ]),
    );
    await sink.close();
  } catch (error) {
    await sink.abort();
    throw error;
  }
}

export interface SplitFile {
  dataDir: string;
  classes: string[];
  rows: Array<{ path: string; sha256: string; label: string; labelIndex: number; split: SplitName; width: number; height: number }>;
}

/** Reads `split.arrow` (the ingest artifact's main file), for the stages after ingest. */
export async function readSplitFile(file: string): Promise<SplitFile> {
  const table = await readArrowTable(file);
  const meta = table.schema.metadata;
  const column = <T>(name: string): T[] => table.getChild(name)!.toArray() as T[];
  const paths = column<string>('path');
  const shas = column<string>('sha256');
  const labels = column<string>('label');
  const labelIndex = column<number>('label_index');
  const splits = column<SplitName>('split');
  const widths = column<number>('width');
  const heights = column<number>('height');
  return {
    dataDir: meta.get('data_dir')!,
    classes: JSON.parse(meta.get('classes')!) as string[],
    rows: paths.map((p, i) => ({ path: p, sha256: shas[i]!, label: labels[i]!, labelIndex: labelIndex[i]!, split: splits[i]!, width: widths[i]!, height: heights[i]! })),
  };
}
