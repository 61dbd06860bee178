import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UserError, writeFileAtomic, type Logger } from '@flowers/core';
import { HISTORY_FILE, METRICS_FILE, PREDICTIONS_FILE, metricsJson, probabilityRows, writeHistory, writeMetrics, writePredictions, type EpochRecord } from '@flowers/core/contracts';
import { fileIOHandler, type SelectedBackend } from '@flowers/core/tf';
import { ArrowBatchSource } from './data/arrow_batches.ts';
import { trainClassifier } from './loop.ts';
import { buildClassifier } from './models/index.ts';
import { accuracyOf, predictProbabilities } from './predict.ts';
import type { TrainConfig } from './config.ts';
import { createTfjsEngine, createTrainingEngine } from './engines/index.ts';

export interface ProduceTrainOptions {
  outDir: string;
  trainFile: string;
  validationFile: string;
  testFile: string;
  config: TrainConfig;
  /** The pretrained top of the base (input: cut activations), for input 'cut'. */
  baseTop?: tf.LayersModel;
  resume: boolean;
  log: Logger;
  signal?: AbortSignal;
  /** The selected engine (default: TensorFlow.js on the active backend); see trainingEngineName. */
  backend?: SelectedBackend;
  /** ONNX Runtime threads (default: one per core). */
  threads?: number;
  /** Written into pipeline-model.json (base, weights, cut...), merged with what training knows. */
  modelMeta: Record<string, unknown>;
}

export interface ProduceTrainResult {
  history: EpochRecord[];
  bestEpoch: number;
  stoppedEarly: boolean;
  testAccuracy: number;
  rows: Record<string, number>;
  timings: Record<string, number>;
}

export const MODEL_DIR = 'model';
export const PIPELINE_MODEL_FILE = 'pipeline-model.json';
export const CHECKPOINT_DIR = 'checkpoint';


/** The three splits must describe the same classes and inputs, of the kind the config trains on. */
function checkCompatible(config: TrainConfig, train: ArrowBatchSource, others: ArrowBatchSource[]): void {
  const wantedKind = config.input === 'pixels' ? 'pixels' : 'features';
  if (train.inputKind !== wantedKind) {
    throw new UserError(`--input ${config.input} needs a '${wantedKind}' column, but ${train.file} has '${train.inputKind}'`);
  }
  for (const other of others) {
    if (JSON.stringify(other.classes) !== JSON.stringify(train.classes)) {
      throw new UserError(`${other.file} lists classes ${JSON.stringify(other.classes)}, ${train.file} lists ${JSON.stringify(train.classes)}`);
    }
    if (other.inputKind !== train.inputKind || other.rowShape.join('x') !== train.rowShape.join('x')) {
      throw new UserError(`${other.file} holds ${other.inputKind} of shape [${other.rowShape.join(', ')}], ${train.file} [${train.rowShape.join(', ')}]`);
    }
  }
  if (train.numRows === 0) throw new UserError(`${train.file} has no rows to train on`);
}

/**
 * The train stage: builds the model `config.head` names, trains it with checkpoints in
 * outDir/checkpoint/ (removed once done), and writes model/, pipeline-model.json, history.json
 * and the test split's predictions.arrow and metrics.json into outDir.
 */
export async function produceTrain(options: ProduceTrainOptions): Promise<ProduceTrainResult> {
  const { outDir, config, log } = options;
  await mkdir(outDir, { recursive: true });
  const train = await ArrowBatchSource.open(options.trainFile, { role: 'train', batchSize: config.batchSize, rescale: config.rescale, seed: config.seed, epochViews: config.epochViews });
  const sources = [train];
  try {
    const validation = await ArrowBatchSource.open(options.validationFile, { role: 'eval', batchSize: config.batchSize, rescale: config.rescale });
    sources.push(validation);
    const test = await ArrowBatchSource.open(options.testFile, { role: 'eval', batchSize: config.batchSize, rescale: config.rescale });
    sources.push(test);
    checkCompatible(config, train, [validation, test]);
    // Given train/ and test/ folders without validation/: the split fractions could not tell.
    if (config.patience > 0 && validation.numRows === 0) {
      throw new UserError(`early stopping needs a validation split: ${validation.file} has no rows; pass --patience 0`);
    }
    const model = buildClassifier(config, { inputShape: train.rowShape, numClasses: train.classes.length, ...(options.baseTop ? { baseTop: options.baseTop } : {}) });
    const engine = options.backend
      ? await createTrainingEngine(model, config, { backend: options.backend, ...(options.threads === undefined ? {} : { threads: options.threads }), labelCounts: train.labelCounts, log })
      : createTfjsEngine(model, config, { labelCounts: train.labelCounts });
    try {
      log.info(
        `training ${config.head} on ${train.numRows} rows (${train.stepsPerEpoch} steps/epoch), validating on ${validation.numRows}, ` +
          `${config.optimizer} lr ${config.lr} ${config.schedule}, ${config.epochs} epochs, ${engine.summary}`,
      );
      const trainStarted = performance.now();
      const result = await trainClassifier({
        model,
        train,
        validation,
        config,
        engine,
        checkpointDir: path.join(outDir, CHECKPOINT_DIR),
        resume: options.resume,
        log,
        historyFile: path.join(outDir, HISTORY_FILE),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const trainSeconds = (performance.now() - trainStarted) / 1000;

      const predictStarted = performance.now();
      const predictions = await predictProbabilities(engine, test);
      const testAccuracy = accuracyOf(predictions);
      await writePredictions(path.join(outDir, PREDICTIONS_FILE), predictions);
      await writeMetrics(path.join(outDir, METRICS_FILE), metricsJson(Array.from(predictions.labels), probabilityRows(predictions), predictions.classes));
      const predictSeconds = (performance.now() - predictStarted) / 1000;

      await model.save(fileIOHandler(path.join(outDir, MODEL_DIR)));
      // Pixel files carry 'size', feature files the base's 'input_size'.
      const sizeMeta = train.metadata.get('size') ?? train.metadata.get('input_size');
      await writeFileAtomic(
        path.join(outDir, PIPELINE_MODEL_FILE),
        JSON.stringify(
          {
            ...options.modelMeta,
            classes: train.classes,
            inputSize: sizeMeta === undefined ? null : Number(sizeMeta),
            input: config.input,
            rescale: config.rescale,
            feature_shape: train.inputKind === 'features' ? train.rowShape : null,
          },
          null,
          2,
        ),
      );
      await writeHistory(path.join(outDir, HISTORY_FILE), result.history);
      await rm(path.join(outDir, CHECKPOINT_DIR), { recursive: true, force: true });
      log.info(`test accuracy ${(testAccuracy * 100).toFixed(2)}% on ${predictions.labels.length} images (best epoch ${result.bestEpoch})`);
      return {
        history: result.history,
        bestEpoch: result.bestEpoch,
        stoppedEarly: result.stoppedEarly,
        testAccuracy,
        rows: { train: train.numRows, validation: validation.numRows, test: test.numRows },
        timings: { train_s: trainSeconds, predict_s: predictSeconds },
      };
    } finally {
      engine.dispose();
      model.dispose();
    }
  } finally {
    for (const source of sources) await source.close();
  }
}
