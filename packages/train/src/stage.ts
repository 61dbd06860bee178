import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UserError, writeFileAtomic, type Logger } from '@flowers/core';
import { HISTORY_FILE, METRICS_FILE, PREDICTIONS_FILE, joinPhases, metricsJson, ttaMetricsOf, type Predictions, probabilityRows, writeHistory, writeMetrics, writePredictions, type EpochRecord } from '@flowers/core/contracts';
import { fileIOHandler, type SelectedBackend } from '@flowers/core/tf';
import { ArrowBatchSource } from './data/arrow_batches.ts';
import { trainClassifier, type TrainClassifierResult } from './loop.ts';
import { buildClassifier } from './models/index.ts';
import { accuracyOf, predictProbabilities, withMirror } from './predict.ts';
import type { TrainConfig } from './config.ts';
import { createTfjsEngine, createTrainingEngine, type TrainingEngine } from './engines/index.ts';

export interface ProduceTrainOptions {
  outDir: string;
  trainFile: string;
  validationFile: string;
  testFile: string;
  config: TrainConfig;
  /** The pretrained top of the base (input: cut activations), for input 'cut'. */
  baseTop?: tf.LayersModel;
  /** The base's cached features (the top's output, maybe pooled), on which config.headEpochs train the head first. */
  headFiles?: { train: string; validation: string };
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
  /** With test-time augmentation (mirror images in the validation and test files). */
  testAccuracyTta?: number;
  rows: Record<string, number>;
  timings: Record<string, number>;
}

export const MODEL_DIR = 'model';
export const PIPELINE_MODEL_FILE = 'pipeline-model.json';
export const CHECKPOINT_DIR = 'checkpoint';
/** The head phase's checkpoints, kept until the end so that a resumed fine-tuning finds its head. */
export const HEAD_CHECKPOINT_DIR = 'checkpoint-head';

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

/** The engine `options` select for training `model` (default: TensorFlow.js on the active backend). */
function engineFor(model: tf.LayersModel, config: TrainConfig, options: ProduceTrainOptions, labelCounts: Int32Array): Promise<TrainingEngine> | TrainingEngine {
  return options.backend
    ? createTrainingEngine(model, config, { backend: options.backend, ...(options.threads === undefined ? {} : { threads: options.threads }), labelCounts, log: options.log })
    : createTfjsEngine(model, config, { labelCounts });
}

/**
 * The mirror-image rows (view 1) of the validation and test files, when augment wrote them
 * (--tta): one for each plain row, or none at all.
 */
async function mirrorSources(options: ProduceTrainOptions, plain: ArrowBatchSource[], opened: ArrowBatchSource[]): Promise<Array<ArrowBatchSource | undefined>> {
  const mirrors: Array<ArrowBatchSource | undefined> = [];
  for (const source of plain) {
    const mirror = await ArrowBatchSource.open(source.file, { role: 'eval', view: 1, batchSize: options.config.batchSize, rescale: options.config.rescale });
    opened.push(mirror);
    if (mirror.numRows > 0 && mirror.numRows !== source.numRows) {
      throw new UserError(`${source.file} has ${mirror.numRows} mirror images (view 1) for ${source.numRows} photos: rebuild it with augment --tta`);
    }
    mirrors.push(mirror.numRows > 0 ? mirror : undefined);
  }
  const withRows = plain.flatMap((source, i) => (source.numRows > 0 ? [mirrors[i]] : []));
  if (withRows.some((m) => m === undefined) && withRows.some((m) => m !== undefined)) {
    throw new UserError(`${plain.map((s) => s.file).join(' and ')}: only one holds mirror images for test-time augmentation`);
  }
  return mirrors;
}

/** The layers of `head` that hold weights, each with a layer of that name and those shapes in `model`; else why not. */
function headMismatch(head: tf.LayersModel, model: tf.LayersModel): string | undefined {
  for (const layer of head.layers) {
    const shapes = layer.getWeights().map((w) => w.shape.join('x'));
    if (shapes.length === 0) continue;
    const target = model.layers.find((l) => l.name === layer.name);
    const targetShapes = target?.getWeights().map((w) => w.shape.join('x'));
    if (targetShapes?.join() !== shapes.join()) return `its layer ${layer.name} has weights ${shapes.join(', ')}, the fine-tuned model's ${targetShapes?.join(', ') ?? 'no such layer'}`;
  }
  return undefined;
}

/**
 * Keras' first step before fine-tuning: trains the head alone on the base's cached features for
 * config.headEpochs, then copies its weights into `model`'s head, so the top is unfrozen under a
 * trained head. Resumable like any training (its checkpoints are in HEAD_CHECKPOINT_DIR).
 */
async function trainHeadFirst(options: ProduceTrainOptions, model: tf.LayersModel): Promise<TrainClassifierResult> {
  const { config, log, headFiles } = options;
  if (!headFiles) throw new Error('--head-epochs needs the base features to train the head on');
  const headConfig: TrainConfig = { ...config, input: 'features', epochs: config.headEpochs, lr: config.headLr };
  const opened: ArrowBatchSource[] = [];
  try {
    const train = await ArrowBatchSource.open(headFiles.train, { role: 'train', batchSize: config.batchSize, rescale: config.rescale, seed: config.seed, epochViews: config.epochViews });
    opened.push(train);
    const validation = await ArrowBatchSource.open(headFiles.validation, { role: 'eval', batchSize: config.batchSize, rescale: config.rescale });
    opened.push(validation);
    const [validationMirror] = await mirrorSources(options, [validation], opened);
    checkCompatible(headConfig, train, [validation]);
    const head = buildClassifier(headConfig, { inputShape: train.rowShape, numClasses: train.classes.length });
    try {
      const mismatch = headMismatch(head, model);
      if (mismatch) {
        throw new UserError(`--head-epochs: a head on the features in ${train.file} (shape [${train.rowShape.join(', ')}]) does not fit the top of the base: ${mismatch}; extract the features with --pool none`);
      }
      const engine = await engineFor(head, headConfig, options, train.labelCounts);
      try {
        log.info(`training the ${config.head} head alone first: ${train.numRows} rows of base features, lr ${config.headLr}, ${config.headEpochs} epochs, ${engine.summary}`);
        const result = await trainClassifier({
          model: head,
          train,
          validation,
          ...(validationMirror ? { validationMirror } : {}),
          config: headConfig,
          engine,
          checkpointDir: path.join(options.outDir, HEAD_CHECKPOINT_DIR),
          resume: options.resume,
          log,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        for (const layer of head.layers) if (layer.getWeights().length > 0) model.getLayer(layer.name).setWeights(layer.getWeights());
        return result;
      } finally {
        engine.dispose();
      }
    } finally {
      head.dispose();
    }
  } finally {
    for (const source of opened) await source.close();
  }
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
    const [validationMirror, testMirror] = await mirrorSources(options, [validation, test], sources);
    // Given train/ and test/ folders without validation/: the split fractions could not tell.
    if (config.patience > 0 && validation.numRows === 0) {
      throw new UserError(`early stopping needs a validation split: ${validation.file} has no rows; pass --patience 0`);
    }
    const model = buildClassifier(config, { inputShape: train.rowShape, numClasses: train.classes.length, ...(options.baseTop ? { baseTop: options.baseTop } : {}) });
    try {
      // Training time covers both phases of a fine-tuning run.
      const trainStarted = performance.now();
      const headPhase = config.headEpochs > 0 ? await trainHeadFirst(options, model) : undefined;
      const engine = await engineFor(model, config, options, train.labelCounts);
      try {
        log.info(
          `training ${config.head} on ${train.numRows} rows (${train.stepsPerEpoch} steps/epoch), validating on ${validation.numRows}, ` +
            `${config.optimizer} lr ${config.lr} ${config.schedule}, ${config.epochs} epochs, ${engine.summary}`,
        );
        const result = await trainClassifier({
          model,
          train,
          validation,
          ...(validationMirror ? { validationMirror } : {}),
          config,
          engine,
          checkpointDir: path.join(outDir, CHECKPOINT_DIR),
          resume: options.resume,
          log,
          historyFile: path.join(outDir, HISTORY_FILE),
          ...(headPhase ? { historyBefore: headPhase.history } : {}),
          // With early stopping, fine-tuning that never beats the head on validation keeps the head.
          ...(headPhase && headPhase.bestEpoch > 0 ? { startValLoss: headPhase.history[headPhase.bestEpoch - 1]!.val_loss } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
        const history = headPhase ? joinPhases(headPhase.history, result.history) : result.history;
        const bestEpoch = headPhase && result.bestEpoch === 0 ? headPhase.bestEpoch : (headPhase?.history.length ?? 0) + result.bestEpoch;
        const trainSeconds = (performance.now() - trainStarted) / 1000;

        const predictStarted = performance.now();
        const predictions = await predictProbabilities(engine, test);
        const testAccuracy = accuracyOf(predictions);
        await writePredictions(path.join(outDir, PREDICTIONS_FILE), predictions);
        const metricsOf = (p: Predictions) => metricsJson(Array.from(p.labels), probabilityRows(p), p.classes);
        const metrics = metricsOf(predictions);
        const tta = testMirror ? ttaMetricsOf(metricsOf(withMirror(predictions, await predictProbabilities(engine, testMirror)))) : undefined;
        await writeMetrics(path.join(outDir, METRICS_FILE), tta ? { ...metrics, tta } : metrics);
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
        await writeHistory(path.join(outDir, HISTORY_FILE), history);
        for (const dir of [CHECKPOINT_DIR, HEAD_CHECKPOINT_DIR]) await rm(path.join(outDir, dir), { recursive: true, force: true });
        const withTta = tta ? `, ${(tta.accuracy * 100).toFixed(2)}% with test-time augmentation` : '';
        log.info(`test accuracy ${(testAccuracy * 100).toFixed(2)}%${withTta} on ${predictions.labels.length} images (best epoch ${bestEpoch})`);
        return {
          history,
          bestEpoch,
          stoppedEarly: result.stoppedEarly,
          testAccuracy,
          ...(tta ? { testAccuracyTta: tta.accuracy } : {}),
          rows: { train: train.numRows, validation: validation.numRows, test: test.numRows },
          timings: { train_s: trainSeconds, predict_s: predictSeconds },
        };
      } finally {
        engine.dispose();
      }
    } finally {
      model.dispose();
    }
  } finally {
    for (const source of sources) await source.close();
  }
}
