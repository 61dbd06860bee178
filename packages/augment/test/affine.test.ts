import { describe, it, expect } from 'vitest';
import { createRandom } from '@flowers/core';
import { sampleViewTransform, viewMatrix, type ViewTransform } from '../src/affine.ts';
import { DEFAULT_AUGMENT_PARAMS, EXPERIMENT_AUGMENTATION } from '../src/keras_params.ts';

const NONE: ViewTransform = { theta: 0, tx: 0, ty: 0, shear: 0, zx: 1, zy: 1, flip_horizontal: false, flip_vertical: false };

describe('sampleViewTransform', () => {
  it('keeps the experiment draws inside their ranges over 10,000 views and covers them', () => {
    const size = 150;
    const draws = Array.from({ length: 10_000 }, (_, i) =>
      sampleViewTransform(EXPERIMENT_AUGMENTATION, createRandom(1, 'sha', i), size, size),
    );
    const range = (key: 'theta' | 'tx' | 'ty' | 'shear' | 'zx' | 'zy') => {
      const values = draws.map((d) => d[key]);
      return [Math.min(...values), Math.max(...values)];
    };
    const [thetaLo, thetaHi] = range('theta');
    expect(thetaLo).toBeGreaterThanOrEqual(-40);
    expect(thetaHi).toBeLessThanOrEqual(40);
    expect(thetaHi - thetaLo).toBeGreaterThan(79); // the whole range is used
    for (const key of ['tx', 'ty'] as const) {
      const [lo, hi] = range(key);
      expect(lo).toBeGreaterThanOrEqual(-30); // 0.2 * 150 pixels
      expect(hi).toBeLessThanOrEqual(30);
      expect(hi - lo).toBeGreaterThan(59);
    }
    const [shearLo, shearHi] = range('shear');
    expect([shearLo >= -0.2, shearHi <= 0.2]).toEqual([true, true]);
    for (const key of ['zx', 'zy'] as const) {
      const [lo, hi] = range(key);
      expect(lo).toBeGreaterThanOrEqual(0.8);
      expect(hi).toBeLessThanOrEqual(1.2);
    }
    // Row and column zoom are drawn independently.
    expect(draws.filter((d) => d.zx !== d.zy).length).toBeGreaterThan(9_900);
    const flips = draws.filter((d) => d.flip_horizontal).length;
    expect(flips).toBeGreaterThan(4_700);
    expect(flips).toBeLessThan(5_300);
    expect(draws.some((d) => d.flip_vertical)).toBe(false);
  });

  it('scales fractional shifts by the side (tx by height, ty by width) and takes 1 or more as pixels', () => {
    const fractional = { ...DEFAULT_AUGMENT_PARAMS, height_shift_range: 0.5, width_shift_range: 0.5 };
    const pixels = { ...DEFAULT_AUGMENT_PARAMS, height_shift_range: 3, width_shift_range: 3 };
    const frac = Array.from({ length: 2_000 }, (_, i) => sampleViewTransform(fractional, createRandom(2, i), 100, 10));
    const px = Array.from({ length: 2_000 }, (_, i) => sampleViewTransform(pixels, createRandom(3, i), 100, 10));
    expect(Math.max(...frac.map((d) => Math.abs(d.tx)))).toBeGreaterThan(45);
    expect(Math.max(...frac.map((d) => Math.abs(d.tx)))).toBeLessThanOrEqual(50);
    expect(Math.max(...frac.map((d) => Math.abs(d.ty)))).toBeLessThanOrEqual(5);
    expect(Math.max(...px.map((d) => Math.abs(d.tx)))).toBeLessThanOrEqual(3);
    expect(Math.max(...px.map((d) => Math.abs(d.ty)))).toBeGreaterThan(2.9);
  });

  it('draws nothing for the default parameters and equal zooms for a [1, 1] range', () => {
    const random = createRandom(4);
    expect(sampleViewTransform(DEFAULT_AUGMENT_PARAMS, random, 150, 150)).toEqual(NONE);
    const t = sampleViewTransform({ ...EXPERIMENT_AUGMENTATION, zoom_range: [1, 1] }, createRandom(5), 150, 150);
    expect([t.zx, t.zy]).toEqual([1, 1]);
    const pair = sampleViewTransform({ ...DEFAULT_AUGMENT_PARAMS, zoom_range: [2, 3] }, createRandom(6), 150, 150);
    expect(pair.zx >= 2 && pair.zx <= 3 && pair.zy >= 2 && pair.zy <= 3).toBe(true);
  });

  it('is a pure function of the stream', () => {
    const a = sampleViewTransform(EXPERIMENT_AUGMENTATION, createRandom(7, 'x', 0), 150, 150);
    const b = sampleViewTransform(EXPERIMENT_AUGMENTATION, createRandom(7, 'x', 0), 150, 150);
    const c = sampleViewTransform(EXPERIMENT_AUGMENTATION, createRandom(7, 'x', 1), 150, 150);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});

describe('viewMatrix', () => {
  const o = 74.5; // Keras' centre for 150 pixels: 150 / 2 - 0.5
  const rows = (m: Float64Array) => [...m.slice(0, 6)].map((v) => Math.round(v * 1e9) / 1e9 + 0);

  it('is the identity without a transform', () => {
    expect([...viewMatrix(NONE, 150, 150)]).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });

  it('applies zoom first, then the shift, around the centre: in_row = 2 (row - o) + o + 3', () => {
    expect(rows(viewMatrix({ ...NONE, tx: 3, zx: 2 }, 150, 150))).toEqual([2, 0, 3 - o, 0, 1, 0]);
  });

  it('applies zoom before rotation: R · Z', () => {
    // theta 90: in = (-(c - o), 2 (r - o)) + o
    expect(rows(viewMatrix({ ...NONE, theta: 90, zx: 2 }, 150, 150))).toEqual([0, -1, 2 * o, 2, 0, -o]);
  });

  it('shears columns into rows by the angle in degrees', () => {
    const s = (30 * Math.PI) / 180;
    const m = viewMatrix({ ...NONE, shear: 30 }, 150, 150);
    expect(rows(m)).toEqual(rows(Float64Array.from([1, -Math.sin(s), o * Math.sin(s), 0, Math.cos(s), o - o * Math.cos(s)])));
  });
});
