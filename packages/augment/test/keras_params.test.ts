import { describe, it, expect } from 'vitest';
import {
  AUGMENT_PRESETS,
  DEFAULT_AUGMENT_PARAMS,
  EXPERIMENT_AUGMENTATION,
  validateAugmentParams,
  zoomBounds,
  type AugmentParams,
} from '../src/keras_params.ts';

describe('augment parameters', () => {
  it('names the presets and matches the experiment generator', () => {
    expect(AUGMENT_PRESETS.none).toBe(DEFAULT_AUGMENT_PARAMS);
    expect(AUGMENT_PRESETS.experiment).toEqual({
      rotation_range: 40,
      width_shift_range: 0.2,
      height_shift_range: 0.2,
      shear_range: 0.2,
      zoom_range: 0.2,
      horizontal_flip: true,
      vertical_flip: false,
      fill_mode: 'nearest',
      cval: 0,
    });
    expect(() => validateAugmentParams(EXPERIMENT_AUGMENTATION, 150)).not.toThrow();
    expect(() => validateAugmentParams(DEFAULT_AUGMENT_PARAMS, 32)).not.toThrow();
  });

  it('turns a zoom value z into [1-z, 1+z] and keeps a pair', () => {
    expect(zoomBounds(0.25)).toEqual([0.75, 1.25]);
    expect(zoomBounds([0.5, 1])).toEqual([0.5, 1]);
  });

  const bad: Array<[string, Partial<Record<keyof AugmentParams, unknown>>]> = [
    ['rotation_range', { rotation_range: -1 }],
    ['rotation_range', { rotation_range: Number.NaN }],
    ['width_shift_range', { width_shift_range: -0.1 }],
    ['height_shift_range', { height_shift_range: -2 }],
    ['shear_range', { shear_range: -0.2 }],
    ['zoom_range', { zoom_range: 1 }],
    ['zoom_range', { zoom_range: -0.1 }],
    ['zoom_range', { zoom_range: [1.2, 0.8] }],
    ['zoom_range', { zoom_range: [0, 1] }],
    ['horizontal_flip', { horizontal_flip: 'yes' }],
    ['vertical_flip', { vertical_flip: 1 }],
    ['fill_mode', { fill_mode: 'mirror' }],
    ['cval', { cval: 256 }],
    ['cval', { cval: -1 }],
  ];
  for (const [name, change] of bad) {
    it(`rejects ${name}=${JSON.stringify(Object.values(change)[0])} naming the parameter in one line`, () => {
      const params = { ...EXPERIMENT_AUGMENTATION, ...change } as AugmentParams;
      expect(() => validateAugmentParams(params, 150)).toThrow(new RegExp(`^augment parameter ${name}=[^\\n]*$`));
    });
  }

  it('rejects image sizes below 32 pixels or fractional', () => {
    expect(() => validateAugmentParams(EXPERIMENT_AUGMENTATION, 31)).toThrow(/augment image size 31 .*>= 32 pixels/);
    expect(() => validateAugmentParams(EXPERIMENT_AUGMENTATION, 64.5)).toThrow(/augment image size 64.5/);
  });
});
