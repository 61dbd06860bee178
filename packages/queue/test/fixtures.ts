import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { memoryLogger, sha256File } from '@flowers/core';
import type { InputRef } from '../src/index.ts';
import { startRedis, type RedisServer } from './redis_server.ts';
import { TOY_OUTPUT, toyStage } from './toy_stage.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const WORKER_BIN = path.join(here, '../src/worker_bin.ts');
const TOY_REGISTRY = path.join(here, 'toy_stage.ts');

/** Fast stalled-job detection, so a killed worker's shard is retried within seconds. */
export const FAST_TIMING = { lockDurationMs: 1_500, stalledIntervalMs: 500 };

export const tempDir = (): Promise<string> => mkdtemp(path.join(tmpdir(), 'flowers-queue-'));

/** A text file of `count` rows: the toy stage's input. */
export async function writeRows(dir: string, count: number): Promise<{ rows: InputRef }> {
  const file = path.join(dir, 'rows.txt');
  await writeFile(file, Array.from({ length: count }, (_, i) => `row ${i} ${'x'.repeat(i % 7)}\n`).join(''));
  return { rows: { path: file, key: await sha256File(file) } };
}

/** The toy stage's output from one process, as one shard: what every queue run must equal. */
export async function singleProcessOutput(dir: string, inputs: { rows: InputRef }): Promise<Buffer> {
  const dirs = { rows: (inputs.rows as { path: string }).path };
  const [range] = await toyStage.planShards({ delayMs: 0 }, dirs, Number.MAX_SAFE_INTEGER, { rows: inputs.rows.key });
  const shardDir = path.join(dir, 'reference-shard');
  const mergedDir = path.join(dir, 'reference');
  await mkdir(shardDir, { recursive: true });
  await mkdir(mergedDir, { recursive: true });
  const log = memoryLogger();
  await toyStage.produceShard({ shardDir, params: { delayMs: 0 }, inputs: dirs, keyInputs: { rows: inputs.rows.key }, range: range!, log, signal: new AbortController().signal, reportRows: () => undefined });
  await toyStage.merge({ dir: mergedDir, shardDirs: [shardDir], params: { delayMs: 0 }, inputs: dirs, keyInputs: { rows: inputs.rows.key }, log });
  return readFile(path.join(mergedDir, TOY_OUTPUT));
}

/** Lines of the TOY_EVENTS file: `shard <index> <pid>` and `merge <pid>`. */
export async function readEvents(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves once a line of its output matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A worker process started through the bin script, serving the toy stage. */
export function spawnWorker(queueUrl: string, workdir: string, env: NodeJS.ProcessEnv = {}, extraArgs: string[] = []): WorkerProcess {
  const args = ['--import', 'tsx', WORKER_BIN, '--queue', queueUrl, '--workdir', workdir, '--registry', TOY_REGISTRY];
  args.push('--lock-duration-ms', String(FAST_TIMING.lockDurationMs), '--stalled-interval-ms', String(FAST_TIMING.stalledIntervalMs), ...extraArgs);
  return spawnLogged(process.execPath, args, { cwd: repoRoot, env });
}

/** A process whose stdout and stderr are collected, with a wait for a line of them. */
export function spawnLogged(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): WorkerProcess {
  const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    output: () => output,
    exited,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = output.split('\n').find((line) => pattern.test(line));
          if (match === undefined) return;
          cleanup();
          resolve(match);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${output}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Stops workers the gentle way and waits for them. */
export async function stopWorkers(workers: WorkerProcess[]): Promise<void> {
  for (const worker of workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
}

/** A describe block's loopback Redis, in a temp dir of its own, and the worker processes its tests start. */
export interface RedisSuite {
  readonly dir: string;
  readonly redis: RedisServer;
  /** Stopped after each test. */
  workers: WorkerProcess[];
}

/** Starts Redis before a describe block's tests and stops it after them; stops each test's workers. */
export function useRedisSuite(): RedisSuite {
  const suite = { workers: [] } as unknown as { dir: string; redis: RedisServer; workers: WorkerProcess[] };
  beforeAll(async () => {
    suite.dir = await tempDir();
    suite.redis = await startRedis(suite.dir);
  });
  afterEach(async () => {
    await stopWorkers(suite.workers);
    suite.workers = [];
  });
  afterAll(async () => {
    await suite.redis?.kill();
    await rm(suite.dir, { recursive: true, force: true });
  });
  return suite;
}
