/**
 * Test-time augmentation, as the pipeline does it: a photo's class probabilities are the mean of
 * those of the photo and of its mirror image (flipped left to right).
 */

/** `image` (size x size x 3 RGB bytes, rows top to bottom) flipped left to right. */
export function mirrorImage(image: Uint8Array, size: number): Uint8Array {
  if (image.length !== size * size * 3) throw new Error(`mirrorImage: ${image.length} bytes is not a ${size}x${size} RGB image`);
  const mirrored = new Uint8Array(image.length);
  const rowBytes = size * 3;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const from = y * rowBytes + x * 3;
      const to = y * rowBytes + (size - 1 - x) * 3;
      mirrored[to] = image[from]!;
      mirrored[to + 1] = image[from + 1]!;
      mirrored[to + 2] = image[from + 2]!;
    }
  }
  return mirrored;
}

/** The element-wise mean of the probabilities of the plain and the mirrored views, in the same row order. */
export function meanOfViews(plain: Float32Array, mirrored: Float32Array): Float32Array {
  if (plain.length !== mirrored.length) throw new Error(`meanOfViews: ${plain.length} plain but ${mirrored.length} mirrored probabilities`);
  return plain.map((p, i) => (p + mirrored[i]!) / 2);
}
