/**
 * Piscina worker: one image file -> its plain resized pixels plus, for training images, its
 * augmented views. Bad files are answered, never thrown, so one broken photo cannot stop a run.
 */
import { readFile } from 'node:fs/promises';
import { move } from 'piscina';
import sharp from 'sharp';
import { errorMessage, sha256Hex } from '@flowers/core/thread';
import { decodeResized } from './decode.ts';
import type { AugmentFailure, AugmentTask } from './types.ts';
import { augmentViews } from './views.ts';

// One libvips thread per decode: N workers, each decoding one image while warping another,
// then keep about N cores busy without oversubscribing.
sharp.concurrency(1);
// Every image is decoded once, so libvips' operation cache only costs memory and time.
sharp.cache(false);

/** Answers an AugmentFailure, or the pixel buffer marked for transfer (the parent receives an AugmentWireResult). */
export default async function augmentImage(task: AugmentTask): Promise<AugmentFailure | ReturnType<typeof move>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(task.path);
  } catch (error) {
    return { ok: false, reason: `cannot read ${task.path}: ${errorMessage(error)}` };
  }
  const actual = sha256Hex(bytes);
  if (actual !== task.sha256) {
    return { ok: false, reason: `${task.path} changed since ingest: sha256 ${actual} != expected ${task.sha256}` };
  }
  let plain: Uint8Array;
  try {
    plain = await decodeResized(bytes, task.size);
  } catch (error) {
    return { ok: false, reason: `cannot decode ${task.path}: ${errorMessage(error)}` };
  }
  const pixels = augmentViews(plain, task.size, task.isTraining ? task.views : 0, task.params, task.seed, task.sha256);
  // Transfer, not copy: the parent receives this very buffer.
  return move(pixels);
}
