import { describe, it, expect, beforeAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { decodeResized } from '../src/decode.ts';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'augment-decode-'));
});

/** w x h raw RGB, top half `top`, bottom half `bottom`. */
function halves(w: number, h: number, top: number[], bottom: number[]): Buffer {
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) px.set(Math.floor(i / w) < h / 2 ? top : bottom, i * 3);
  return px;
}

const pixel = (img: Uint8Array, size: number, r: number, c: number) => [...img.subarray((r * size + c) * 3, (r * size + c) * 3 + 3)];
const near = (actual: number[], expected: number[], tolerance: number) =>
  actual.every((v, k) => Math.abs(v - expected[k]!) <= tolerance);

describe('decodeResized', () => {
  it('returns exactly size*size*3 bytes for a non-square JPEG, stretching like target_size', async () => {
    const file = path.join(dir, 'wide.jpg');
    await sharp(halves(120, 40, [230, 30, 30], [30, 30, 230]), { raw: { width: 120, height: 40, channels: 3 } })
      .jpeg({ quality: 100 })
      .toFile(file);
    const img = await decodeResized(file, 48);
    expect(img.length).toBe(48 * 48 * 3);
    // No crop, no letterbox: the top half stays red and the bottom half blue across the full width.
    expect(near(pixel(img, 48, 2, 0), [230, 30, 30], 12)).toBe(true);
    expect(near(pixel(img, 48, 45, 47), [30, 30, 230], 12)).toBe(true);
  });

  it('expands a grayscale PNG to three equal channels', async () => {
    const file = path.join(dir, 'gray.png');
    const gray = Buffer.alloc(64 * 64);
    for (let i = 0; i < gray.length; i++) gray[i] = i % 64 < 32 ? 40 : 220;
    await sharp(gray, { raw: { width: 64, height: 64, channels: 1 } }).toColourspace('b-w').png().toFile(file);
    expect((await sharp(file).metadata()).channels).toBe(1);
    const img = await decodeResized(file, 32);
    expect(img.length).toBe(32 * 32 * 3);
    expect(pixel(img, 32, 5, 3)).toEqual([40, 40, 40]);
    expect(pixel(img, 32, 5, 30)).toEqual([220, 220, 220]);
  });

  it('drops alpha and keeps the colour, as Keras load_img does', async () => {
    const file = path.join(dir, 'alpha.png');
    const rgba = Buffer.alloc(64 * 64 * 4);
    for (let i = 0; i < 64 * 64; i++) rgba.set([200, 100, 30, (i * 37) % 256], i * 4);
    await sharp(rgba, { raw: { width: 64, height: 64, channels: 4 } }).png().toFile(file);
    const img = await decodeResized(file, 32);
    expect(img.length).toBe(32 * 32 * 3);
    for (let p = 0; p < 32 * 32; p++) expect(pixel(img, 32, Math.floor(p / 32), p % 32)).toEqual([200, 100, 30]);
  });

  it('converts a CMYK JPEG to sRGB', async () => {
    const file = path.join(dir, 'cmyk.jpg');
    const colour = [120, 150, 90];
    await sharp(halves(64, 64, colour, colour), { raw: { width: 64, height: 64, channels: 3 } })
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toFile(file);
    expect((await sharp(file).metadata()).space).toBe('cmyk');
    const img = await decodeResized(file, 32);
    expect(img.length).toBe(32 * 32 * 3);
    expect(near(pixel(img, 32, 16, 16), colour, 20)).toBe(true);
  });

  it('honours EXIF orientation', async () => {
    // Stored 64 wide x 32 tall, red on top; orientation 6 displays it turned 90 degrees clockwise,
    // so the stored top becomes the displayed right side.
    const stored = halves(64, 32, [230, 20, 20], [20, 20, 230]);
    const plain = path.join(dir, 'plain.jpg');
    const rotated = path.join(dir, 'rotated.jpg');
    await sharp(stored, { raw: { width: 64, height: 32, channels: 3 } }).jpeg({ quality: 100 }).toFile(plain);
    await sharp(stored, { raw: { width: 64, height: 32, channels: 3 } })
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 })
      .toFile(rotated);
    expect((await sharp(rotated).metadata()).orientation).toBe(6);
    const upright = await decodeResized(plain, 32);
    expect(near(pixel(upright, 32, 3, 16), [230, 20, 20], 15)).toBe(true);
    expect(near(pixel(upright, 32, 28, 16), [20, 20, 230], 15)).toBe(true);
    const turned = await decodeResized(rotated, 32);
    expect(near(pixel(turned, 32, 16, 28), [230, 20, 20], 15)).toBe(true);
    expect(near(pixel(turned, 32, 16, 3), [20, 20, 230], 15)).toBe(true);
  });

  it('accepts the bytes instead of a path and rejects undecodable bytes', async () => {
    const file = path.join(dir, 'bytes.png');
    await sharp(halves(50, 30, [1, 2, 3], [200, 150, 100]), { raw: { width: 50, height: 30, channels: 3 } }).png().toFile(file);
    expect(await decodeResized(fs.readFileSync(file), 48)).toEqual(await decodeResized(file, 48));
    await expect(decodeResized(Buffer.from('not an image at all'), 48)).rejects.toThrow();
  });
});
