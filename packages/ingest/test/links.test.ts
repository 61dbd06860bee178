import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { memoryLogger } from '@flowers/core';
import { readSplitFile, SPLIT_FILE } from '@flowers/core/contracts';
import { produceIngest, scanDataset } from '../src/index.ts';

const tmp = (prefix: string): string => mkdtempSync(path.join(os.tmpdir(), prefix));

let photos = 0;
/** A small JPEG unlike every other one this file writes (so none is dropped as a duplicate). */
async function photo(file: string): Promise<void> {
  const n = photos++;
  await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: (n * 37) % 256, g: (n * 71) % 256, b: (n * 13) % 256 } } }).jpeg().toFile(file);
}

describe('ingest follows symbolic links', () => {
  it('takes a linked class folder and linked photos as data, and reports dangling links and loops', async () => {
    const root = tmp('ingest-links-');
    const elsewhere = tmp('ingest-link-targets-');
    for (const label of ['daisy', 'rose']) {
      mkdirSync(path.join(root, label));
      for (let i = 0; i < 3; i++) await photo(path.join(root, label, `${i}.jpg`));
    }
    // A class folder that lives elsewhere (e.g. on another disk), linked in.
    mkdirSync(path.join(elsewhere, 'tulip'));
    for (let i = 0; i < 3; i++) await photo(path.join(elsewhere, 'tulip', `${i}.jpg`));
    symlinkSync(path.join(elsewhere, 'tulip'), path.join(root, 'tulip'));
    // A class folder of linked photos.
    mkdirSync(path.join(root, 'iris'));
    for (let i = 0; i < 3; i++) {
      await photo(path.join(elsewhere, `iris${i}.jpg`));
      symlinkSync(path.join(elsewhere, `iris${i}.jpg`), path.join(root, 'iris', `${i}.jpg`));
    }
    symlinkSync(path.join(elsewhere, 'gone.jpg'), path.join(root, 'iris', 'gone.jpg'));
    symlinkSync(path.join(elsewhere, 'no-such-class'), path.join(root, 'lily'));
    // A link back up the tree, and a link that points at itself.
    symlinkSync(path.join(root, 'daisy'), path.join(root, 'daisy', 'again'));
    symlinkSync('self.jpg', path.join(root, 'rose', 'self.jpg'));

    const dataset = await scanDataset(root);
    expect(dataset.classes).toEqual(['daisy', 'iris', 'rose', 'tulip']);
    const out = tmp('ingest-out-');
    const result = await produceIngest(out, dataset, { dataDir: root, split: [0.6, 0.2, 0.2], seed: 0, maxPixels: 1e7 }, { workers: 1, log: memoryLogger() });
    const reasons = Object.fromEntries(result.report.skipped.map((s) => [s.path, s.reason]));
    expect(reasons['iris/gone.jpg']).toBe(`dangling symlink (to ${path.join(elsewhere, 'gone.jpg')})`);
    expect(reasons['lily']).toBe(`dangling symlink (to ${path.join(elsewhere, 'no-such-class')})`);
    expect(reasons['daisy/again']).toBe('symlink loop: leads back to daisy');
    expect(reasons['rose/self.jpg']).toBe('symlink loop (to self.jpg)');
    expect(result.report.skipped).toHaveLength(4);
    const split = await readSplitFile(path.join(out, SPLIT_FILE));
    expect(split.rows.map((r) => r.path).sort()).toEqual(
      ['daisy', 'iris', 'rose', 'tulip'].flatMap((label) => [0, 1, 2].map((i) => `${label}/${i}.jpg`)),
    );
  });

  it('reports a class folder that links to the dataset folder as a loop', async () => {
    const root = tmp('ingest-root-loop-');
    for (const label of ['a', 'b']) {
      mkdirSync(path.join(root, label));
      await photo(path.join(root, label, 'x.jpg'));
    }
    symlinkSync(root, path.join(root, 'c'));
    const dataset = await scanDataset(root);
    expect(dataset.classes).toEqual(['a', 'b']);
    expect(dataset.ignored).toEqual([{ path: 'c', reason: 'symlink loop: leads back to the data folder' }]);
  });
});
