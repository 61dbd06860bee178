import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRandom, memoryLogger } from '@flowers/core';
import { fileIOHandler, selectBackend, type SelectedBackend } from '@flowers/core/tf';
import { PIPELINE_MODEL_FILE } from '@flowers/train';
import { evaluateFolder, predictPaths } from '../src/evaluate.ts';
import { loadClassifier } from '../src/inference.ts';

const SIZE = 32;
const CLASSES = ['left', 'right'];

/** A seeded linear pixel classifier, saved as the train stage saves one. */
async function writeModel(dir: string): Promise<void> {
  const model = tf.sequential({
    layers: [tf.layers.flatten({ inputShape: [SIZE, SIZE, 3] }), tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.randomNormal({ seed: 7, stddev: 0.05 }) })],
  });
  await model.save(fileIOHandler(dir));
  model.dispose();
  writeFileSync(path.join(dir, PIPELINE_MODEL_FILE), JSON.stringify({ classes: CLASSES, inputSize: SIZE, input: 'pixels', rescale: 1 / 255, feature_shape: null }));
}

/** A noise PNG of the model's size (so decoding leaves its pixels as they are) and, made by sharp, its mirror image. */
async function writePhotoAndMirror(dir: string, name: string): Promise<{ photo: string; mirror: string }> {
  const random = createRandom('tta-photo', name);
  const raw = Buffer.from(Array.from({ length: SIZE * SIZE * 3 }, () => Math.floor(random.uniform(0, 256))));
  const photo = path.join(dir, `${name}.png`);
  const mirror = path.join(dir, `${name}-mirror.png`);
  await sharp(raw, { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toFile(photo);
  await sharp(raw, { raw: { width: SIZE, height: SIZE, channels: 3 } }).flop().png().toFile(mirror);
  return { photo, mirror };
}

const probabilitiesOf = (line: { top?: Array<[string, number]> }): Record<string, number> => Object.fromEntries(line.top!);

describe('test-time augmentation in predict and evaluate', () => {
  let dir: string;
  let backend: SelectedBackend;
  beforeAll(async () => {
    backend = await selectBackend('cpu');
    dir = mkdtempSync(path.join(os.tmpdir(), 'cli-tta-'));
    mkdirSync(path.join(dir, 'model'));
    await writeModel(path.join(dir, 'model'));
  });

  it('predict --tta gives the mean of the probabilities of the image and of its mirror image', async () => {
    const { photo, mirror } = await writePhotoAndMirror(dir, 'a');
    const classifier = await loadClassifier(path.join(dir, 'model'), backend, memoryLogger());
    try {
      const collect = async (paths: string[], tta: boolean) => {
        const lines = [];
        for await (const line of predictPaths(classifier, paths, { topK: 2, tta })) lines.push(line);
        return lines;
      };
      const [plain, mirrored] = (await collect([photo, mirror], false)).map(probabilitiesOf);
      const [withTta] = (await collect([photo], true)).map(probabilitiesOf);
      expect(plain!.left).not.toBeCloseTo(mirrored!.left!, 4);
      for (const label of CLASSES) expect(withTta![label]).toBeCloseTo((plain![label]! + mirrored![label]!) / 2, 5);
    } finally {
      classifier.dispose();
    }
  });

  it('evaluate --tta reports the figures with test-time augmentation beside the plain ones', async () => {
    const data = path.join(dir, 'data');
    const expected: boolean[] = [];
    const classifier = await loadClassifier(path.join(dir, 'model'), backend, memoryLogger());
    try {
      for (const [c, label] of CLASSES.entries()) {
        mkdirSync(path.join(data, label), { recursive: true });
        for (let i = 0; i < 6; i++) {
          const { photo, mirror } = await writePhotoAndMirror(path.join(data, label), `${i}`);
          const lines: Array<Record<string, number>> = [];
          for await (const line of predictPaths(classifier, [photo, mirror], { topK: 2 })) lines.push(probabilitiesOf(line));
          const mean = CLASSES.map((name) => (lines[0]![name]! + lines[1]![name]!) / 2);
          // Each photo and its mirror image are both in the folder: two labelled images.
          expected.push(mean.indexOf(Math.max(...mean)) === c, mean.indexOf(Math.max(...mean)) === c);
        }
      }
    } finally {
      classifier.dispose();
    }
    const { metrics } = await evaluateFolder(path.join(dir, 'model'), data, backend, memoryLogger(), { tta: true });
    expect(metrics.n).toBe(24);
    expect(metrics.tta!.accuracy).toBeCloseTo(expected.filter(Boolean).length / expected.length, 10);
    const plainOnly = await evaluateFolder(path.join(dir, 'model'), data, backend, memoryLogger());
    expect(plainOnly.metrics.accuracy).toBe(metrics.accuracy);
    expect(plainOnly.metrics.tta).toBeUndefined();
  });
});
