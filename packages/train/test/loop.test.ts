import { afterEach, describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { memoryLogger } from '@flowers/core';
import type { EpochRecord } from '@flowers/core/contracts';
import { ArrowBatchSource, buildClassifier, resolveTrainConfig, trainClassifier, type TrainConfig } from '../src/index.ts';
import { activationBytesPerRow } from '../src/micro_batches.ts';
import { tempDir, writeRowsFile, separableFeatures, writeSeparableSplits } from './fixtures.ts';

await tf.setBackend('cpu');

const files = await writeSeparableSplits(tempDir('loop-data'));

/** Dropout, AdamW, cosine with warm-up, label smoothing and class weights: every piece of state a resume must restore. */
function configWith(overrides: Record<string, unknown> = {}): TrainConfig {
  return resolveTrainConfig({
    input: 'features', head: 'gap_dense', dropout: 0.3, epochs: 4, batchSize: 16, optimizer: 'adamw', lr: 3e-3,
    weightDecay: 0.01, schedule: 'cosine', warmupEpochs: 1, labelSmoothing: 0.1, classWeights: true, seed: 5, ...overrides,
  });
}

/** Sources opened by a test, closed after it (each holds an open file). */
const openSources: ArrowBatchSource[] = [];
afterEach(async () => {
  for (const source of openSources.splice(0)) await source.close();
});

async function sources(config: TrainConfig, validationFile = files.validation) {
  const data = {
    train: await ArrowBatchSource.open(files.train, { role: 'train', batchSize: config.batchSize, seed: config.seed }),
    validation: await ArrowBatchSource.open(validationFile, { role: 'eval', batchSize: config.batchSize }),
  };
  openSources.push(data.train, data.validation);
  return data;
}

const weightValues = (model: tf.LayersModel): Float32Array[] => model.getWeights().map((w) => Float32Array.from(w.dataSync()));

describe('trainClassifier', () => {
  it('resumed after an interruption, ends with bit-identical weights to an uninterrupted run', async () => {
    const config = configWith({ patience: 3 });
    const data = await sources(config);
    const straight = buildClassifier(config, { inputShape: [6], numClasses: 3 });
    const log = memoryLogger();
    const full = await trainClassifier({ model: straight, ...data, config, checkpointDir: tempDir('ckpt-a'), resume: false, log });
    expect(full.history).toHaveLength(4);
    expect(log.lines[0]).toMatch(/^Epoch 1\/4 - [\d.]+s - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4} - lr: /);

    const checkpointDir = tempDir('ckpt-b');
    const controller = new AbortController();
    const first = buildClassifier(config, { inputShape: [6], numClasses: 3 });
    await expect(
      trainClassifier({
        model: first, ...data, config, checkpointDir, resume: false, log: memoryLogger(), signal: controller.signal,
        onEpoch: (record) => { if (record.epoch === 2) controller.abort(); },
      }),
    ).rejects.toThrow('interrupted: training stopped after epoch 2; rerun with --resume to continue');

    const resumed = buildClassifier(config, { inputShape: [6], numClasses: 3 });
    const resumeLog = memoryLogger();
    const rest = await trainClassifier({ model: resumed, ...data, config, checkpointDir, resume: true, log: resumeLog });
    expect(resumeLog.lines[0]).toBe(`resuming after epoch 2/4 from ${checkpointDir}`);
    expect(rest.history).toEqual(full.history.map((r, i) => ({ ...r, seconds: rest.history[i]!.seconds })));
    expect(weightValues(resumed)).toEqual(weightValues(straight));
    // A different seed really does train differently (the comparison above can fail).
    const other = buildClassifier(configWith({ patience: 3, seed: 6 }), { inputShape: [6], numClasses: 3 });
    await trainClassifier({ model: other, ...data, config: configWith({ patience: 3, seed: 6 }), checkpointDir: tempDir('ckpt-c'), resume: false, log: memoryLogger() });
    expect(weightValues(other)).not.toEqual(weightValues(straight));
  });

  it('trains a batch split into micro-batches to the same weights as the whole batch', async () => {
    // Plain SGD: unlike Adam or RMSprop, its steps scale with the gradient, so a wrongly weighted sum shows.
    const config = configWith({ optimizer: 'sgd', lr: 0.5, schedule: 'constant', warmupEpochs: 0, dropout: 0, epochs: 3 });
    const data = await sources(config);
    const whole = buildClassifier(config, { inputShape: [6], numClasses: 3 });
    const initial = weightValues(whole);
    const wholeResult = await trainClassifier({ model: whole, ...data, config, checkpointDir: tempDir('ckpt-whole'), resume: false, log: memoryLogger() });
    const split = buildClassifier(config, { inputShape: [6], numClasses: 3 });
    const log = memoryLogger();
    // Room for 5 rows' activations: each batch of 16 runs as 4 micro-batches of 4.
    const splitResult = await trainClassifier({
      model: split, ...data, config, checkpointDir: tempDir('ckpt-split'), resume: false, log, activationBudgetBytes: 5 * activationBytesPerRow(split),
    });
    const maxDifference = (a: Float32Array[], b: Float32Array[]): number => Math.max(...a.flatMap((w, i) => Array.from(w, (v, j) => Math.abs(v - b[i]![j]!))));
    expect(maxDifference(weightValues(whole), initial)).toBeGreaterThan(0.05);
    expect(maxDifference(weightValues(split), weightValues(whole))).toBeLessThan(1e-5);
    splitResult.history.forEach((record, i) => {
      expect(record.loss).toBeCloseTo(wholeResult.history[i]!.loss, 5);
      expect(record.val_loss).toBeCloseTo(wholeResult.history[i]!.val_loss, 5);
      expect(record.accuracy).toBe(wholeResult.history[i]!.accuracy);
    });
  });

  it('keeps the number of tensors flat from epoch to epoch', async () => {
    const config = configWith({ epochs: 4, patience: 2 });
    const data = await sources(config);
    const model = buildClassifier(config, { inputShape: [6], numClasses: 3 });
    const counts: number[] = [];
    await trainClassifier({
      model, ...data, config, checkpointDir: tempDir('ckpt-mem'), resume: false, log: memoryLogger(),
      onEpoch: () => { counts.push(tf.memory().numTensors); },
    });
    expect(counts).toHaveLength(4);
    expect(new Set(counts.slice(1)).size).toBe(1);
  });

  it('keeps the starting weights when no epoch beats their val_loss, and counts them as epoch 0, resumed or not', async () => {
    const config = configWith({ epochs: 3, patience: 5 });
    const data = await sources(config);
    const model = buildClassifier(config, { inputShape: [6], numClasses: 3 });
    const start = weightValues(model);
    const log = memoryLogger();
    // No val_loss is below 0: the starting weights stay best.
    const kept = await trainClassifier({ model, ...data, config, checkpointDir: tempDir('ckpt-start'), resume: false, log, startValLoss: 0 });
    expect(kept.bestEpoch).toBe(0);
    expect(kept.history).toHaveLength(3);
    expect(weightValues(model)).toEqual(start);
    expect(log.lines.at(-1)).toBe('restoring the starting weights: no epoch beat their val_loss 0.0000');

    // Interrupted after epoch 1 and resumed: the checkpoint holds the starting weights as the best.
    const checkpointDir = tempDir('ckpt-start-resume');
    const controller = new AbortController();
    const interrupted = buildClassifier(config, { inputShape: [6], numClasses: 3 });
    await expect(
      trainClassifier({
        model: interrupted, ...data, config, checkpointDir, resume: false, log: memoryLogger(), startValLoss: 0, signal: controller.signal,
        onEpoch: () => controller.abort(),
      }),
    ).rejects.toThrow(/training stopped after epoch 1/);
    const resumed = buildClassifier(configWith({ epochs: 3, patience: 5, seed: 6 }), { inputShape: [6], numClasses: 3 });
    const rest = await trainClassifier({ model: resumed, ...data, config, checkpointDir, resume: true, log: memoryLogger(), startValLoss: 0 });
    expect(rest.bestEpoch).toBe(0);
    expect(weightValues(resumed)).toEqual(start);

    // A starting val_loss that any epoch beats changes nothing: the best epoch's weights are kept.
    const trained = buildClassifier(config, { inputShape: [6], numClasses: 3 });
    const beaten = await trainClassifier({ model: trained, ...data, config, checkpointDir: tempDir('ckpt-start-beaten'), resume: false, log: memoryLogger(), startValLoss: 1e9 });
    expect(beaten.bestEpoch).toBeGreaterThan(0);
    expect(weightValues(trained)).not.toEqual(start);
  });

  it('stops early after `patience` epochs without a better val_loss and restores the best weights', async () => {
    // Validation labels are shifted by one class, so learning the training data makes val_loss worse.
    const shiftedFile = path.join(tempDir('shifted'), 'validation.arrow');
    const { values, labels } = separableFeatures(32, 6, 3, 'validation');
    await writeRowsFile(shiftedFile, { values, labels: labels.map((l) => (l + 1) % 3), views: new Int32Array(32), rowShape: [6], classes: ['class0', 'class1', 'class2'], rowsPerBatch: 8 });
    const config = configWith({ epochs: 12, patience: 2, optimizer: 'adam', schedule: 'constant', warmupEpochs: 0, dropout: 0, lr: 0.02 });
    const data = await sources(config, shiftedFile);
    const model = buildClassifier(config, { inputShape: [6], numClasses: 3 });
    const snapshots: Float32Array[][] = [];
    const log = memoryLogger();
    const result = await trainClassifier({
      model, ...data, config, checkpointDir: tempDir('ckpt-early'), resume: false, log,
      onEpoch: () => { snapshots.push(weightValues(model)); },
    });
    const losses = result.history.map((r) => r.val_loss);
    expect(result.bestEpoch).toBe(losses.indexOf(Math.min(...losses)) + 1);
    expect(result.stoppedEarly).toBe(true);
    expect(result.history).toHaveLength(result.bestEpoch + 2);
    expect(weightValues(model)).toEqual(snapshots[result.bestEpoch - 1]);
    expect(weightValues(model)).not.toEqual(snapshots.at(-1));
    expect(log.lines.at(-1)).toMatch(new RegExp(`^restoring the weights of epoch ${result.bestEpoch} \\(val_loss `));
  });

  it('stops on a NaN loss with a clear message and no checkpoint when none was good', async () => {
    const config = configWith({ optimizer: 'sgd', lr: 1e30, schedule: 'constant', warmupEpochs: 0 });
    const data = await sources(config);
    const model = buildClassifier(config, { inputShape: [6], numClasses: 3 });
    await expect(trainClassifier({ model, ...data, config, checkpointDir: tempDir('ckpt-nan'), resume: false, log: memoryLogger() })).rejects.toThrow(
      /^loss became (NaN|Infinity) at epoch 1, step \d+ \(in the first epoch\): try a lower --lr$/,
    );
  });

  it('keeps the last good checkpoint when the loss turns NaN later', async () => {
    const config = configWith({ epochs: 3 });
    const data = await sources(config);
    const model = buildClassifier(config, { inputShape: [6], numClasses: 3 });
    const checkpointDir = tempDir('ckpt-nan-later');
    const records: EpochRecord[] = [];
    await expect(
      trainClassifier({
        model, ...data, config, checkpointDir, resume: false, log: memoryLogger(),
        onEpoch: (record) => {
          records.push(record);
          // Poison one kernel so the next step's loss is NaN.
          const kernel = model.trainableWeights[0]!;
          kernel.write(tf.fill(kernel.shape as number[], NaN));
        },
      }),
    ).rejects.toThrow('loss became NaN at epoch 2, step 1 (after 1 good epoch(s)): try a lower --lr');
    const pointer = JSON.parse(fs.readFileSync(path.join(checkpointDir, 'latest.json'), 'utf8')) as { epoch: number };
    expect(pointer.epoch).toBe(1);
    // The kept checkpoint holds the good epoch-1 weights: resuming from it trains on without NaN.
    const log = memoryLogger();
    const result = await trainClassifier({ model: buildClassifier(config, { inputShape: [6], numClasses: 3 }), ...data, config, checkpointDir, resume: true, log });
    expect(log.lines[0]).toBe(`resuming after epoch 1/3 from ${checkpointDir}`);
    expect(result.history[0]).toEqual(records[0]);
    expect(result.history.every((r) => Number.isFinite(r.loss))).toBe(true);
  });

  it('refuses to resume a checkpoint made with other options', async () => {
    const config = configWith({ epochs: 1, warmupEpochs: 0 });
    const data = await sources(config);
    const checkpointDir = tempDir('ckpt-other');
    await trainClassifier({ model: buildClassifier(config, { inputShape: [6], numClasses: 3 }), ...data, config, checkpointDir, resume: false, log: memoryLogger() });
    const changed = { ...config, lr: 1e-4 };
    await expect(
      trainClassifier({ model: buildClassifier(changed, { inputShape: [6], numClasses: 3 }), ...data, config: changed, checkpointDir, resume: true, log: memoryLogger() }),
    ).rejects.toThrow(`the checkpoint in ${checkpointDir} was made with other training options or data (--lr was 0.003, now 0.0001): rerun without --resume`);
  });

  it('refuses a damaged checkpoint in one line naming the file', async () => {
    const config = configWith({ epochs: 1, warmupEpochs: 0 });
    const data = await sources(config);
    const checkpointDir = tempDir('ckpt-damaged');
    await trainClassifier({ model: buildClassifier(config, { inputShape: [6], numClasses: 3 }), ...data, config, checkpointDir, resume: false, log: memoryLogger() });
    const epochDir = path.join(checkpointDir, 'epoch-0001');
    const resume = () => trainClassifier({ model: buildClassifier(config, { inputShape: [6], numClasses: 3 }), ...data, config, checkpointDir, resume: true, log: memoryLogger() });
    const truncate = (file: string): void => fs.truncateSync(file, fs.statSync(file).size - 3);
    truncate(path.join(epochDir, 'optimizer.bin'));
    await expect(resume()).rejects.toThrow(new RegExp(`^checkpoint ${path.join(epochDir, 'optimizer.bin')} is damaged \\(.+\\): rerun without --resume$`));
    truncate(path.join(epochDir, 'model', 'weights.bin'));
    await expect(resume()).rejects.toThrow(new RegExp(`^checkpoint ${path.join(epochDir, 'model')} is damaged \\(.+\\): rerun without --resume$`));
    fs.writeFileSync(path.join(epochDir, 'state.json'), '{"epoch": 1, "fing');
    await expect(resume()).rejects.toThrow(new RegExp(`^checkpoint ${path.join(epochDir, 'state.json')} is damaged \\(.+\\): rerun without --resume$`));
  });
});
