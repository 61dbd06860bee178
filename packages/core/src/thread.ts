/**
 * What pool threads take from core: the helpers that load neither Apache Arrow nor TensorFlow.js,
 * which would add about 0.35 s and 0.9 s to every thread's start.
 */
export { errorMessage } from './errors.ts';
export { createRandom, type Random } from './random.ts';
export { sha256Hex } from './hash.ts';
