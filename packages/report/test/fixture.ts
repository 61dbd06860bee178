/** A synthetic run for the report tests: 5 classes (or the given ones), 20 test images written to disk, 14 of them classified correctly. */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { metricsJson } from '@flowers/core/contracts';
import type { RunReportData } from '../src/types.ts';

export const CLASSES = ['daisy', 'dandelion', 'rose', 'sunflower', 'tulip'];
export const TEST_CORRECT = 14;
export const TEST_N = 20;
/** A file name that needs escaping in HTML. */
export const AWKWARD_NAME = 'tulip <b>&"ü\'.jpg';

const COLOURS: Array<[number, number, number]> = [[240, 240, 235], [235, 200, 40], [200, 40, 70], [250, 180, 20], [220, 90, 160]];

export async function writeSyntheticRun(dir: string, classes: string[] = CLASSES): Promise<RunReportData> {
  const yTrue = Array.from({ length: TEST_N }, (_, i) => i % classes.length);
  // Samples 0..5 are wrong (predicted the next class), the 14 others right; confidence varies per sample.
  const yPred = yTrue.map((t, i) => (i < TEST_N - TEST_CORRECT ? (t + 1) % classes.length : t));
  const probabilities = yPred.map((p, i) => {
    const top = 0.5 + 0.02 * i;
    return classes.map((_, c) => (c === p ? top : (1 - top) / (classes.length - 1)));
  });
  const paths = await Promise.all(yTrue.map(async (t, i) => {
    const name = i === 0 ? AWKWARD_NAME : `test-${i}.jpg`;
    const file = path.join(dir, name);
    const [r, g, b] = COLOURS[t % COLOURS.length]!;
    await sharp({ create: { width: 120, height: 90, channels: 3, background: { r, g, b } } }).jpeg().toFile(file);
    return file;
  }));
  paths[1] = path.join(dir, 'missing.jpg'); // never written: the gallery must show a placeholder
  fs.writeFileSync(paths[2]!, 'not a jpeg'); // unreadable image: placeholder too
  const augmentPreviewPng = await sharp({ create: { width: 300, height: 100, channels: 3, background: { r: 120, g: 160, b: 90 } } }).png().toBuffer();
  const history = Array.from({ length: 8 }, (_, e) => ({
    epoch: e + 1, loss: 1.6 - 0.15 * e, accuracy: 0.35 + 0.07 * e, val_loss: 1.5 - 0.12 * e + (e > 5 ? 0.1 : 0), val_accuracy: 0.3 + 0.06 * e - (e > 5 ? 0.03 : 0), lr: 0.001, seconds: 12.5 + e,
  }));
  return {
    run: 'run-2024-01-01-abc123',
    experiment: 'small-cnn <aug> & friends',
    createdAt: '2024-01-01T12:00:00.000Z',
    classes,
    splitCounts: classes.flatMap((label, c) => (['train', 'validation', 'test'] as const).map((split, s) => ({ split, label, count: [500, 120, 4][s]! + 10 * c }))),
    ingest: { skipped: [{ path: '/data/rose/broken <1>.jpg', reason: 'not a decodable image' }], duplicates: [{ kept: '/data/daisy/a.jpg', dropped: ['/data/daisy/a copy.jpg', '/data/tulip/a.jpg'] }] },
    augmentPreviewPng,
    history,
    bestEpoch: 6,
    metrics: metricsJson(yTrue, probabilities, classes),
    test: { yTrue, probabilities, paths },
    stages: [
      { stage: 'ingest', key: 'k-ingest-1', params: { root: '/data', split: [0.7, 0.15, 0.15], seed: 42 }, timings: { scan: 1.234 }, outputs: [{ file: 'index.arrow', bytes: 12345, sha256: 'ab'.repeat(32) }] },
      { stage: 'train', key: 'k-train-9', params: { model: 'small-cnn', epochs: 8, note: '<script>alert(1)</script>' }, backend: 'wasm', versions: { '@tensorflow/tfjs': '4.22.0', node: 'v20' }, timings: { fit: 100.5 }, inputs: { features: 'k-features-3' } },
    ],
  };
}
