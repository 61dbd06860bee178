import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { decodeResized } from '../src/decode.ts';
import { EXPERIMENT_AUGMENTATION } from '../src/keras_params.ts';
import { renderAugmentPreview } from '../src/preview.ts';

const daisyDir = '/work/shared/data/flowers/daisy';
const photo = path.join(daisyDir, fs.readdirSync(daisyDir).filter((f) => f.endsWith('.jpg')).sort()[0]!);

describe('renderAugmentPreview', () => {
  it('lays the plain image and its views out in a grid with white gutters', async () => {
    const size = 64;
    const png = await renderAugmentPreview({ path: photo, size, views: 5, params: EXPERIMENT_AUGMENTATION, seed: 1, columns: 3 });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    // 3 columns x 2 rows of 64-pixel tiles with 4-pixel gutters.
    expect([info.format, info.width, info.height, info.channels]).toEqual(['raw', 3 * 64 + 2 * 4, 2 * 64 + 4, 3]);
    const tile = (i: number) => {
      const out = Buffer.alloc(size * size * 3);
      const left = (i % 3) * (size + 4);
      const top = Math.floor(i / 3) * (size + 4);
      for (let r = 0; r < size; r++) data.copy(out, r * size * 3, ((top + r) * info.width + left) * 3, ((top + r) * info.width + left + size) * 3);
      return out;
    };
    expect(Buffer.compare(tile(0), Buffer.from(await decodeResized(photo, size)))).toBe(0);
    expect(Buffer.compare(tile(1), tile(0))).not.toBe(0);
    const gutterColumn = size + 1;
    expect([...data.subarray(gutterColumn * 3, gutterColumn * 3 + 3)]).toEqual([255, 255, 255]);
  });

  it('rejects a bad column count naming it', async () => {
    await expect(
      renderAugmentPreview({ path: photo, size: 64, views: 2, params: EXPERIMENT_AUGMENTATION, seed: 1, columns: 0 }),
    ).rejects.toThrow(/columns=0/);
  });
});
