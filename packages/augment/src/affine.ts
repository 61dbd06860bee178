/**
 * Keras' random view transform: the draw (ImageDataGenerator.get_random_transform) and the one
 * inverse-mapping matrix it amounts to (apply_affine_transform + flip_axis).
 */
import type { Random } from '@flowers/core';
import { zoomBounds, type AugmentParams } from './keras_params.ts';

/** One view's parameters, with Keras' names: tx moves rows (height), ty moves columns (width). */
export interface ViewTransform {
  /** Rotation, degrees. */
  theta: number;
  /** Row shift in pixels (from height_shift_range). */
  tx: number;
  /** Column shift in pixels (from width_shift_range). */
  ty: number;
  /** Shear angle, degrees. */
  shear: number;
  /** Row zoom factor. */
  zx: number;
  /** Column zoom factor. */
  zy: number;
  flip_horizontal: boolean;
  flip_vertical: boolean;
}

/** Row-major 3x3 matrix; output pixel (row, col) samples the input at M·(row, col, 1). */
export type Matrix3 = Float64Array;

/** Keras draws a shift below 1 as a fraction of the side, otherwise as pixels. */
function drawShift(range: number, side: number, random: Random): number {
  if (!range) return 0;
  const shift = random.uniform(-range, range);
  return range < 1 ? shift * side : shift;
}

/**
 * Draws a view's parameters in Keras' order and with Keras' distributions (the stream is ours,
 * so values differ from numpy's, not their law). Like Keras, the flip coins are tossed even when
 * flips are off, so enabling one option never reshuffles the others' draws.
 */
export function sampleViewTransform(
  params: AugmentParams,
  random: Random,
  height: number,
  width: number,
): ViewTransform {
  const theta = params.rotation_range ? random.uniform(-params.rotation_range, params.rotation_range) : 0;
  const tx = drawShift(params.height_shift_range, height, random);
  const ty = drawShift(params.width_shift_range, width, random);
  const shear = params.shear_range ? random.uniform(-params.shear_range, params.shear_range) : 0;
  const [zoomLo, zoomHi] = zoomBounds(params.zoom_range);
  let zx = 1;
  let zy = 1;
  if (!(zoomLo === 1 && zoomHi === 1)) {
    zx = random.uniform(zoomLo, zoomHi);
    zy = random.uniform(zoomLo, zoomHi);
  }
  const flip_horizontal = random.next() < 0.5 && params.horizontal_flip;
  const flip_vertical = random.next() < 0.5 && params.vertical_flip;
  return { theta, tx, ty, shear, zx, zy, flip_horizontal, flip_vertical };
}

function multiply(a: Matrix3, b: Matrix3): Matrix3 {
  const out = new Float64Array(9);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      out[i * 3 + j] = a[i * 3]! * b[j]! + a[i * 3 + 1]! * b[3 + j]! + a[i * 3 + 2]! * b[6 + j]!;
    }
  }
  return out;
}

const matrix = (...entries: number[]): Matrix3 => Float64Array.from(entries);

/**
 * The single inverse-mapping matrix of a view, built as Keras' apply_affine_transform does:
 * rotation · shift · shear · zoom, re-centred on the image centre ((h-1)/2, (w-1)/2), each factor
 * only when non-trivial. Keras flips the warped array afterwards; flipping the output is the same
 * as sampling the warp at the mirrored output coordinate, so the flips are folded in as
 * M · F_h · F_v (equal to Keras up to float rounding of the composed entries).
 */
export function viewMatrix(t: ViewTransform, height: number, width: number): Matrix3 {
  let m = matrix(1, 0, 0, 0, 1, 0, 0, 0, 1);
  if (t.theta !== 0) {
    const theta = (t.theta * Math.PI) / 180;
    m = matrix(Math.cos(theta), -Math.sin(theta), 0, Math.sin(theta), Math.cos(theta), 0, 0, 0, 1);
  }
  if (t.tx !== 0 || t.ty !== 0) m = multiply(m, matrix(1, 0, t.tx, 0, 1, t.ty, 0, 0, 1));
  if (t.shear !== 0) {
    const shear = (t.shear * Math.PI) / 180;
    m = multiply(m, matrix(1, -Math.sin(shear), 0, 0, Math.cos(shear), 0, 0, 0, 1));
  }
  if (t.zx !== 1 || t.zy !== 1) m = multiply(m, matrix(t.zx, 0, 0, 0, t.zy, 0, 0, 0, 1));
  const oRow = height / 2 - 0.5;
  const oCol = width / 2 - 0.5;
  m = multiply(multiply(matrix(1, 0, oRow, 0, 1, oCol, 0, 0, 1), m), matrix(1, 0, -oRow, 0, 1, -oCol, 0, 0, 1));
  if (t.flip_horizontal) m = multiply(m, matrix(1, 0, 0, 0, -1, width - 1, 0, 0, 1));
  if (t.flip_vertical) m = multiply(m, matrix(-1, 0, height - 1, 0, 1, 0, 0, 0, 1));
  return m;
}
