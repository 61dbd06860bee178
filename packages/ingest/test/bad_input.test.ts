import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { memoryLogger } from '@flowers/core';
import { readSplitFile, SPLIT_FILE } from '@flowers/core/contracts';
import { produceIngest, scanDataset, type IngestParams } from '../src/index.ts';

async function solid(file: string, rgb: [number, number, number], format: 'jpeg' | 'png' = 'jpeg'): Promise<void> {
  const image = sharp({ create: { width: 40, height: 30, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  await (format === 'png' ? image.png() : image.jpeg()).toFile(file);
}

/** A dataset with two good classes and every kind of bad file the ingest stage must survive. */
async function writeAwkwardDataset(): Promise<string> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ingest-bad-'));
  for (const label of ['cats', 'dogs']) mkdirSync(path.join(root, label));
  for (let i = 0; i < 6; i++) {
    await solid(path.join(root, 'cats', `cat${i}.jpg`), [200, 10 * i, 10]);
    await solid(path.join(root, 'dogs', `dog${i}.JPG`), [10, 10 * i, 200]);
  }
  const good = await sharp({ create: { width: 64, height: 48, channels: 3, background: 'red' } }).jpeg().toBuffer();
  writeFileSync(path.join(root, 'cats', 'truncated.jpg'), good.subarray(0, Math.floor(good.length / 2)));
  writeFileSync(path.join(root, 'cats', 'empty.jpg'), Buffer.alloc(0));
  writeFileSync(path.join(root, 'cats', 'notes.jpg'), 'this is a text file, not a photo\n');
  writeFileSync(path.join(root, 'cats', 'README.txt'), 'not data');
  writeFileSync(path.join(root, 'cats', '.DS_Store'), 'hidden');
  // Reading a FIFO waits for a writer that never comes.
  execFileSync('mkfifo', [path.join(root, 'cats', 'pipe.jpg')]);
  await sharp({ create: { width: 20, height: 20, channels: 4, background: { r: 0, g: 255, b: 0, alpha: 0.5 } } }).png().toFile(path.join(root, 'dogs', 'alpha.png'));
  await sharp({ create: { width: 20, height: 20, channels: 3, background: 'gray' } }).toColourspace('b-w').png().toFile(path.join(root, 'dogs', 'gray.png'));
  await sharp({ create: { width: 20, height: 20, channels: 3, background: 'teal' } }).toColourspace('cmyk').jpeg().toFile(path.join(root, 'dogs', 'cmyk.jpg'));
  await solid(path.join(root, 'dogs', 'hund-ñ-犬.jpg'), [1, 2, 3]);
  return root;
}

const params = (dataDir: string): IngestParams => ({ dataDir, split: [0.6, 0.2, 0.2], seed: 0, maxPixels: 10_000_000 });

describe('ingest with bad input', () => {
  it('skips corrupt, empty, non-image and non-regular files with reasons, and keeps alpha, grayscale, CMYK and unicode names', async () => {
    const root = await writeAwkwardDataset();
    const out = mkdtempSync(path.join(os.tmpdir(), 'ingest-out-'));
    const dataset = await scanDataset(root);
    expect(dataset.classes).toEqual(['cats', 'dogs']);
    const result = await produceIngest(out, dataset, params(root), { workers: 2, log: memoryLogger() });
    const reasons = Object.fromEntries(result.report.skipped.map((s) => [s.path, s.reason]));
    expect(reasons['cats/truncated.jpg']).toMatch(/corrupt/);
    expect(reasons['cats/empty.jpg']).toMatch(/empty/);
    expect(reasons['cats/notes.jpg']).toMatch(/not an image/);
    expect(reasons['cats/README.txt']).toMatch(/extension/);
    expect(reasons['cats/pipe.jpg']).toBe('not a regular file');
    expect(Object.keys(reasons).some((p) => p.includes('DS_Store'))).toBe(false);
    const split = await readSplitFile(path.join(out, SPLIT_FILE));
    const kept = new Map(split.rows.map((r) => [r.path, r]));
    expect(kept.get('dogs/alpha.png')).toBeDefined();
    expect(kept.get('dogs/gray.png')).toBeDefined();
    expect(kept.get('dogs/cmyk.jpg')).toBeDefined();
    expect(kept.get('dogs/hund-ñ-犬.jpg')?.label).toBe('dogs');
    expect(kept.get('dogs/alpha.png')!.width).toBe(20);
    expect(split.rows).toHaveLength(6 + 6 + 4);
  });

  it('skips a JPEG with garbage in its entropy-coded data, which sharp by default (augment) rejects', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'ingest-garbled-'));
    for (const label of ['a', 'b']) {
      mkdirSync(path.join(root, label));
      for (let i = 0; i < 3; i++) await solid(path.join(root, label, `${i}.jpg`), [i * 60, label === 'a' ? 40 : 220, 90]);
    }
    const width = 128;
    const height = 96;
    const texture = Buffer.from(Array.from({ length: width * height * 3 }, (_, i) => (i * 7 + (i >> 8) * 13) % 256));
    const jpeg = await sharp(texture, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    // Overwrite 64 bytes half-way through the scan data (after the SOS header), with no 0xFF so no marker appears.
    const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
    const scanStart = sos + 2 + jpeg.readUInt16BE(sos + 2);
    const middle = Math.floor((scanStart + jpeg.length - 2) / 2);
    for (let i = 0; i < 64; i++) jpeg[middle + i] = (i * 97 + 31) % 255;
    writeFileSync(path.join(root, 'a', 'garbled.jpg'), jpeg);
    await expect(sharp(jpeg).raw().toBuffer()).rejects.toThrow(/Corrupt JPEG data/);

    const out = mkdtempSync(path.join(os.tmpdir(), 'ingest-out-'));
    const result = await produceIngest(out, await scanDataset(root), params(root), { workers: 1, log: memoryLogger() });
    // The cause, or the generic line when another decode cleared libvips' shared error buffer (under load).
    expect(result.report.skipped).toEqual([{ path: 'a/garbled.jpg', reason: expect.stringMatching(/^corrupt image: (.*Corrupt JPEG data|damaged data \(the decoder warned)/) }]);
    expect(result.report.images).toBe(6);
  });

  it('rejects oversized images by pixel count', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'ingest-big-'));
    for (const label of ['a', 'b']) {
      mkdirSync(path.join(root, label));
      for (let i = 0; i < 3; i++) await solid(path.join(root, label, `${i}.png`), [i, label === 'a' ? 50 : 150, 100], 'png');
    }
    await sharp({ create: { width: 400, height: 300, channels: 3, background: 'white' } }).png().toFile(path.join(root, 'a', 'huge.png'));
    const out = mkdtempSync(path.join(os.tmpdir(), 'ingest-out-'));
    const result = await produceIngest(out, await scanDataset(root), { ...params(root), maxPixels: 100_000 }, { workers: 1, log: memoryLogger() });
    expect(result.report.skipped).toEqual([{ path: 'a/huge.png', reason: 'too large: more than 100000 pixels' }]);
  });

  it('names the folder when a class is empty or there are fewer than two classes', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'ingest-empty-'));
    mkdirSync(path.join(root, 'full'));
    mkdirSync(path.join(root, 'hollow'));
    await solid(path.join(root, 'full', 'x.jpg'), [9, 9, 9]);
    await expect(scanDataset(root)).rejects.toThrow(`class folder has no images: ${path.join(root, 'hollow')}`);
    const single = mkdtempSync(path.join(os.tmpdir(), 'ingest-single-'));
    mkdirSync(path.join(single, 'only'));
    await solid(path.join(single, 'only', 'x.jpg'), [9, 9, 9]);
    await expect(scanDataset(single)).rejects.toThrow(/at least 2 class sub-folders/);
    await expect(scanDataset(path.join(single, 'missing'))).rejects.toThrow(/data folder not found/);
  });

  it('uses a given train/validation/test split and keeps a photo out of two splits', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'ingest-presplit-'));
    for (const split of ['train', 'val', 'test']) {
      for (const label of ['x', 'y']) {
        mkdirSync(path.join(root, split, label), { recursive: true });
        await solid(path.join(root, split, label, `${split}.jpg`), [split.length * 40, label === 'x' ? 0 : 255, 7]);
      }
    }
    // The same photo in train and test: the test copy must go.
    await solid(path.join(root, 'test', 'x', 'copy.jpg'), [5 * 40, 0, 7]);
    const out = mkdtempSync(path.join(os.tmpdir(), 'ingest-out-'));
    const result = await produceIngest(out, await scanDataset(root), params(root), { workers: 1, log: memoryLogger() });
    const split = await readSplitFile(path.join(out, SPLIT_FILE));
    expect(split.rows.filter((r) => r.split === 'validation')).toHaveLength(2);
    expect(split.rows.find((r) => r.path === 'val/x/val.jpg')?.split).toBe('validation');
    expect(result.report.duplicates).toEqual([expect.objectContaining({ kept: 'train/x/train.jpg', dropped: ['test/x/copy.jpg'] })]);
  });
});
