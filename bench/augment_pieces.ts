/**
 * Augment stage pieces, timed in one thread with one libvips thread (what one pool worker gets):
 * decode+resize, one warp, and the whole per-image worker job (read, sha256 check, decode,
 * views). The worker hands its pixel buffer over by transfer, so there is no result copy to time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createRandom, sha256Hex } from '../packages/core/src/index.ts';
import { sampleViewTransform, viewMatrix } from '../packages/augment/src/affine.ts';
// Importing the worker module also sets sharp to one libvips thread, as in a pool worker.
import augmentImage from '../packages/augment/src/augment_worker.ts';
import { decodeResized } from '../packages/augment/src/decode.ts';
import { EXPERIMENT_AUGMENTATION } from '../packages/augment/src/keras_params.ts';
import { warpBilinear } from '../packages/augment/src/warp.ts';

const FLOWERS = '/work/shared/data/flowers';
const SIZE = 150;
const VIEWS = 5;

async function meanMs<T>(items: readonly T[], run: (item: T) => unknown): Promise<number> {
  const start = performance.now();
  for (const item of items) await run(item);
  return (performance.now() - start) / items.length;
}

export async function benchAugmentPieces(photosPerClass = 12): Promise<Record<string, number>> {
  const files = readdirSync(FLOWERS, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) =>
      readdirSync(path.join(FLOWERS, d.name)).filter((f) => f.endsWith('.jpg')).sort().slice(0, photosPerClass).map((f) => path.join(FLOWERS, d.name, f)),
    );
  const bytes = files.map((f) => readFileSync(f));
  await decodeResized(bytes[0]!, SIZE); // warm-up: the first call loads libvips codecs

  const decodeMs = await meanMs(bytes, (b) => decodeResized(b, SIZE));
  const plain = await decodeResized(bytes[0]!, SIZE);
  const matrices = Array.from({ length: 300 }, (_, i) =>
    viewMatrix(sampleViewTransform(EXPERIMENT_AUGMENTATION, createRandom(1, i), SIZE, SIZE), SIZE, SIZE),
  );
  const out = new Uint8Array(plain.length);
  const warpMs = await meanMs(matrices, (m) => warpBilinear(plain, SIZE, SIZE, 3, m, 'nearest', 0, out));
  const tasks = files.map((file, i) => ({
    path: file,
    sha256: sha256Hex(bytes[i]!),
    size: SIZE,
    views: VIEWS,
    params: EXPERIMENT_AUGMENTATION,
    seed: 1,
    isTraining: true,
  }));
  const jobMs = await meanMs(tasks, augmentImage);

  return {
    image_size: SIZE,
    views_per_image: VIEWS,
    photos: files.length,
    decode_resize_ms: decodeMs,
    warp_ms: warpMs,
    image_job_ms: jobMs,
    images_per_s_per_core: 1000 / jobMs,
    augmented_views_per_s_per_core: (1000 * VIEWS) / jobMs,
  };
}
