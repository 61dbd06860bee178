/**
 * Piscina worker: one record batch of pixels -> its features. Each engine has its thread module
 * (ENGINE_THREAD_MODULES in engines/index.ts), so that a thread loads only its own engine; each thread loads the base
 * once, from what the parent prepared (encoded weights or an exported graph file; see prepareEngine).
 */
import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { errorMessage } from '@flowers/core/thread';
import type { BaseRunner, EngineData } from './engines/engine.ts';

export interface FeaturesWorkerData {
  engine: EngineData;
}

export interface FeaturesTask {
  /** `rows` images, HWC RGB uint8, one after another (transferred, not copied). */
  pixels: Uint8Array;
  rows: number;
}

/** A thread module's task function over the engine `load` starts; it answers the batch's FeatureRows, their buffers transferred to the parent. */
export function featuresThread<D extends EngineData>(load: (data: D) => Promise<BaseRunner>): (task: FeaturesTask) => Promise<unknown> {
  const engine = (workerData as FeaturesWorkerData).engine as D;
  let ready: Promise<BaseRunner> | undefined;
  return async function extractFeatures(task) {
    try {
      const runner = await (ready ??= load(engine));
      const rows = await runner.run(task.pixels, task.rows);
      const buffers = new Set([rows.features.buffer, ...(rows.cut === undefined ? [] : [rows.cut.buffer])]);
      return move({ [transferableSymbol]: [...buffers], [valueSymbol]: rows } as never);
    } catch (error) {
      // Errors cross the thread boundary as plain Errors; keep them to the one line the CLI prints.
      throw new Error(`features worker (${engine.engine}, ${engine.spec.base}): ${errorMessage(error).split('\n')[0]}`);
    }
  };
}
