/**
 * One stage run in this process, for `bench/run.ts`, which starts a fresh process per
 * measurement so each peak RSS (worker threads included) is that run's own.
 *   node --import tsx bench/stage_throughput.ts ingest <workers>
 *   node --import tsx bench/stage_throughput.ts augment <workers> <views> <none|experiment>
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runStagesFor } from './stage_run.ts';

import { SHARED_FLOWERS as FLOWERS } from '../shared_folder.ts';

const [stage, workersText, viewsText, preset] = process.argv.slice(2);
const workers = Number(workersText);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'bench-stage-'));
try {
  const views = Number(viewsText ?? 0);
  const values = { data: FLOWERS, workers, size: 150, views, augment: preset ?? 'none' };
  const { ingest } = await runStagesFor(values, 'ingest', scratch);
  // Every file ingest read: the images kept, and those skipped or dropped as duplicates.
  const { images: kept, skipped, duplicates } = ingest!.manifest.rows;
  const images = kept! + skipped! + duplicates!;
  let result: Record<string, unknown> = { stage, workers, images, data: ingest!.manifest.inputs.data };
  if (stage === 'ingest') {
    const seconds = ingest!.manifest.timings.total_s!;
    result = { ...result, seconds, images_per_s: images / seconds, rows: ingest!.manifest.rows };
  } else {
    const { augment } = await runStagesFor(values, 'augment', scratch);
    const seconds = augment!.manifest.timings.total_s!;
    const rows = augment!.manifest.rows;
    const outputImages = rows.train! + rows.validation! + rows.test!;
    result = { ...result, views, preset, seconds, source_images_per_s: images / seconds, output_images_per_s: outputImages / seconds, output_images: outputImages };
  }
  result.peak_rss_mib = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
