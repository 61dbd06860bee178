/**
 * One-pass bilinear affine warp of an interleaved uint8 image, reproducing
 * scipy.ndimage.affine_transform(order=1) as Keras calls it per channel, boundary modes included.
 */
import type { FillMode } from './keras_params.ts';
import type { Matrix3 } from './affine.ts';

const NEAREST = 0;
const CONSTANT = 1;
const REFLECT = 2;
const WRAP = 3;
const MODE_CODES: Record<FillMode, number> = { nearest: NEAREST, constant: CONSTANT, reflect: REFLECT, wrap: WRAP };

// Result of axisTaps: the two input indices along one axis and the weight of the second one.
// Module-level scratch so the per-pixel edge path allocates nothing.
let tapLo = 0;
let tapHi = 0;
let tapFrac = 0;

/**
 * Folds an out-of-range coordinate back as scipy's map_coordinate does (constant: outside;
 * nearest: clamp; reflect: half-sample symmetric, period 2*len; wrap: scipy's 'wrap', whose period
 * is len-1, first and last samples overlapping). Then, like scipy, a tap that still falls one
 * step outside is mirrored about the edge sample. Returns false when the constant applies.
 */
function axisTaps(coord: number, len: number, mode: number): boolean {
  let c = coord;
  if (c < 0 || c > len - 1) {
    if (mode === CONSTANT) return false;
    if (len <= 1) c = 0;
    else if (mode === NEAREST) c = c < 0 ? 0 : len - 1;
    else if (mode === REFLECT) {
      const period = 2 * len;
      if (c < 0) {
        if (c < -period) c += period * Math.trunc(-c / period);
        c = c < -len ? c + period : -c - 1;
      } else {
        c -= period * Math.trunc(c / period);
        if (c >= len) c = period - c - 1;
      }
    } else {
      const period = len - 1;
      c = c < 0 ? c + period * (Math.trunc(-c / period) + 1) : c - period * Math.trunc(c / period);
    }
  }
  const lo = Math.floor(c);
  tapFrac = c - lo;
  tapLo = lo < 0 ? (len > 1 ? 1 : 0) : lo;
  tapHi = lo + 1 >= len ? Math.max(len - 2, 0) : lo + 1;
  return true;
}

/** Rounds half up. Values stay within 0..255 up to float error, but a Uint8Array store would wrap, not clamp. */
function toByte(v: number): number {
  return v <= 0 ? 0 : v >= 254.5 ? 255 : (v + 0.5) | 0;
}

/**
 * out(row, col) = bilinear sample of src at M·(row, col, 1), per channel, rounded half up to uint8.
 * src and out are height*width*channels, row-major, channels interleaved; out is allocated when
 * not given and must not alias src.
 */
export function warpBilinear(
  src: Uint8Array,
  height: number,
  width: number,
  channels: number,
  m: Matrix3,
  fillMode: FillMode,
  cval: number,
  out: Uint8Array = new Uint8Array(height * width * channels),
): Uint8Array {
  const pixelCount = height * width;
  if (src.length !== pixelCount * channels || out.length !== pixelCount * channels) {
    throw new Error(`warpBilinear: buffers must hold ${height}x${width}x${channels} bytes`);
  }
  const mode = MODE_CODES[fillMode];
  const m00 = m[0]!, m01 = m[1]!, m02 = m[2]!, m10 = m[3]!, m11 = m[4]!, m12 = m[5]!;
  const rowStride = width * channels;
  const fill = Math.min(255, Math.max(0, Math.round(cval)));
  const lastRow = height - 1;
  const lastCol = width - 1;
  let o = 0;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++, o += channels) {
      const y = r * m00 + c * m01 + m02;
      const x = r * m10 + c * m11 + m12;
      let i00: number, i01: number, i10: number, i11: number, fy: number, fx: number;
      if (y >= 0 && y < lastRow && x >= 0 && x < lastCol) {
        // Interior: all four taps exist.
        const y0 = y | 0; // truncation is floor for y >= 0
        const x0 = x | 0;
        fy = y - y0;
        fx = x - x0;
        i00 = y0 * rowStride + x0 * channels;
        i01 = i00 + channels;
        i10 = i00 + rowStride;
        i11 = i10 + channels;
      } else {
        if (!axisTaps(y, height, mode)) {
          out.fill(fill, o, o + channels);
          continue;
        }
        const yLo = tapLo, yHi = tapHi;
        fy = tapFrac;
        if (!axisTaps(x, width, mode)) {
          out.fill(fill, o, o + channels);
          continue;
        }
        fx = tapFrac;
        i00 = yLo * rowStride + tapLo * channels;
        i01 = yLo * rowStride + tapHi * channels;
        i10 = yHi * rowStride + tapLo * channels;
        i11 = yHi * rowStride + tapHi * channels;
      }
      const w00 = (1 - fy) * (1 - fx), w01 = (1 - fy) * fx, w10 = fy * (1 - fx), w11 = fy * fx;
      if (channels === 3) {
        // Unrolled for RGB, the only case on the hot path.
        out[o] = toByte(src[i00]! * w00 + src[i01]! * w01 + src[i10]! * w10 + src[i11]! * w11);
        out[o + 1] = toByte(src[i00 + 1]! * w00 + src[i01 + 1]! * w01 + src[i10 + 1]! * w10 + src[i11 + 1]! * w11);
        out[o + 2] = toByte(src[i00 + 2]! * w00 + src[i01 + 2]! * w01 + src[i10 + 2]! * w10 + src[i11 + 2]! * w11);
      } else {
        for (let k = 0; k < channels; k++) {
          out[o + k] = toByte(src[i00 + k]! * w00 + src[i01 + k]! * w01 + src[i10 + k]! * w10 + src[i11 + k]! * w11);
        }
      }
    }
  }
  return out;
}
