import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { memoryLogger } from '@flowers/core';
import { fileIOHandler, selectBackend } from '@flowers/core/tf';
import { ensureDemoDataset } from '@flowers/ingest';
import { PIPELINE_MODEL_FILE } from '@flowers/train';
import { evaluateFolder } from '../src/evaluate.ts';

/** An untrained pixel-input classifier over two classes: enough to run evaluate end to end. */
async function writeTinyModel(dir: string, classes: string[]): Promise<void> {
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [32, 32, 3] }), tf.layers.dense({ units: classes.length, activation: 'softmax' })] });
  await model.save(fileIOHandler(dir));
  model.dispose();
  writeFileSync(path.join(dir, PIPELINE_MODEL_FILE), JSON.stringify({ classes, inputSize: 32, input: 'pixels', rescale: 1 / 255, feature_shape: null }));
}

describe('evaluate on a folder with a name that is not UTF-8', () => {
  it('leaves the name out with a warning line and evaluates the rest', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cli-evaluate-names-'));
    const data = await ensureDemoDataset(path.join(dir, 'data'), 3);
    const modelDir = path.join(dir, 'model');
    mkdirSync(modelDir);
    await writeTinyModel(modelDir, ['daisy', 'dandelion', 'rose', 'sunflower', 'tulip']);
    // r\xf6se.png: a Latin-1 name.
    writeFileSync(Buffer.concat([Buffer.from(`${data}/rose/`), Buffer.from([0x72, 0xf6, 0x73, 0x65, 0x2e, 0x70, 0x6e, 0x67])]), 'whatever');

    const log = memoryLogger();
    const { metrics } = await evaluateFolder(modelDir, data, await selectBackend('cpu'), log);
    expect(metrics.n).toBe(15);
    expect(log.lines).toContain(`warning: skipped 1 file(s) or folder(s) in ${data}: rose/r\uFFFDse.png: name is not valid UTF-8 (bytes 72 f6 73 65 2e 70 6e 67): rename it`);
  });
});
