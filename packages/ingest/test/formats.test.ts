import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { memoryLogger } from '@flowers/core';
import { DEFAULT_MAX_PIXELS, produceIngest, scanDataset, type IngestParams } from '../src/index.ts';

/** Two classes of three small, distinct JPEGs. */
async function smallDataset(prefix: string): Promise<string> {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  for (const [c, label] of ['a', 'b'].entries()) {
    mkdirSync(path.join(root, label));
    for (let i = 0; i < 3; i++) {
      await sharp({ create: { width: 24, height: 24, channels: 3, background: { r: 80 * i, g: 200 * c, b: 60 } } }).jpeg().toFile(path.join(root, label, `${i}.jpg`));
    }
  }
  return root;
}

const params = (dataDir: string): IngestParams => ({ dataDir, split: [0.6, 0.2, 0.2], seed: 0, maxPixels: 1e7 });

describe('ingest accepts image formats by content', () => {
  it('skips SVG and other non-listed formats named .jpg/.png without rendering them', async () => {
    const root = await smallDataset('ingest-formats-');
    // The 236-byte file that stalled ingest: an 8000x8000 canvas of turbulence under a wide blur.
    const bomb =
      '<svg xmlns="http://www.w3.org/2000/svg" width="8000" height="8000"><filter id="f"><feTurbulence baseFrequency="0.9" numOctaves="10"/>' +
      '<feGaussianBlur stdDeviation="400"/></filter><rect width="100%" height="100%" filter="url(#f)"/></svg>';
    writeFileSync(path.join(root, 'a', 'bomb.jpg'), bomb);
    writeFileSync(path.join(root, 'a', 'small-svg.jpg'), '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="red"/></svg>');
    // A portable pixmap (which libvips reads too) saved as .png.
    writeFileSync(path.join(root, 'b', 'pixmap.png'), Buffer.concat([Buffer.from('P6\n2 2\n255\n'), Buffer.alloc(12, 128)]));
    const out = mkdtempSync(path.join(os.tmpdir(), 'ingest-out-'));
    // The default pixel limit lets an 8000x8000 canvas through: only the content check stops it.
    const result = await produceIngest(out, await scanDataset(root), { ...params(root), maxPixels: DEFAULT_MAX_PIXELS }, { workers: 1, log: memoryLogger() });
    const notListed = 'not an image: the content is not JPEG, PNG, WebP, GIF or TIFF';
    expect(result.report.skipped).toEqual([
      { path: 'a/bomb.jpg', reason: notListed },
      { path: 'a/small-svg.jpg', reason: notListed },
      { path: 'b/pixmap.png', reason: notListed },
    ]);
    expect(result.report.images).toBe(6);
  });

  it('skips an image that takes longer than the per-image limit to decode', async () => {
    const root = await smallDataset('ingest-slow-');
    // An interlaced (Adam7) PNG is decoded whole before anything else happens: seconds at 144 megapixels.
    await sharp({ create: { width: 12000, height: 12000, channels: 3, background: { r: 10, g: 100, b: 200 } } })
      .png({ compressionLevel: 1, progressive: true })
      .toFile(path.join(root, 'b', 'huge-interlaced.png'));
    const out = mkdtempSync(path.join(os.tmpdir(), 'ingest-out-'));
    const result = await produceIngest(out, await scanDataset(root), { ...params(root), maxPixels: 2e8, decodeTimeoutSeconds: 1 }, { workers: 1, log: memoryLogger() });
    expect(result.report.skipped).toEqual([{ path: 'b/huge-interlaced.png', reason: 'too slow to decode: more than 1 s' }]);
    expect(result.report.images).toBe(6);
  });
});
