import { describe, it, expect } from 'vitest';
import { viewMatrix, type ViewTransform } from '../src/affine.ts';
import { warpBilinear } from '../src/warp.ts';

const N = 24;
const NONE: ViewTransform = { theta: 0, tx: 0, ty: 0, shear: 0, zx: 1, zy: 1, flip_horizontal: false, flip_vertical: false };

/** An asymmetric RGB test card: every pixel and channel differs from its mirror images. */
function pattern(n: number): Uint8Array {
  const img = new Uint8Array(n * n * 3);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const o = (r * n + c) * 3;
      img[o] = (r * 7 + c * 3) % 256;
      img[o + 1] = (r * r + 5 * c) % 256;
      img[o + 2] = r < n / 3 && c < n / 2 ? 250 : 10;
    }
  }
  return img;
}

/** Expected image built by index arithmetic: out(r, c) = src(at(r, c)), or `fill` when at() is null. */
function remap(src: Uint8Array, n: number, at: (r: number, c: number) => [number, number] | null, fill = 0): Uint8Array {
  const out = new Uint8Array(n * n * 3);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const p = at(r, c);
      for (let k = 0; k < 3; k++) out[(r * n + c) * 3 + k] = p ? src[(p[0] * n + p[1]) * 3 + k]! : fill;
    }
  }
  return out;
}

const warp = (src: Uint8Array, t: Partial<ViewTransform>, mode: 'nearest' | 'constant' | 'reflect' | 'wrap' = 'nearest', cval = 0) =>
  warpBilinear(src, N, N, 3, viewMatrix({ ...NONE, ...t }, N, N), mode, cval);

describe('warpBilinear with Keras view matrices', () => {
  it('leaves the image unchanged without a transform', () => {
    const src = pattern(N);
    expect(warp(src, {})).toEqual(src);
  });

  it('mirrors columns pixel-exactly for a horizontal flip, rows for a vertical flip', () => {
    const src = pattern(N);
    expect(warp(src, { flip_horizontal: true })).toEqual(remap(src, N, (r, c) => [r, N - 1 - c]));
    expect(warp(src, { flip_vertical: true })).toEqual(remap(src, N, (r, c) => [N - 1 - r, c]));
  });

  it('rotates by 90 degrees as Keras does: out(r, c) = in(N-1-c, r)', () => {
    // Keras samples in = R·(out - centre) + centre with R = [[cos, -sin], [sin, cos]] on (row, col).
    const src = pattern(N);
    expect(warp(src, { theta: 90 })).toEqual(remap(src, N, (r, c) => [N - 1 - c, r]));
    expect(warp(src, { theta: -90 })).toEqual(remap(src, N, (r, c) => [c, N - 1 - r]));
  });

  it('moves a single bright dot by the shift: tx rows (height), ty columns (width)', () => {
    const src = new Uint8Array(N * N * 3);
    src.fill(200, (10 * N + 12) * 3, (10 * N + 12) * 3 + 3);
    const out = warp(src, { tx: 4, ty: -3 }, 'constant');
    // Keras samples in(row + tx, col + ty), so the dot appears at (10 - 4, 12 + 3).
    const lit = [...out.keys()].filter((i) => out[i] !== 0).map((i) => Math.floor(i / 3));
    expect(lit).toEqual([(6 * N + 15), (6 * N + 15), (6 * N + 15)]);
  });

  it('interpolates bilinearly and rounds half up on a half-pixel shift', () => {
    const src = new Uint8Array(N * N * 3);
    for (let r = 0; r < N; r++) src.fill(r % 2 ? 21 : 10, r * N * 3, (r + 1) * N * 3);
    const out = warp(src, { tx: 0.5 }, 'nearest');
    expect(out[0]).toBe(16); // (10 + 21) / 2 = 15.5
    expect(out[N * 3]).toBe(16);
    expect(out[(N - 1) * N * 3]).toBe(src[(N - 1) * N * 3]); // last row clamps onto itself
  });

  it("fills with repeated edge pixels in 'nearest' and with cval in 'constant'", () => {
    const src = pattern(N);
    expect(warp(src, { tx: 5 }, 'nearest')).toEqual(remap(src, N, (r, c) => [Math.min(r + 5, N - 1), c]));
    expect(warp(src, { ty: -5 }, 'nearest')).toEqual(remap(src, N, (r, c) => [r, Math.max(c - 5, 0)]));
    expect(warp(src, { tx: 5 }, 'constant', 77)).toEqual(remap(src, N, (r, c) => (r + 5 <= N - 1 ? [r + 5, c] : null), 77));
  });

  it("mirrors half-sample symmetrically in 'reflect' (dcba|abcd|dcba)", () => {
    const src = pattern(N);
    const reflect = (i: number) => (i < 0 ? -i - 1 : i > N - 1 ? 2 * N - i - 1 : i);
    expect(warp(src, { tx: 5 }, 'reflect')).toEqual(remap(src, N, (r, c) => [reflect(r + 5), c]));
    expect(warp(src, { ty: -4 }, 'reflect')).toEqual(remap(src, N, (r, c) => [r, reflect(c - 4)]));
  });

  it("wraps as scipy's 'wrap' does (period N-1, first and last samples overlapping)", () => {
    // This is what Keras gets from scipy.ndimage.affine_transform(mode='wrap').
    const src = pattern(N);
    const wrap = (i: number) => (i < 0 ? i + (N - 1) : i > N - 1 ? i - (N - 1) : i);
    expect(warp(src, { tx: 5 }, 'wrap')).toEqual(remap(src, N, (r, c) => [wrap(r + 5), c]));
    expect(warp(src, { ty: -4 }, 'wrap')).toEqual(remap(src, N, (r, c) => [r, wrap(c - 4)]));
  });

  it('samples 0.3 pixel outside the top edge as scipy order=1 does in each mode', () => {
    // Rows hold 10, 110, 20, 30, ...; output row 0 samples input row -0.3.
    const src = new Uint8Array(N * N * 3);
    for (let r = 0; r < N; r++) src.fill(r === 0 ? 10 : r === 1 ? 110 : (r * 10) % 256, r * N * 3, (r + 1) * N * 3);
    const top = (mode: 'nearest' | 'constant' | 'reflect' | 'wrap') => warp(src, { tx: -0.3 }, mode, 5)[0];
    expect(top('nearest')).toBe(10); // clamped to row 0
    expect(top('constant')).toBe(5); // any coordinate outside [0, N-1] takes cval
    // reflect folds -0.3 to -0.7, whose taps are row -1 (mirrored to row 1) and row 0: 0.7*110 + 0.3*10.
    expect(top('reflect')).toBe(80);
    // wrap folds -0.3 to N-1.3 (period N-1): 0.3*row(N-2) + 0.7*row(N-1).
    expect(top('wrap')).toBe(Math.round(0.3 * (((N - 2) * 10) % 256) + 0.7 * (((N - 1) * 10) % 256)));
  });

  it('fills rotated-in corners with cval in constant mode and keeps the centre', () => {
    const src = new Uint8Array(N * N * 3).fill(90);
    const out = warp(src, { theta: 45 }, 'constant', 7);
    expect([out[0], out[(N * N - 1) * 3]]).toEqual([7, 7]);
    expect(out[((N / 2) * N + N / 2) * 3]).toBe(90);
    expect(warp(src, { theta: 45 }, 'nearest').every((v) => v === 90)).toBe(true);
  });

  it('applies flips after the warp, as Keras flips the warped array', () => {
    const src = pattern(N);
    const rotated = warp(src, { theta: 30, zx: 1.1 });
    const flipped = remap(rotated, N, (r, c) => [N - 1 - r, N - 1 - c]);
    expect(warp(src, { theta: 30, zx: 1.1, flip_horizontal: true, flip_vertical: true })).toEqual(flipped);
  });

  it('writes into a given output buffer and rejects mis-sized buffers', () => {
    const src = pattern(N);
    const out = new Uint8Array(N * N * 3);
    expect(warpBilinear(src, N, N, 3, viewMatrix(NONE, N, N), 'nearest', 0, out)).toBe(out);
    expect(out).toEqual(src);
    expect(() => warpBilinear(src, N, N + 1, 3, viewMatrix(NONE, N, N), 'nearest', 0)).toThrow(/24x25x3/);
  });
});
