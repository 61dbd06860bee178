/**
 * Image file -> size x size x 3 sRGB uint8 pixels, the way Keras' load_img(target_size=...) sees it.
 */
import { readFile } from 'node:fs/promises';
import sharp, { type Sharp } from 'sharp';

const isJpeg = (bytes: Uint8Array): boolean => bytes[0] === 0xff && bytes[1] === 0xd8;

/**
 * Opaque sRGB pixels of an image with an alpha channel. sharp premultiplies alpha around a
 * resize, which would darken (or blacken) translucent pixels; Keras drops alpha and keeps the
 * colour, so the alpha is dropped in a first pass at full size.
 */
async function withoutAlpha(bytes: Uint8Array): Promise<Sharp> {
  const { data, info } = await sharp(bytes)
    .autoOrient()
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
}

/**
 * Decodes and resizes to exactly size x size RGB bytes (row-major, interleaved).
 * - EXIF orientation is applied (Keras/PIL does not; upright photos are what a user means).
 * - Grayscale, palette and CMYK are converted to sRGB; 16-bit input is reduced to 8 bits.
 * - Alpha is dropped, not composited, like PIL's convert('RGB') in load_img.
 * - The aspect ratio is not preserved (fit 'fill'), like Keras' target_size, and the kernel is
 *   'nearest', Keras' default interpolation. (sharp may shrink JPEGs on load before that, so the
 *   picked samples can differ slightly from PIL's; the image content is the same.)
 * Accepts a path or the file's bytes. Rejects with sharp's error for undecodable input.
 */
export async function decodeResized(input: string | Uint8Array, size: number): Promise<Uint8Array> {
  const bytes = typeof input === 'string' ? await readFile(input) : input;
  // JPEG has no alpha; skipping the header probe there saves a parse on the common path.
  const hasAlpha = !isJpeg(bytes) && (await sharp(bytes).metadata()).hasAlpha;
  // One top-to-bottom pass: sequential reading decodes JPEGs about 25% faster here.
  const source = hasAlpha ? await withoutAlpha(bytes) : sharp(bytes, { sequentialRead: true }).autoOrient();
  const { data, info } = await source
    .resize(size, size, { fit: 'fill', kernel: 'nearest' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3 || data.length !== size * size * 3) {
    throw new Error(`decodeResized: got ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
  }
  return data;
}
