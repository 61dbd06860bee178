import { describe, it, expect, beforeAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createPool, mapOrdered, Piscina } from '@flowers/core';
import augmentImage from '../src/augment_worker.ts';
import { EXPERIMENT_AUGMENTATION } from '../src/keras_params.ts';
import { decodeAugmentResult } from '../src/result.ts';
import type { AugmentTask, AugmentWireResult } from '../src/types.ts';
import { SHARED_FLOWERS as FLOWERS } from '../../../shared_folder.ts';

const SIZE = 64;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function photoTasks(count: number): AugmentTask[] {
  const files = ['daisy', 'rose', 'tulip'].flatMap((cls) =>
    fs
      .readdirSync(path.join(FLOWERS, cls))
      .filter((f) => f.endsWith('.jpg'))
      .sort()
      .slice(0, Math.ceil(count / 3))
      .map((f) => path.join(FLOWERS, cls, f)),
  );
  return files.slice(0, count).map((file, i) => ({
    path: file,
    sha256: sha256(fs.readFileSync(file)),
    size: SIZE,
    views: 3,
    params: EXPERIMENT_AUGMENTATION,
    seed: 42,
    isTraining: i % 4 !== 0,
  }));
}

async function runPool(tasks: AugmentTask[], workers: number, tasksPerWorker: number): Promise<AugmentWireResult[]> {
  const pool = createPool(new URL('../src/augment_worker.ts', import.meta.url), workers, { tasksPerWorker });
  const results: AugmentWireResult[] = [];
  try {
    await mapOrdered(tasks, workers * 4, (task) => pool.run(task) as Promise<AugmentWireResult>, (r) => {
      results.push(r);
    });
    return results;
  } finally {
    await pool.destroy();
  }
}

/** Calling the worker function in-thread: what the parent would receive, without the transfer wrapper. */
async function callWorker(task: AugmentTask): Promise<AugmentWireResult> {
  const answer = (await augmentImage(task)) as object;
  return (Piscina.valueSymbol in answer ? (answer as Record<symbol, unknown>)[Piscina.valueSymbol] : answer) as AugmentWireResult;
}

describe('augment worker', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'augment-worker-'));
  });

  it('gives byte-identical views with 1 and with 4 workers over 20 photos', async () => {
    const tasks = photoTasks(20);
    const one = await runPool(tasks, 1, 1);
    // Reverse the submission order and overlap two images per worker, as the stage does:
    // results must depend on the image, not on scheduling.
    const four = (await runPool([...tasks].reverse(), 4, 2)).reverse();
    for (let i = 0; i < tasks.length; i++) {
      const a = decodeAugmentResult(one[i]!, tasks[i]!);
      const b = decodeAugmentResult(four[i]!, tasks[i]!);
      if (!a.ok || !b.ok) throw new Error(`unexpected failure for ${tasks[i]!.path}`);
      expect(Buffer.compare(a.plain, b.plain)).toBe(0);
      expect(a.views.length).toBe(tasks[i]!.isTraining ? 3 : 0);
      expect(b.views.length).toBe(a.views.length);
      a.views.forEach((view, v) => expect(Buffer.compare(view, b.views[v]!)).toBe(0));
    }
  });

  it('returns the plain image plus distinct augmented views for a training image', async () => {
    const [task] = photoTasks(2).slice(1);
    const result = decodeAugmentResult(await callWorker(task!), task!);
    if (!result.ok) throw new Error(result.reason);
    expect(result.plain.length).toBe(SIZE * SIZE * 3);
    expect(result.views.map((v) => v.length)).toEqual([SIZE * SIZE * 3, SIZE * SIZE * 3, SIZE * SIZE * 3]);
    expect(Buffer.compare(result.views[0]!, result.plain)).not.toBe(0);
    expect(Buffer.compare(result.views[0]!, result.views[1]!)).not.toBe(0);
  });

  it('answers ok:false naming the file for a sha256 mismatch', async () => {
    const [task] = photoTasks(1);
    const wire = await callWorker({ ...task!, sha256: '0'.repeat(64) });
    expect(wire).toEqual({ ok: false, reason: expect.stringContaining(`${task!.path} changed since ingest`) });
  });

  it('answers ok:false for a corrupt file whose hash matches', async () => {
    const file = path.join(dir, 'corrupt.jpg');
    const bytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(500, 0x5a)]);
    fs.writeFileSync(file, bytes);
    const task: AugmentTask = { ...photoTasks(1)[0]!, path: file, sha256: sha256(bytes) };
    const wire = await callWorker(task);
    expect(wire).toEqual({ ok: false, reason: expect.stringContaining(`cannot decode ${file}`) });
    expect(decodeAugmentResult(wire, task)).toBe(wire);
  });

  it('answers ok:false for a missing file', async () => {
    const file = path.join(dir, 'missing.jpg');
    const wire = await callWorker({ ...photoTasks(1)[0]!, path: file });
    expect(wire).toEqual({ ok: false, reason: expect.stringContaining(`cannot read ${file}`) });
  });
});
