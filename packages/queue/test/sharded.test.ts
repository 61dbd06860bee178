import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { InterruptedError, UserError, Workspace, memoryLogger, sha256Hex } from '@flowers/core';
import { queuePrefix, submitStage } from '../src/index.ts';
import { readEvents, singleProcessOutput, spawnWorker, stopWorkers, tempDir, useRedisSuite, writeRows } from './fixtures.ts';
import { TOY_MODEL, TOY_OUTPUT, toyStage, toyTrainStage } from './toy_stage.ts';

const ROWS = 40;
const SHARD_SIZE = 5;
const SHARDS = ROWS / SHARD_SIZE;

describe('sharded stage over the queue', () => {
  const suite = useRedisSuite();

  async function setUp(name: string): Promise<{ workdir: string; events: string; inputs: Awaited<ReturnType<typeof writeRows>> }> {
    const workdir = path.join(suite.dir, name);
    return { workdir, events: path.join(suite.dir, `${name}.events`), inputs: await writeRows(await tempDir(), ROWS) };
  }

  it('retries the shard of a SIGKILLed worker elsewhere; every shard merged once, in order, as one process writes it', async () => {
    const { workdir, events, inputs } = await setUp('killed');
    suite.workers = [0, 1, 2].map(() => spawnWorker(suite.redis.url, workdir, { TOY_EVENTS: events }));
    await Promise.all(suite.workers.map((w) => w.waitFor(/^worker .* serving toy/)));
    const log = memoryLogger();
    const result = submitStage({ queueUrl: suite.redis.url, workspace: new Workspace(workdir), stage: toyStage, params: { delayMs: 40 }, inputs, shardSize: SHARD_SIZE, log });
    const victim = suite.workers[0]!;
    const started = await victim.waitFor(/^started toy shard/);
    victim.child.kill('SIGKILL');
    const killedShard = /shard (\d+) /.exec(started)![1];
    const artifact = await result;
    expect(artifact.cached).toBe(false);
    expect(await readFile(path.join(artifact.dir, TOY_OUTPUT))).toEqual(await singleProcessOutput(suite.dir, inputs));
    expect(artifact.manifest.rows).toEqual({ rows: ROWS });
    expect(artifact.manifest.extra).toMatchObject({ queue: { shards: SHARDS, shardSize: SHARD_SIZE } });
    const lines = await readEvents(events);
    expect(lines.filter((l) => l.startsWith('merge'))).toHaveLength(1);
    const survivors = new Set(suite.workers.slice(1).map((w) => String(w.child.pid)));
    // The victim never finished a shard: each was written by a survivor, each once.
    const shards = lines.filter((l) => l.startsWith('shard')).map((l) => l.split(' '));
    expect(shards.map(([, index]) => Number(index)).sort((a, b) => a - b)).toEqual([...Array(SHARDS).keys()]);
    expect(shards.every(([, , pid]) => survivors.has(pid!))).toBe(true);
    expect(victim.output()).not.toMatch(new RegExp(`^done toy shard ${killedShard} `, 'm'));
    expect(suite.workers.slice(1).some((w) => new RegExp(`^started toy shard ${killedShard} `, 'm').test(w.output()))).toBe(true);
    // A resubmission finds the artifact.
    const again = await submitStage({ queueUrl: suite.redis.url, workspace: new Workspace(workdir), stage: toyStage, params: { delayMs: 40 }, inputs, shardSize: SHARD_SIZE, log });
    expect(again).toMatchObject({ cached: true, dir: artifact.dir });
  });

  it('two producers submitting the same stage at once: the work is done once and both get the artifact', async () => {
    const { workdir, events, inputs } = await setUp('twice');
    suite.workers = [0, 1].map(() => spawnWorker(suite.redis.url, workdir, { TOY_EVENTS: events }));
    await Promise.all(suite.workers.map((w) => w.waitFor(/^worker .* serving toy/)));
    const submit = () => submitStage({ queueUrl: suite.redis.url, workspace: new Workspace(workdir), stage: toyStage, params: { delayMs: 10 }, inputs, shardSize: SHARD_SIZE, log: memoryLogger() });
    const [a, b] = await Promise.all([submit(), submit()]);
    expect(a.dir).toBe(b.dir);
    expect(a.manifest.key).toBe(b.manifest.key);
    const lines = await readEvents(events);
    expect(lines.filter((l) => l.startsWith('merge'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('shard'))).toHaveLength(SHARDS);
  });

  it('a worker of another code version or engine refuses the job, naming both, and the producer fails in one line', async () => {
    const { workdir, inputs } = await setUp('mismatch');
    suite.workers = [spawnWorker(suite.redis.url, workdir, { TOY_CODE_VERSION: 'toy-2', TOY_ENGINE: 'onnx-cuda' })];
    await suite.workers[0]!.waitFor(/^worker .* serving toy/);
    const failure = await submitStage({ queueUrl: suite.redis.url, workspace: new Workspace(workdir), stage: toyStage, params: { delayMs: 0 }, inputs, shardSize: SHARD_SIZE, log: memoryLogger() }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(UserError);
    const message = (failure as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toMatch(/needs code version toy-1 on engine cpu, this worker runs code version toy-2 on engine onnx-cuda; refused/);
    expect(message).toMatch(/after 1 attempts/);
  });

  it('queues small jobs under its workdir prefix, keeps gc off the partial directory, and Ctrl-C removes what is queued', async () => {
    const { workdir, inputs } = await setUp('cancel');
    const workspace = new Workspace(workdir);
    const stop = new AbortController();
    const log = memoryLogger();
    const result = submitStage({ queueUrl: suite.redis.url, workspace, stage: toyStage, params: { delayMs: 0 }, inputs, shardSize: SHARD_SIZE, log, signal: stop.signal }).catch((e: unknown) => e);
    const queue = new Queue('toy', { connection: { host: '127.0.0.1', port: suite.redis.port }, prefix: queuePrefix(workdir) });
    const otherWorkdir = new Queue('toy', { connection: { host: '127.0.0.1', port: suite.redis.port }, prefix: queuePrefix(path.join(suite.dir, 'elsewhere')) });
    try {
      await expect.poll(() => queue.getWaitingCount(), { timeout: 10_000 }).toBe(SHARDS);
      expect(await otherWorkdir.getWaitingCount()).toBe(0);
      for (const job of await queue.getWaiting()) expect(JSON.stringify(job.data).length).toBeLessThan(1_000);
      const key = (await queue.getWaiting())[0]!.data.key as string;
      const gc = await new Workspace(workdir).lockForRemoval('toy', key);
      expect(gc).toEqual({ heldBy: expect.stringMatching(/^queue workers writing its shards/) });
      stop.abort();
      expect(await result).toBeInstanceOf(InterruptedError);
      expect(log.lines).toContain(`cancelled toy ${key}: removed its queued jobs; none was running`);
      const counts = await queue.getJobCounts();
      expect(Object.values(counts).every((n) => n === 0)).toBe(true);
    } finally {
      await Promise.all([queue.close(), otherWorkdir.close()]);
    }
  });

  it('Ctrl-C while a shard runs says it will finish; a rerun right away reuses it and completes', async () => {
    const { workdir, events, inputs } = await setUp('cancel-running');
    suite.workers = [spawnWorker(suite.redis.url, workdir, { TOY_EVENTS: events })];
    await suite.workers[0]!.waitFor(/^worker .* serving toy/);
    const stop = new AbortController();
    const log = memoryLogger();
    const submit = (signal?: AbortSignal) =>
      submitStage({ queueUrl: suite.redis.url, workspace: new Workspace(workdir), stage: toyStage, params: { delayMs: 100 }, inputs, shardSize: 10, log, signal });
    const first = submit(stop.signal).catch((e: unknown) => e);
    const started = await suite.workers[0]!.waitFor(/^started toy shard/);
    stop.abort();
    expect(await first).toBeInstanceOf(InterruptedError);
    const shard = /shard (\d+) \(rows (\d+-\d+)\)/.exec(started)!;
    expect(log.lines.at(-1)).toMatch(new RegExp(`^cancelled toy \\w+: removed ${ROWS / 10 - 1} queued jobs; still running, will finish: shard ${shard[1]} \\(rows ${shard[2]}\\)$`));
    const artifact = await submit();
    expect(await readFile(path.join(artifact.dir, TOY_OUTPUT))).toEqual(await singleProcessOutput(suite.dir, inputs));
    const lines = await readEvents(events);
    expect(lines.filter((l) => l.startsWith('shard'))).toHaveLength(ROWS / 10);
    expect(lines.filter((l) => l.startsWith('merge'))).toHaveLength(1);
  });

  it('runs a single-job stage (as train) on a worker that serves it', async () => {
    const { workdir, inputs } = await setUp('single');
    suite.workers = [spawnWorker(suite.redis.url, workdir, {}, ['--stages', 'toy-train'])];
    await suite.workers[0]!.waitFor(/^worker .* serving toy-train /);
    const artifact = await submitStage({ queueUrl: suite.redis.url, workspace: new Workspace(workdir), stage: toyTrainStage, params: {}, inputs, log: memoryLogger() });
    const rowsFile = (inputs.rows as { path: string }).path;
    expect(await readFile(path.join(artifact.dir, TOY_MODEL), 'utf8')).toBe(`${sha256Hex(await readFile(rowsFile))}\n`);
    expect(artifact.manifest).toMatchObject({ stage: 'toy-train', codeVersion: 'toy-1', rows: { rows: ROWS } });
    expect(suite.workers[0]!.output()).toMatch(/^done toy-train single of \w+ in /m);
  });

  it('a shard failing for good fails the stage in one line after its retries; a rerun with healthy workers completes', async () => {
    const { workdir, inputs } = await setUp('failing');
    suite.workers = [spawnWorker(suite.redis.url, workdir, { TOY_FAIL_SHARD: '1' })];
    await suite.workers[0]!.waitFor(/^worker .* serving toy/);
    const submit = () => submitStage({ queueUrl: suite.redis.url, workspace: new Workspace(workdir), stage: toyStage, params: { delayMs: 0 }, inputs, shardSize: SHARD_SIZE, log: memoryLogger() });
    const failure = await submit().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(UserError);
    expect((failure as Error).message).toMatch(/^toy \w+ failed on the queue: shard 1 \(rows 5-10\): toy: disk on fire \(after 3 attempts\)$/);
    await stopWorkers(suite.workers);
    suite.workers = [spawnWorker(suite.redis.url, workdir)];
    const artifact = await submit();
    expect(await readFile(path.join(artifact.dir, TOY_OUTPUT))).toEqual(await singleProcessOutput(suite.dir, inputs));
  });
});
