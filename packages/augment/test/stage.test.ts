import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { memoryLogger, openArrowFile, sha256File } from '@flowers/core';
import { readSplitFile, SPLIT_FILE, writeSplit, type SplitName, type SplitRow } from '@flowers/core/contracts';
import { AUGMENT_PRESETS, produceAugment, type AugmentStageParams } from '../src/index.ts';

/** Ten small photos of two classes and their split.arrow (6 train, 2 validation, 2 test), as ingest writes it. */
async function smallSplit(): Promise<{ data: string; ingestDir: string }> {
  const data = mkdtempSync(path.join(os.tmpdir(), 'augment-stage-data-'));
  const rows: SplitRow[] = [];
  for (const [c, label] of ['red', 'blue'].entries()) {
    mkdirSync(path.join(data, label));
    for (let i = 0; i < 5; i++) {
      const file = path.join(data, label, `${i}.png`);
      await sharp({ create: { width: 60, height: 40, channels: 3, background: { r: c ? 0 : 200 + i, g: 10 * i, b: c ? 200 + i : 0 } } }).png().toFile(file);
      const split: SplitName = i < 3 ? 'train' : i === 3 ? 'validation' : 'test';
      rows.push({ path: `${label}/${i}.png`, sha256: await sha256File(file), label, labelIndex: c, split, width: 60, height: 40, channels: 3 });
    }
  }
  const ingestDir = mkdtempSync(path.join(os.tmpdir(), 'augment-stage-ingest-'));
  await writeSplit(ingestDir, { dataDir: data, classes: ['red', 'blue'], seed: 0, fractions: [0.6, 0.2, 0.2], rows });
  return { data, ingestDir };
}

interface PixelRow { sha256: string; rowId: number; path: string; view: number; pixels: Uint8Array }

async function rowsOf(file: string): Promise<PixelRow[]> {
  const arrow = await openArrowFile(file);
  const rows: PixelRow[] = [];
  for await (const batch of arrow.batches()) {
    for (let i = 0; i < batch.numRows; i++) {
      rows.push({
        sha256: batch.getChild('sha256')!.get(i) as string,
        rowId: batch.getChild('row_id')!.get(i) as number,
        path: batch.getChild('path')!.get(i) as string,
        view: batch.getChild('view')!.get(i) as number,
        pixels: Uint8Array.from(batch.getChild('pixels')!.get(i) as Iterable<number>),
      });
    }
  }
  await arrow.close();
  return rows;
}

describe('the augment stage', () => {
  it('writes one row per image and view with its identity, and skips an image that changed since ingest', async () => {
    const { data, ingestDir } = await smallSplit();
    // Overwrite one photo after ingest: its sha256 no longer matches split.arrow.
    writeFileSync(path.join(data, 'red', '0.png'), await sharp({ create: { width: 60, height: 40, channels: 3, background: 'green' } }).png().toBuffer());

    const out = mkdtempSync(path.join(os.tmpdir(), 'augment-stage-out-'));
    const params: AugmentStageParams = { size: 32, views: 2, augment: AUGMENT_PRESETS.experiment, seed: 0 };
    const log = memoryLogger();
    const result = await produceAugment(out, path.join(ingestDir, SPLIT_FILE), params, { workers: 2, log });
    expect(readdirSync(out).sort()).toEqual([
      'augment-report.json', 'preview.png', 'test.arrow', 'test.index.arrow', 'train.arrow', 'train.index.arrow', 'validation.arrow', 'validation.index.arrow',
    ]);
    expect(log.lines.join('\n')).toMatch(/skipped 1 image\(s\).*red\/0\.png changed since ingest/);

    const train = await rowsOf(path.join(out, 'train.arrow'));
    const validation = await rowsOf(path.join(out, 'validation.arrow'));
    const test = await rowsOf(path.join(out, 'test.arrow'));
    const images = train.length / 3 + validation.length + test.length;
    expect(images).toBe(9);
    expect(result.rows).toEqual({ train: train.length, validation: validation.length, test: test.length });
    expect(new Set(train.map((r) => r.view))).toEqual(new Set([0, 1, 2]));
    expect(validation.every((r) => r.view === 0) && test.every((r) => r.view === 0)).toBe(true);
    expect(train.every((r) => r.pixels.length === 32 * 32 * 3)).toBe(true);
    // Row ids and paths are split.arrow's: red/0.png (row 0) was skipped, red/1.png is row 1.
    const split = await readSplitFile(path.join(ingestDir, SPLIT_FILE));
    for (const row of [...train, ...validation, ...test]) {
      expect(split.rows[row.rowId]!.path).toBe(row.path);
      expect(split.rows[row.rowId]!.sha256).toBe(row.sha256);
    }
    expect(train.filter((r) => r.view === 0).map((r) => r.path)).toEqual(['red/1.png', 'red/2.png', 'blue/0.png', 'blue/1.png', 'blue/2.png']);

    // The preview is the first training image that decoded and its views, as written to train.arrow.
    const { data: grid, info } = await sharp(readFileSync(path.join(out, 'preview.png'))).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([3 * 32 + 2 * 4, 32]);
    const views = train.filter((r) => r.path === 'red/1.png');
    views.forEach((view, i) => {
      const tile = Buffer.alloc(32 * 32 * 3);
      for (let y = 0; y < 32; y++) grid.copy(tile, y * 32 * 3, (y * info.width + i * 36) * 3, (y * info.width + i * 36 + 32) * 3);
      expect(Buffer.compare(tile, Buffer.from(view.pixels)), `tile ${i}`).toBe(0);
    });
  });

  it('with --tta, follows each validation and test image with its mirror image as view 1, and leaves the training rows as they were', async () => {
    const { data, ingestDir } = await smallSplit();
    // Left-to-right gradients, so that a mirror image differs from the image.
    const split = await readSplitFile(path.join(ingestDir, SPLIT_FILE));
    for (const row of split.rows) {
      const raw = Buffer.alloc(60 * 40 * 3);
      for (let p = 0; p < 60 * 40; p++) raw.fill((p % 60) * 4, p * 3, p * 3 + 3);
      writeFileSync(path.join(data, row.path), await sharp(raw, { raw: { width: 60, height: 40, channels: 3 } }).png().toBuffer());
    }
    const rows = await Promise.all(split.rows.map(async (row) => ({ ...row, sha256: await sha256File(path.join(data, row.path)) })));
    await writeSplit(ingestDir, { dataDir: data, classes: split.classes, seed: 0, fractions: [0.6, 0.2, 0.2], rows });

    const base: AugmentStageParams = { size: 32, views: 2, augment: AUGMENT_PRESETS.experiment, seed: 0 };
    const [plainOut, ttaOut] = [mkdtempSync(path.join(os.tmpdir(), 'augment-plain-')), mkdtempSync(path.join(os.tmpdir(), 'augment-tta-'))];
    await produceAugment(plainOut, path.join(ingestDir, SPLIT_FILE), base, { workers: 2, log: memoryLogger() });
    await produceAugment(ttaOut, path.join(ingestDir, SPLIT_FILE), { ...base, tta: true }, { workers: 2, log: memoryLogger() });
    expect(await rowsOf(path.join(ttaOut, 'train.arrow'))).toEqual(await rowsOf(path.join(plainOut, 'train.arrow')));
    for (const name of ['validation', 'test']) {
      const plain = await rowsOf(path.join(plainOut, `${name}.arrow`));
      const withMirror = await rowsOf(path.join(ttaOut, `${name}.arrow`));
      expect(withMirror.map((r) => [r.path, r.view])).toEqual(plain.flatMap((r) => [[r.path, 0], [r.path, 1]]));
      for (let i = 0; i < plain.length; i++) {
        expect(withMirror[2 * i]).toEqual(plain[i]);
        const flopped = await sharp(Buffer.from(plain[i]!.pixels), { raw: { width: 32, height: 32, channels: 3 } }).flop().raw().toBuffer();
        expect(Buffer.compare(Buffer.from(withMirror[2 * i + 1]!.pixels), flopped), `${name} ${plain[i]!.path}`).toBe(0);
        expect(Buffer.compare(flopped, Buffer.from(plain[i]!.pixels))).not.toBe(0);
        expect(withMirror[2 * i + 1]!.rowId).toBe(plain[i]!.rowId);
      }
    }
  });

  it('rejects out-of-range parameters before any work, naming the parameter', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'augment-stage-bad-'));
    const bad: AugmentStageParams = { size: 64, views: 1, augment: { ...AUGMENT_PRESETS.experiment, fill_mode: 'mirror' as never }, seed: 0 };
    await expect(produceAugment(out, path.join(out, 'no-split.arrow'), bad, { workers: 1, log: memoryLogger() })).rejects.toThrow(/fill_mode/);
    expect(readdirSync(out)).toEqual([]);
  });
});
