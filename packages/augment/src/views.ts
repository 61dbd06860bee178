/** A plain image plus its seeded augmented views, in one buffer. */
import { createRandom } from '@flowers/core/thread';
import { sampleViewTransform, viewMatrix } from './affine.ts';
import type { AugmentParams } from './keras_params.ts';
import { warpBilinear } from './warp.ts';

/**
 * Returns (1 + count) size x size x 3 images back to back: the plain image, then view v drawn
 * from createRandom(seed, sha256, v) and warped from the plain image. Keying the stream on the
 * image's content hash makes every view independent of worker count, order and file name.
 */
export function augmentViews(
  plain: Uint8Array,
  size: number,
  count: number,
  params: AugmentParams,
  seed: number | string,
  sha256: string,
): Uint8Array {
  const imageBytes = size * size * 3;
  const out = new Uint8Array(imageBytes * (1 + count));
  out.set(plain, 0);
  for (let v = 0; v < count; v++) {
    const transform = sampleViewTransform(params, createRandom(seed, sha256, v), size, size);
    const target = out.subarray((1 + v) * imageBytes, (2 + v) * imageBytes);
    warpBilinear(plain, size, size, 3, viewMatrix(transform, size, size), params.fill_mode, params.cval, target);
  }
  return out;
}
