/** The classic "augmented daisy" figure: a photo and some of its augmented views, as one PNG. */
import sharp from 'sharp';

const GUTTER = 4;
const BACKGROUND = { r: 255, g: 255, b: 255 };

/**
 * PNG grid, row by row, of size x size x 3 RGB tiles (the augment stage passes the plain image
 * and the views its pool just produced), with white gutters.
 */
export async function renderPreviewGrid(tiles: readonly Uint8Array[], size: number, columns: number): Promise<Buffer> {
  if (!Number.isInteger(columns) || columns < 1) throw new Error(`augment preview columns=${columns} must be an integer >= 1`);
  if (tiles.length === 0) throw new Error('augment preview needs at least one image');
  const cols = Math.min(columns, tiles.length);
  const rows = Math.ceil(tiles.length / columns);
  return sharp({
    create: {
      width: cols * size + (cols - 1) * GUTTER,
      height: rows * size + (rows - 1) * GUTTER,
      channels: 3,
      background: BACKGROUND,
    },
  })
    .composite(
      tiles.map((tile, i) => ({
        input: Buffer.from(tile.buffer, tile.byteOffset, tile.byteLength),
        raw: { width: size, height: size, channels: 3 as const },
        left: (i % columns) * (size + GUTTER),
        top: Math.floor(i / columns) * (size + GUTTER),
      })),
    )
    .removeAlpha() // composite adds an alpha channel; the figure is opaque RGB
    .png()
    .toBuffer();
}
