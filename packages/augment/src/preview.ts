/** The classic "augmented daisy" figure: a photo and some of its augmented views, as one PNG. */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { sha256Hex } from '@flowers/core';
import { decodeResized } from './decode.ts';
import type { AugmentParams } from './keras_params.ts';
import { augmentViews } from './views.ts';

export interface AugmentPreviewOptions {
  path: string;
  size: number;
  views: number;
  params: AugmentParams;
  seed: number | string;
  columns: number;
}

const GUTTER = 4;
const BACKGROUND = { r: 255, g: 255, b: 255 };

/**
 * PNG grid, row by row: the plain resized image, then `views` augmented views. The views are
 * exactly those the augment stage produces for this file and seed (same stream keys).
 */
export async function renderAugmentPreview(options: AugmentPreviewOptions): Promise<Buffer> {
  const { path, size, views, params, seed, columns } = options;
  if (!Number.isInteger(columns) || columns < 1) throw new Error(`augment preview columns=${columns} must be an integer >= 1`);
  if (!Number.isInteger(views) || views < 0) throw new Error(`augment preview views=${views} must be an integer >= 0`);
  const bytes = await readFile(path);
  const images = augmentViews(await decodeResized(bytes, size), size, views, params, seed, sha256Hex(bytes));
  const tiles = 1 + views;
  const imageBytes = size * size * 3;
  const cols = Math.min(columns, tiles);
  const rows = Math.ceil(tiles / columns);
  return sharp({
    create: {
      width: cols * size + (cols - 1) * GUTTER,
      height: rows * size + (rows - 1) * GUTTER,
      channels: 3,
      background: BACKGROUND,
    },
  })
    .composite(
      Array.from({ length: tiles }, (_, i) => ({
        input: Buffer.from(images.buffer, images.byteOffset + i * imageBytes, imageBytes),
        raw: { width: size, height: size, channels: 3 as const },
        left: (i % columns) * (size + GUTTER),
        top: Math.floor(i / columns) * (size + GUTTER),
      })),
    )
    .removeAlpha() // composite adds an alpha channel; the figure is opaque RGB
    .png()
    .toBuffer();
}
