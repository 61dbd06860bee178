import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createPool, mapOrdered, memoryLogger, releaseWarmPools, runInterruptibly, runStage, withPool, Workspace } from '../src/index.ts';

/**
 * A worker (plain JS, written by the test) whose task waits `ms` and answers the thread id and
 * how many tasks that thread was running at the busiest moment of the task.
 */
function writeProbeWorker(): URL {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'core-pool-')), 'probe_worker.mjs');
  writeFileSync(
    file,
    `import { threadId } from 'node:worker_threads';
let active = 0;
export default async function probe({ ms }) {
  active++;
  let busiest = active;
  await new Promise((resolve) => setTimeout(resolve, ms));
  busiest = Math.max(busiest, active);
  active--;
  return { threadId, busiest };
}
`,
  );
  return pathToFileURL(file);
}

async function runProbes(tasksPerWorker: number | undefined, delays: number[]): Promise<Array<{ threadId: number; busiest: number }>> {
  const pool = createPool(writeProbeWorker(), 1, tasksPerWorker === undefined ? {} : { tasksPerWorker });
  const results: Array<{ threadId: number; busiest: number }> = [];
  try {
    await mapOrdered(delays, 8, (ms) => pool.run({ ms }), (result) => {
      results.push(result);
    });
  } finally {
    await pool.destroy();
  }
  return results;
}

describe('createPool', () => {
  it('runs one task at a time per worker by default', async () => {
    const results = await runProbes(undefined, [60, 60, 60, 60]);
    expect(new Set(results.map((r) => r.threadId)).size).toBe(1);
    expect(Math.max(...results.map((r) => r.busiest))).toBe(1);
  });

  it('overlaps tasksPerWorker tasks on one worker thread', async () => {
    const results = await runProbes(2, [60, 60, 60, 60]);
    expect(new Set(results.map((r) => r.threadId)).size).toBe(1);
    expect(Math.max(...results.map((r) => r.busiest))).toBe(2);
  });
});

describe('withPool', () => {
  const probe = writeProbeWorker();
  const threadOf = (keepWarm: boolean): Promise<number> => withPool(probe, 1, { keepWarm }, async (pool) => ((await pool.run({ ms: 1 })) as { threadId: number }).threadId);

  it('keeps a warm pool from one use to the next, and makes a fresh one each time otherwise', async () => {
    const warm = await threadOf(true);
    expect(await threadOf(true)).toBe(warm);
    const cold = await threadOf(false);
    expect(cold).not.toBe(warm);
    expect(await threadOf(false)).not.toBe(cold);
    // Another size is another pool; the warm one of size 1 is still there afterwards.
    await withPool(probe, 2, { keepWarm: true }, (pool) => pool.run({ ms: 1 }));
    expect(await threadOf(true)).toBe(warm);
    await releaseWarmPools();
    expect(await threadOf(true)).not.toBe(warm);
    await releaseWarmPools();
  });

  it('drops the warm pool after a use that failed', async () => {
    const warm = await threadOf(true);
    await expect(withPool(probe, 1, { keepWarm: true }, async () => Promise.reject(new Error('shard failed')))).rejects.toThrow('shard failed');
    expect(await threadOf(true)).not.toBe(warm);
    await releaseWarmPools();
  });
});

describe('mapOrdered', () => {
  it('hands results over in input order when later tasks finish first', async () => {
    const delays = [80, 5, 40, 1, 20];
    const seen: Array<[number, number]> = [];
    await mapOrdered(
      delays,
      delays.length,
      (ms, index) => new Promise<number>((resolve) => setTimeout(() => resolve(index * 10), ms)),
      (value, index) => {
        seen.push([index, value]);
      },
    );
    expect(seen).toEqual(delays.map((_, i) => [i, i * 10]));
  });

  it('stops between two results once interrupted, and no stage starts after that', async () => {
    const controller = new AbortController();
    const handed: number[] = [];
    const started: number[] = [];
    const items = Array.from({ length: 20 }, (_, i) => i);
    const workspace = new Workspace(mkdtempSync(path.join(os.tmpdir(), 'core-pool-stage-')));
    const stage = (name: string) =>
      runStage(workspace, { stage: name, codeVersion: 'v1', params: {}, inputs: {} }, async () => {
        await mapOrdered(items, 2, async (item) => (started.push(item), item), (item) => {
          handed.push(item);
          if (item === 2) controller.abort();
        });
        return {};
      }, { log: memoryLogger() });
    await expect(runInterruptibly(controller.signal, () => stage('ingest'))).rejects.toThrow('interrupted: ingest stopped after 3 of 20 items; nothing unfinished is kept');
    expect(handed).toEqual([0, 1, 2]);
    expect(started.length).toBeLessThan(items.length);
    await expect(runInterruptibly(controller.signal, () => stage('augment'))).rejects.toThrow('interrupted: augment stopped before it started; nothing unfinished is kept');
    expect(await workspace.listArtifacts()).toEqual([]);
  });
});
