/**
 * One stage run in this process, for `bench/run.ts`, which starts a fresh process per
 * measurement so each peak RSS (worker threads included) is that run's own.
 *   node --import tsx bench/stage_throughput.ts ingest <workers>
 *   node --import tsx bench/stage_throughput.ts augment <workers> <views> <none|experiment>
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { memoryLogger } from '../packages/core/src/index.ts';
import { SPLIT_FILE } from '../packages/core/src/contracts/index.ts';
import { datasetFingerprint, produceIngest, scanDataset } from '../packages/ingest/src/index.ts';
import { AUGMENT_PRESETS, produceAugment } from '../packages/augment/src/index.ts';

export const FLOWERS = path.resolve(import.meta.dirname, '../../shared/data/flowers');

const [stage, workersText, viewsText, preset] = process.argv.slice(2);
const workers = Number(workersText);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'bench-stage-'));
const log = memoryLogger();
try {
  const dataset = await scanDataset(FLOWERS);
  const ingestDir = path.join(scratch, 'ingest');
  const ingestStart = performance.now();
  const ingest = await produceIngest(mkdirp(ingestDir), dataset, { dataDir: FLOWERS, split: [0.6, 0.2, 0.2], seed: 0, maxPixels: 8192 * 8192 }, { workers, log });
  const ingestSeconds = (performance.now() - ingestStart) / 1000;
  let result: Record<string, unknown> = { stage, workers, images: dataset.files.length, fingerprint: datasetFingerprint(dataset) };
  if (stage === 'ingest') {
    result = { ...result, seconds: ingestSeconds, images_per_s: dataset.files.length / ingestSeconds, rows: ingest.rows };
  } else {
    const views = Number(viewsText);
    const start = performance.now();
    const out = await produceAugment(
      mkdirp(path.join(scratch, 'augment')),
      path.join(ingestDir, SPLIT_FILE),
      { size: 150, views, augment: AUGMENT_PRESETS[preset as 'none' | 'experiment'], seed: 0 },
      { workers, log },
    );
    const seconds = (performance.now() - start) / 1000;
    const rows = out.rows as Record<string, number>;
    const outputImages = rows.train! + rows.validation! + rows.test!;
    result = { ...result, views, preset, seconds, source_images_per_s: dataset.files.length / seconds, output_images_per_s: outputImages / seconds, output_images: outputImages };
  }
  result.peak_rss_mib = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

function mkdirp(dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}
