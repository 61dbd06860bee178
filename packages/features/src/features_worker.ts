/**
 * Piscina worker: one record batch of pixels -> its features. Each worker loads the base once,
 * on the engine the parent chose, from what the parent prepared (encoded weights or an exported
 * graph file; see prepareEngine).
 */
import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { errorMessage } from '@flowers/core';
import { loadBaseRunner, type BaseRunner, type EngineData } from './engines/index.ts';

export interface FeaturesWorkerData {
  engine: EngineData;
}

export interface FeaturesTask {
  /** `rows` images, HWC RGB uint8, one after another (transferred, not copied). */
  pixels: Uint8Array;
  rows: number;
}

const { engine } = workerData as FeaturesWorkerData;
let ready: Promise<BaseRunner> | undefined;

/** Answers the batch's FeatureRows, their buffers transferred to the parent. */
export default async function extractFeatures(task: FeaturesTask): Promise<unknown> {
  try {
    const runner = await (ready ??= loadBaseRunner(engine));
    const rows = await runner.run(task.pixels, task.rows);
    const buffers = new Set([rows.features.buffer, ...(rows.cut === undefined ? [] : [rows.cut.buffer])]);
    return move({ [transferableSymbol]: [...buffers], [valueSymbol]: rows } as never);
  } catch (error) {
    // Errors cross the thread boundary as plain Errors; keep them to the one line the CLI prints.
    throw new Error(`features worker (${engine.engine}, ${engine.spec.base}): ${errorMessage(error).split('\n')[0]}`);
  }
}
