import { describe, it, expect } from 'vitest';
import sharp from 'sharp';
import { renderPreviewGrid } from '../src/preview.ts';

const size = 16;
/** Tile i: a flat colour of its own. */
const tiles = Array.from({ length: 5 }, (_, i) => new Uint8Array(size * size * 3).fill(20 + 40 * i));

describe('renderPreviewGrid', () => {
  it('lays the tiles out row by row in a grid with white gutters', async () => {
    const png = await renderPreviewGrid(tiles, size, 3);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    // 3 columns x 2 rows of 16-pixel tiles with 4-pixel gutters.
    expect([info.format, info.width, info.height, info.channels]).toEqual(['raw', 3 * size + 2 * 4, 2 * size + 4, 3]);
    const tile = (i: number) => {
      const out = Buffer.alloc(size * size * 3);
      const left = (i % 3) * (size + 4);
      const top = Math.floor(i / 3) * (size + 4);
      for (let r = 0; r < size; r++) data.copy(out, r * size * 3, ((top + r) * info.width + left) * 3, ((top + r) * info.width + left + size) * 3);
      return out;
    };
    tiles.forEach((expected, i) => expect(Buffer.compare(tile(i), Buffer.from(expected))).toBe(0));
    const gutterColumn = size + 1;
    expect([...data.subarray(gutterColumn * 3, gutterColumn * 3 + 3)]).toEqual([255, 255, 255]);
    // The sixth cell has no tile: background.
    const empty = ((size + 4) * info.width + 2 * (size + 4)) * 3;
    expect([...data.subarray(empty, empty + 3)]).toEqual([255, 255, 255]);
  });

  it('rejects a bad column count naming it', async () => {
    await expect(renderPreviewGrid(tiles, size, 0)).rejects.toThrow(/columns=0/);
  });
});
