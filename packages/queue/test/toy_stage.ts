import { appendFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256Hex } from '@flowers/core';
import type { InputDirs, ShardedStage, ShardRange, SingleJobStage } from '../src/index.ts';

/**
 * A sharded stage for tests: hashes each line (row) of a text file, a shard per line range, the
 * shards concatenated in order. Its code version and engine come from the environment, so a test
 * can start a mismatched worker; TOY_EVENTS names a file where every shard and merge is logged,
 * and TOY_FAIL_SHARD a shard that always fails.
 */
export interface ToyParams {
  /** Per row, so that a test can kill a worker in the middle of a shard. */
  delayMs: number;
}

export const TOY_OUTPUT = 'hashes.txt';

async function readRows(inputs: InputDirs): Promise<string[]> {
  return (await readFile(inputs.rows!, 'utf8')).split('\n').filter(Boolean);
}

function recordEvent(event: string): void {
  if (process.env.TOY_EVENTS) appendFileSync(process.env.TOY_EVENTS, `${event} ${process.pid}\n`);
}

export const toyStage: ShardedStage<ToyParams> = {
  kind: 'sharded',
  stage: 'toy',
  codeVersion: process.env.TOY_CODE_VERSION ?? 'toy-1',
  engine: () => process.env.TOY_ENGINE ?? 'cpu',
  async planShards(_params, inputs, shardSize): Promise<ShardRange[]> {
    const count = (await readRows(inputs)).length;
    const ranges: ShardRange[] = [];
    for (let start = 0; start < count; start += shardSize) ranges.push({ index: ranges.length, start, end: Math.min(count, start + shardSize) });
    return ranges;
  },
  async produceShard({ shardDir, params, inputs, range, signal, reportRows }) {
    if (process.env.TOY_FAIL_SHARD === String(range.index)) throw new Error('toy: disk on fire');
    const rows = (await readRows(inputs)).slice(range.start, range.end);
    const hashes: string[] = [];
    for (const row of rows) {
      await new Promise((resolve) => setTimeout(resolve, params.delayMs));
      signal.throwIfAborted();
      hashes.push(sha256Hex(row));
      reportRows(hashes.length);
    }
    await writeFile(path.join(shardDir, TOY_OUTPUT), hashes.map((h) => `${h}\n`).join(''));
    recordEvent(`shard ${range.index}`);
  },
  async merge({ dir, shardDirs }) {
    const parts = await Promise.all(shardDirs.map((shard) => readFile(path.join(shard, TOY_OUTPUT))));
    await writeFile(path.join(dir, TOY_OUTPUT), Buffer.concat(parts));
    recordEvent('merge');
    return { rows: { rows: parts.reduce((n, p) => n + p.toString().split('\n').length - 1, 0) } };
  },
};

export const TOY_MODEL = 'model.txt';

/** A single-job stage (as train is): one hash of the whole input. */
export const toyTrainStage: SingleJobStage<Record<string, never>> = {
  kind: 'single',
  stage: 'toy-train',
  codeVersion: process.env.TOY_CODE_VERSION ?? 'toy-1',
  engine: () => process.env.TOY_ENGINE ?? 'cpu',
  async produce({ dir, inputs }) {
    await writeFile(path.join(dir, TOY_MODEL), `${sha256Hex(await readFile(inputs.rows!))}\n`);
    return { rows: { rows: (await readRows(inputs)).length } };
  },
};

/** The registry the worker bin loads. */
export const stages = [toyStage, toyTrainStage];
