import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { scanDataset } from '../src/index.ts';

/** A path under `dir` whose last name is raw bytes (Node accepts a Buffer as a path). */
const rawName = (dir: string, bytes: number[]): Buffer => Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(bytes)]);

describe('names that are not UTF-8', () => {
  it('skips a file or folder whose name is not valid UTF-8, with a reason, and scans the rest', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'ingest-names-'));
    const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: 'olive' } }).jpeg().toBuffer();
    for (const label of ['a', 'b']) {
      mkdirSync(path.join(root, label));
      writeFileSync(path.join(root, label, 'ok.jpg'), jpeg);
    }
    // f\xff.jpg: a Latin-1 name from an old archive.
    writeFileSync(rawName(path.join(root, 'a'), [0x66, 0xff, 0x2e, 0x6a, 0x70, 0x67]), jpeg);
    // A class folder and a sub-folder with such names.
    mkdirSync(rawName(root, [0x63, 0xe9]));
    writeFileSync(Buffer.concat([rawName(root, [0x63, 0xe9]), Buffer.from('/x.jpg')]), jpeg);
    mkdirSync(rawName(path.join(root, 'b'), [0x80]));

    const dataset = await scanDataset(root);
    expect(dataset.classes).toEqual(['a', 'b']);
    expect(dataset.files.map((f) => f.path)).toEqual(['a/ok.jpg', 'b/ok.jpg']);
    expect(dataset.ignored).toEqual([
      { path: 'a/f\uFFFD.jpg', reason: 'name is not valid UTF-8 (bytes 66 ff 2e 6a 70 67): rename it' },
      { path: 'b/\uFFFD', reason: 'name is not valid UTF-8 (bytes 80): rename it' },
      { path: 'c\uFFFD', reason: 'name is not valid UTF-8 (bytes 63 e9): rename it' },
    ]);
  });
});
