import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { memoryLogger, openArrowFile } from '@flowers/core';
import { produceIngest, scanDataset, SPLIT_FILE } from '@flowers/ingest';
import { AUGMENT_PRESETS, produceAugment, type AugmentStageParams } from '../src/index.ts';

async function smallDataset(): Promise<string> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'augment-stage-data-'));
  for (const [c, label] of ['red', 'blue'].entries()) {
    mkdirSync(path.join(root, label));
    for (let i = 0; i < 5; i++) {
      await sharp({ create: { width: 60, height: 40, channels: 3, background: { r: c ? 0 : 200 + i, g: 10 * i, b: c ? 200 + i : 0 } } }).png().toFile(path.join(root, label, `${i}.png`));
    }
  }
  return root;
}

async function rowsOf(file: string): Promise<Array<{ sha256: string; view: number; pixels: number }>> {
  const arrow = await openArrowFile(file);
  const rows = [];
  for await (const batch of arrow.batches()) {
    for (let i = 0; i < batch.numRows; i++) {
      rows.push({ sha256: batch.getChild('sha256')!.get(i) as string, view: batch.getChild('view')!.get(i) as number, pixels: (batch.getChild('pixels')!.get(i) as { length: number }).length });
    }
  }
  await arrow.close();
  return rows;
}

describe('the augment stage', () => {
  it('writes one row per image and view, and skips an image that changed since ingest', async () => {
    const data = await smallDataset();
    const ingestDir = mkdtempSync(path.join(os.tmpdir(), 'augment-stage-ingest-'));
    await produceIngest(ingestDir, await scanDataset(data), { dataDir: data, split: [0.6, 0.2, 0.2], seed: 0, maxPixels: 1e7 }, { workers: 1, log: memoryLogger() });
    // Overwrite one photo after ingest: its sha256 no longer matches split.arrow.
    writeFileSync(path.join(data, 'red', '0.png'), await sharp({ create: { width: 60, height: 40, channels: 3, background: 'green' } }).png().toBuffer());

    const out = mkdtempSync(path.join(os.tmpdir(), 'augment-stage-out-'));
    const params: AugmentStageParams = { size: 32, views: 2, augment: AUGMENT_PRESETS.experiment, seed: 0 };
    const log = memoryLogger();
    const result = await produceAugment(out, path.join(ingestDir, SPLIT_FILE), params, { workers: 2, log });
    expect(readdirSync(out).sort()).toEqual(['augment-report.json', 'preview.png', 'test.arrow', 'train.arrow', 'validation.arrow']);
    expect(log.lines.join('\n')).toMatch(/skipped 1 image\(s\).*red\/0\.png changed since ingest/);

    const train = await rowsOf(path.join(out, 'train.arrow'));
    const validation = await rowsOf(path.join(out, 'validation.arrow'));
    const test = await rowsOf(path.join(out, 'test.arrow'));
    const images = train.length / 3 + validation.length + test.length;
    expect(images).toBe(9);
    expect(result.rows).toEqual({ train: train.length, validation: validation.length, test: test.length });
    expect(new Set(train.map((r) => r.view))).toEqual(new Set([0, 1, 2]));
    expect(validation.every((r) => r.view === 0) && test.every((r) => r.view === 0)).toBe(true);
    expect(train.every((r) => r.pixels === 32 * 32 * 3)).toBe(true);
  });

  it('rejects out-of-range parameters before any work, naming the parameter', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'augment-stage-bad-'));
    const bad: AugmentStageParams = { size: 64, views: 1, augment: { ...AUGMENT_PRESETS.experiment, fill_mode: 'mirror' as never }, seed: 0 };
    await expect(produceAugment(out, path.join(out, 'no-split.arrow'), bad, { workers: 1, log: memoryLogger() })).rejects.toThrow(/fill_mode/);
    expect(readdirSync(out)).toEqual([]);
  });
});
