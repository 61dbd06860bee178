import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { canonicalJson, errorMessage, flagName, UserError, writeFileAtomic } from '@flowers/core';
import type { EpochRecord } from '@flowers/core/contracts';
import { fileIOHandler } from '@flowers/core/tf';
import type { TrainingOptimizer } from './optim/optimizers.ts';
import type { TrainConfig } from './config.ts';


/** Everything besides tensors that a resumed run needs to continue exactly. */
export interface CheckpointState {
  epoch: number;
  /** The training options the checkpoint was made with; resuming with others is refused. */
  fingerprint: string;
  history: EpochRecord[];
  iterations: number;
  /** Epoch with the lowest val_loss so far (0: none yet). */
  bestEpoch: number;
  /** Whether best.bin holds that epoch's weights (kept for early stopping). */
  hasBestWeights: boolean;
}

/** The training data's shape that a checkpoint must match besides the options. */
export interface TrainDataShape {
  rows: number;
  steps: number;
}

/** What a checkpoint must match to be resumed: the training options and the data's shape. */
export function checkpointFingerprint(config: TrainConfig, data: TrainDataShape): string {
  return canonicalJson({ config, rows: data.rows, steps: data.steps });
}

/**
 * How a checkpoint's options differ from `config` (and its data from `data`, when given), as
 * `--lr was 0.002, now 0.001`.
 */
export function fingerprintChanges(fingerprint: string, config: TrainConfig, data?: TrainDataShape): string[] {
  const saved = JSON.parse(fingerprint) as { config: Record<string, unknown> } & Partial<TrainDataShape>;
  const changes = Object.entries(config)
    .filter(([key, value]) => canonicalJson(saved.config[key]) !== canonicalJson(value))
    .map(([key, value]) => `${flagName(key)} was ${String(saved.config[key])}, now ${String(value)}`);
  if (data && saved.rows !== data.rows) changes.push(`training rows were ${saved.rows}, now ${data.rows}`);
  else if (data && saved.steps !== data.steps) changes.push(`steps per epoch were ${saved.steps}, now ${data.steps}`);
  return changes;
}

/** Reads a part of a checkpoint; whatever goes wrong (truncated, bad JSON, wrong sizes) means it is damaged. */
async function readCheckpointPart<T>(file: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw new UserError(`checkpoint ${file} is damaged (${errorMessage(error).split('\n')[0]}): rerun without --resume`);
  }
}

const POINTER_FILE = 'latest.json';
const MAGIC = 'FLTENSORS1';

/**
 * float32 tensors in one file: magic, header length (uint32 LE), JSON header with the shapes,
 * then the values back to back.
 */
async function writeTensorFile(file: string, tensors: readonly tf.Tensor[]): Promise<void> {
  const header = Buffer.from(JSON.stringify({ shapes: tensors.map((t) => t.shape) }));
  const values = await Promise.all(tensors.map((t) => t.data<'float32'>()));
  const total = values.reduce((sum, v) => sum + v.byteLength, 0);
  const out = Buffer.alloc(MAGIC.length + 4 + header.length + total);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(header.length, MAGIC.length);
  header.copy(out, MAGIC.length + 4);
  let at = MAGIC.length + 4 + header.length;
  for (const v of values) {
    out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), at);
    at += v.byteLength;
  }
  await writeFileAtomic(file, out);
}

function readTensorFile(file: string): Promise<tf.Tensor[]> {
  return readCheckpointPart(file, async () => {
    const bytes = await readFile(file);
    if (bytes.toString('latin1', 0, MAGIC.length) !== MAGIC) throw new Error('bad header');
    const headerLength = bytes.readUInt32LE(MAGIC.length);
    const { shapes } = JSON.parse(bytes.toString('utf8', MAGIC.length + 4, MAGIC.length + 4 + headerLength)) as { shapes: number[][] };
    const start = MAGIC.length + 4 + headerLength;
    const sizes = shapes.map((shape) => shape.reduce((a, b) => a * b, 1));
    if (sizes.reduce((a, b) => a + b, 0) * 4 !== bytes.byteLength - start) throw new Error('truncated');
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.byteLength));
    let at = 0;
    return shapes.map((shape, i) => {
      const tensor = tf.tensor(data.subarray(at, at + sizes[i]!), shape, 'float32');
      at += sizes[i]!;
      return tensor;
    });
  });
}

export interface CheckpointContents {
  model: tf.LayersModel;
  optimizer: TrainingOptimizer;
  state: CheckpointState;
  /** The best epoch's weights, in model.getWeights() order. */
  bestWeights?: readonly tf.Tensor[];
}

/**
 * Checkpoints in `dir`: each epoch is written whole into its own `epoch-NNNN/` folder and only
 * then published by atomically replacing latest.json, so a crash at any moment leaves the
 * previous checkpoint intact. Older epoch folders are removed afterwards.
 */
export async function writeCheckpoint(dir: string, { model, optimizer, state, bestWeights }: CheckpointContents): Promise<void> {
  const name = `epoch-${String(state.epoch).padStart(4, '0')}`;
  const epochDir = path.join(dir, name);
  await rm(epochDir, { recursive: true, force: true });
  await model.save(fileIOHandler(path.join(epochDir, 'model')));
  await writeTensorFile(path.join(epochDir, 'optimizer.bin'), optimizer.slots());
  if (bestWeights) await writeTensorFile(path.join(epochDir, 'best.bin'), bestWeights);
  await writeFileAtomic(path.join(epochDir, 'state.json'), JSON.stringify(state));
  await writeFileAtomic(path.join(dir, POINTER_FILE), JSON.stringify({ epoch: state.epoch, dir: name }));
  for (const entry of await readdir(dir)) {
    if (entry.startsWith('epoch-') && entry !== name) await rm(path.join(dir, entry), { recursive: true, force: true });
  }
}

/** The latest checkpoint's state, or undefined when `dir` holds none. */
export async function readCheckpointState(dir: string): Promise<{ state: CheckpointState; epochDir: string } | undefined> {
  const pointerFile = path.join(dir, POINTER_FILE);
  const text = await readFile(pointerFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  const pointer = await readCheckpointPart(pointerFile, async () => JSON.parse(text) as { dir: string });
  const epochDir = path.join(dir, pointer.dir);
  const stateFile = path.join(epochDir, 'state.json');
  const state = await readCheckpointPart(stateFile, async () => JSON.parse(await readFile(stateFile, 'utf8')) as CheckpointState);
  return { state, epochDir };
}

/** Loads a checkpoint's model weights and optimizer state; returns the best weights if it kept them. */
export async function restoreCheckpoint(
  epochDir: string,
  model: tf.LayersModel,
  optimizer: TrainingOptimizer,
  state: CheckpointState,
): Promise<tf.Tensor[] | undefined> {
  const modelDir = path.join(epochDir, 'model');
  await readCheckpointPart(modelDir, async () => {
    const artifacts = await fileIOHandler(modelDir).load();
    const specs = artifacts.weightSpecs ?? [];
    if (specs.length !== model.weights.length) throw new Error(`it holds ${specs.length} weights, the model has ${model.weights.length}`);
    const named = tf.io.decodeWeights(artifacts.weightData!, specs);
    try {
      model.setWeights(specs.map((spec) => named[spec.name]!));
    } finally {
      tf.dispose(Object.values(named));
    }
  });
  const slots = await readTensorFile(path.join(epochDir, 'optimizer.bin'));
  optimizer.restore(state.iterations, slots);
  tf.dispose(slots);
  return state.hasBestWeights ? readTensorFile(path.join(epochDir, 'best.bin')) : undefined;
}
