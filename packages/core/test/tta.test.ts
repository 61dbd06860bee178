import { describe, expect, it } from 'vitest';
import { meanOfViews, mirrorImage } from '../src/index.ts';

describe('mirrorImage', () => {
  it('flips each row of an RGB image left to right, keeping the channels of a pixel together', () => {
    // 2x2: row 0 is red, green; row 1 is blue, white.
    const image = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
    expect(Array.from(mirrorImage(image, 2))).toEqual([0, 255, 0, 255, 0, 0, 255, 255, 255, 0, 0, 255]);
    expect(Array.from(mirrorImage(mirrorImage(image, 2), 2))).toEqual(Array.from(image));
  });

  it('refuses bytes that are not a size x size RGB image', () => {
    expect(() => mirrorImage(new Uint8Array(11), 2)).toThrow('mirrorImage: 11 bytes is not a 2x2 RGB image');
  });
});

describe('meanOfViews', () => {
  it('averages the plain and mirrored probabilities element by element', () => {
    expect(Array.from(meanOfViews(Float32Array.from([0.5, 0.25, 0.25]), Float32Array.from([0.25, 0.5, 0.25])))).toEqual([0.375, 0.375, 0.25]);
  });
});
