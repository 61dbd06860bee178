/** `ingest-report.json`: what ingest skipped and dropped and the counts per class and split, for the report. */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SplitName } from './split.ts';

export const INGEST_REPORT_FILE = 'ingest-report.json';

export interface DuplicateGroup {
  sha256: string;
  kept: string;
  dropped: string[];
  /** True when copies sit in different class folders: the kept label is the first path's. */
  conflictingLabels: boolean;
}

export interface IngestReport {
  dataDir: string;
  images: number;
  skipped: Array<{ path: string; reason: string }>;
  duplicates: DuplicateGroup[];
  counts: Record<string, Record<SplitName, number>>;
}

export async function writeIngestReport(dir: string, report: IngestReport): Promise<void> {
  await writeFile(path.join(dir, INGEST_REPORT_FILE), `${JSON.stringify(report, null, 2)}\n`);
}

export async function readIngestReport(dir: string): Promise<IngestReport> {
  return JSON.parse(await readFile(path.join(dir, INGEST_REPORT_FILE), 'utf8')) as IngestReport;
}
