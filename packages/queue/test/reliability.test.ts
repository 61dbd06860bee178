import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UserError, Workspace, memoryLogger, type Artifact } from '@flowers/core';
import { submitStage } from '../src/index.ts';
import { singleProcessOutput, spawnWorker, stopWorkers, tempDir, writeRows, type WorkerProcess } from './fixtures.ts';
import { startRedis, type RedisServer } from './redis_server.ts';
import { TOY_OUTPUT, toyStage } from './toy_stage.ts';

describe('workers and producers across interruptions', () => {
  let dir: string;
  let workers: WorkerProcess[] = [];
  const servers: RedisServer[] = [];
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await stopWorkers(workers);
    workers = [];
    await Promise.all(servers.splice(0).map((s) => s.kill()));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a worker stopped with SIGTERM mid-shard finishes that shard and exits 0; the stage completes', async () => {
    const redis = await startRedis(dir);
    servers.push(redis);
    const workdir = path.join(dir, 'sigterm');
    const inputs = await writeRows(await tempDir(), 20);
    workers = [0, 1].map(() => spawnWorker(redis.url, workdir));
    await Promise.all(workers.map((w) => w.waitFor(/^worker .* serving toy/)));
    const result = submitStage({ queueUrl: redis.url, workspace: new Workspace(workdir), stage: toyStage, params: { delayMs: 60 }, inputs, shardSize: 5, log: memoryLogger() });
    const leaving = workers[0]!;
    const started = await leaving.waitFor(/^started toy shard/);
    leaving.child.kill('SIGTERM');
    expect(await leaving.exited).toEqual({ code: 0, signal: null });
    const shard = /shard (\d+) /.exec(started)![1];
    expect(leaving.output()).toMatch(new RegExp(`^done toy shard ${shard} `, 'm'));
    expect(leaving.output()).toMatch(/^worker stopped$/m);
    const artifact = await result;
    expect(await readFile(path.join(artifact.dir, TOY_OUTPUT))).toEqual(await singleProcessOutput(dir, inputs));
  });

  it('Redis killed mid-run and restarted: the run finishes, or fails in one line and a rerun finishes; nothing corrupt is trusted', async () => {
    const redis = await startRedis(dir, ['--appendonly', 'yes']);
    servers.push(redis);
    const workdir = path.join(dir, 'restart');
    const inputs = await writeRows(await tempDir(), 80);
    workers = [0, 1].map(() => spawnWorker(redis.url, workdir));
    await Promise.all(workers.map((w) => w.waitFor(/^worker .* serving toy/)));
    const submit = (): Promise<Artifact> =>
      submitStage({ queueUrl: redis.url, workspace: new Workspace(workdir), stage: toyStage, params: { delayMs: 40 }, inputs, shardSize: 5, log: memoryLogger(), redisTimeoutMs: 15_000 });
    const first = submit().catch((e: unknown) => e);
    await workers[0]!.waitFor(/^done toy shard/);
    await redis.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await redis.restart();
    let outcome = await first;
    if (!(outcome instanceof UserError) && outcome instanceof Error) throw outcome;
    if (outcome instanceof UserError) {
      expect(outcome.message).not.toContain('\n');
      outcome = await submit();
    }
    const artifact = outcome as Artifact;
    const found = await new Workspace(workdir).findArtifact('toy', artifact.manifest.key);
    expect(found).toBeDefined();
    expect(await readFile(path.join(artifact.dir, TOY_OUTPUT))).toEqual(await singleProcessOutput(dir, inputs));
    // The workers rode out the restart: both still serve.
    expect(workers.every((w) => w.child.exitCode === null)).toBe(true);
  });
});
