/**
 * The geometric parameters of Keras' `ImageDataGenerator`, with Keras' names and meaning, so an
 * experiment written for Keras reads the same here.
 */

/** How points that fall outside the input are filled (scipy.ndimage boundary modes, as Keras uses them). */
export type FillMode = 'nearest' | 'constant' | 'reflect' | 'wrap';

export const FILL_MODES: readonly FillMode[] = ['nearest', 'constant', 'reflect', 'wrap'];

export interface AugmentParams {
  /** Degrees; the angle is drawn uniformly from [-rotation_range, rotation_range]. */
  readonly rotation_range: number;
  /** Below 1: fraction of the width; 1 or more: pixels (Keras' float behaviour). Drawn from [-v, v]. */
  readonly width_shift_range: number;
  /** Below 1: fraction of the height; 1 or more: pixels. Drawn from [-v, v]. */
  readonly height_shift_range: number;
  /**
   * Shear angle in DEGREES, drawn from [-v, v], exactly as Keras' ImageDataGenerator passes it to
   * apply_affine_transform (so Keras' classic `shear_range=0.2` is a 0.2-degree shear).
   */
  readonly shear_range: number;
  /** z means zoom in [1-z, 1+z]; a [lo, hi] pair is used as given. Row and column zoom are drawn independently. */
  readonly zoom_range: number | readonly [number, number];
  readonly horizontal_flip: boolean;
  readonly vertical_flip: boolean;
  readonly fill_mode: FillMode;
  /** Fill value for fill_mode 'constant', 0..255. */
  readonly cval: number;
}

/** No augmentation: every view equals the plain resized image. */
export const DEFAULT_AUGMENT_PARAMS: AugmentParams = Object.freeze({
  rotation_range: 0,
  width_shift_range: 0,
  height_shift_range: 0,
  shear_range: 0,
  zoom_range: 0,
  horizontal_flip: false,
  vertical_flip: false,
  fill_mode: 'nearest',
  cval: 0,
});

/** The "CNN basics" experiment's generator: Keras' classic flower/cats-vs-dogs augmentation. */
export const EXPERIMENT_AUGMENTATION: AugmentParams = Object.freeze({
  ...DEFAULT_AUGMENT_PARAMS,
  rotation_range: 40,
  width_shift_range: 0.2,
  height_shift_range: 0.2,
  shear_range: 0.2,
  zoom_range: 0.2,
  horizontal_flip: true,
  fill_mode: 'nearest',
});

export const AUGMENT_PRESETS: Readonly<Record<'none' | 'experiment', AugmentParams>> = Object.freeze({
  none: DEFAULT_AUGMENT_PARAMS,
  experiment: EXPERIMENT_AUGMENTATION,
});

/** Smallest image side the augment stage accepts. */
export const MIN_IMAGE_SIZE = 32;

/** [lo, hi] zoom factors, as Keras normalises `zoom_range`. */
export function zoomBounds(zoomRange: AugmentParams['zoom_range']): [number, number] {
  return typeof zoomRange === 'number' ? [1 - zoomRange, 1 + zoomRange] : [zoomRange[0], zoomRange[1]];
}

function fail(name: string, value: unknown, rule: string): never {
  throw new Error(`augment parameter ${name}=${JSON.stringify(value)} is invalid: ${rule}`);
}

function checkNonNegative(name: keyof AugmentParams, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    fail(name, value, 'must be a finite number >= 0');
  }
}

/** Throws one line naming the offending parameter (or the image size) when anything is out of range. */
export function validateAugmentParams(p: AugmentParams, size: number): void {
  if (!Number.isInteger(size) || size < MIN_IMAGE_SIZE) {
    throw new Error(`augment image size ${size} is invalid: must be an integer >= ${MIN_IMAGE_SIZE} pixels`);
  }
  checkNonNegative('rotation_range', p.rotation_range);
  checkNonNegative('width_shift_range', p.width_shift_range);
  checkNonNegative('height_shift_range', p.height_shift_range);
  checkNonNegative('shear_range', p.shear_range);
  const zoom = p.zoom_range;
  if (typeof zoom === 'number') {
    if (!Number.isFinite(zoom) || zoom < 0 || zoom >= 1) fail('zoom_range', zoom, 'a single value must be in [0, 1)');
  } else if (
    !Array.isArray(zoom) ||
    zoom.length !== 2 ||
    !zoom.every((z) => typeof z === 'number' && Number.isFinite(z)) ||
    zoom[0] <= 0 ||
    zoom[0] > zoom[1]
  ) {
    fail('zoom_range', zoom, 'a pair must be [lo, hi] with 0 < lo <= hi');
  }
  if (typeof p.horizontal_flip !== 'boolean') fail('horizontal_flip', p.horizontal_flip, 'must be true or false');
  if (typeof p.vertical_flip !== 'boolean') fail('vertical_flip', p.vertical_flip, 'must be true or false');
  if (!FILL_MODES.includes(p.fill_mode)) fail('fill_mode', p.fill_mode, `must be one of ${FILL_MODES.join(', ')}`);
  if (typeof p.cval !== 'number' || !(p.cval >= 0 && p.cval <= 255)) fail('cval', p.cval, 'must be in 0..255');
}
