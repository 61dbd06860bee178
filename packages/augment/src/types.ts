/** What the augment worker is asked and what it answers. */
import type { AugmentParams } from './keras_params.ts';

export interface AugmentTask {
  /** Image file to read. */
  path: string;
  /** Expected sha256 (hex) of the file's bytes, as ingest recorded it. */
  sha256: string;
  /** Output side in pixels: every image comes back size x size x 3. */
  size: number;
  /** Augmented views per training image (ignored when isTraining is false). */
  views: number;
  params: AugmentParams;
  /** Run seed; view v of an image draws from createRandom(seed, sha256, v). */
  seed: number | string;
  /** Only training images get augmented views. */
  isTraining: boolean;
}

/**
 * What crosses the thread boundary: on success, one transferred buffer holding the plain image
 * followed by the views, each size*size*3 bytes (no copy on either side); on failure, the reason.
 */
export type AugmentWireResult = Uint8Array | AugmentFailure;

export interface AugmentFailure {
  ok: false;
  /** One line naming the file and what is wrong with it. */
  reason: string;
}

export interface AugmentSuccess {
  ok: true;
  /** The resized, unaugmented image (size*size*3 bytes, RGB interleaved). */
  plain: Uint8Array;
  /** The augmented views, in view order; empty for non-training images. */
  views: Uint8Array[];
}

export type AugmentResult = AugmentSuccess | AugmentFailure;
