import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError, memoryLogger } from '@flowers/core';
import { checkRedis, parseQueueUrl, PASSWORD_ENV, queuePrefix } from '../src/index.ts';
import { spawnWorker, tempDir } from './fixtures.ts';
import { freePort, startRedis, type RedisServer } from './redis_server.ts';

describe('parseQueueUrl', () => {
  it('reads host, port, TLS, database and credentials, and redacts the password', () => {
    const plain = parseQueueUrl('redis://10.0.0.5:6380', {});
    expect(plain).toMatchObject({ host: '10.0.0.5', port: 6380, tls: false, db: 0, redacted: 'redis://10.0.0.5:6380' });
    const full = parseQueueUrl('rediss://alice:s%3Acret@cache.example:6390/2', {});
    expect(full).toMatchObject({ host: 'cache.example', port: 6390, tls: true, db: 2, username: 'alice', password: 's:cret' });
    expect(full.redacted).toBe('rediss://alice:***@cache.example:6390/2');
    expect(parseQueueUrl('redis://:pw@h', {})).toMatchObject({ port: 6379, password: 'pw', redacted: 'redis://:***@h' });
  });

  it('takes the password from the environment when the URL has none', () => {
    const parsed = parseQueueUrl('redis://h:1', { [PASSWORD_ENV]: 'from-env' });
    expect(parsed.password).toBe('from-env');
    expect(parsed.redacted).toBe('redis://:***@h:1');
  });

  it('refuses a bad URL in one line that never repeats it', () => {
    for (const url of ['localhost:6379', 'http://h:1', 'redis://:hunter2@', 'redis://h:1/abc']) {
      expect(() => parseQueueUrl(url, {})).toThrow(UserError);
      try {
        parseQueueUrl(url, {});
      } catch (error) {
        expect((error as Error).message).not.toContain('hunter2');
        expect((error as Error).message).not.toContain('\n');
      }
    }
  });
});

describe('queuePrefix', () => {
  it('differs between workdirs and is the same for one workdir however it is spelled', () => {
    expect(queuePrefix('/data/a')).not.toBe(queuePrefix('/data/b'));
    expect(queuePrefix('/data/a')).toBe(queuePrefix('/data/x/../a/'));
  });
});

describe('checkRedis', () => {
  let dir: string;
  let redis: RedisServer;
  beforeAll(async () => {
    dir = await tempDir();
    redis = await startRedis(dir, ['--requirepass', 'hunter2', '--maxmemory-policy', 'allkeys-lru']);
  });
  afterAll(async () => {
    await redis?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('fails fast, in one line, when nothing listens on the port', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const started = performance.now();
    const failure = await checkRedis(parseQueueUrl(url, {}), memoryLogger()).catch((error: unknown) => error);
    expect(performance.now() - started).toBeLessThan(4_000);
    expect(failure).toBeInstanceOf(UserError);
    expect((failure as Error).message).toMatch(/^cannot use Redis at redis:\/\/127\.0\.0\.1:\d+: connection refused/);
  });

  it('names refused credentials without the password, and warns when keys may be evicted', async () => {
    const wrong = await checkRedis(parseQueueUrl(`redis://:wrong-pw@127.0.0.1:${redis.port}`, {}), memoryLogger()).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(UserError);
    expect((wrong as Error).message).toMatch(/refused the credentials/);
    expect((wrong as Error).message).not.toContain('wrong-pw');
    const log = memoryLogger();
    await checkRedis(parseQueueUrl(`redis://127.0.0.1:${redis.port}`, { [PASSWORD_ENV]: 'hunter2' }), log);
    expect(log.lines).toEqual([expect.stringMatching(/^warning: Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ has maxmemory-policy allkeys-lru; BullMQ needs noeviction/)]);
  });

  it('a worker process prints no password, and exits non-zero in one line when Redis is unreachable or the URL bad', async () => {
    const workdir = await tempDir();
    try {
      const worker = spawnWorker(`redis://:hunter2@127.0.0.1:${redis.port}`, workdir);
      await worker.waitFor(/^worker \d+@\S+ serving toy, toy-train from redis:\/\/:\*\*\*@127/);
      worker.child.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
      expect(worker.output()).not.toContain('hunter2');

      for (const url of [`redis://127.0.0.1:${await freePort()}`, 'redis//nope']) {
        const started = performance.now();
        const failing = spawnWorker(url, workdir);
        expect((await failing.exited).code).toBe(1);
        expect(performance.now() - started).toBeLessThan(10_000);
        expect(failing.output().trim().split('\n')).toHaveLength(1);
      }
    } finally {
      await rm(workdir, { recursive: true, force: true });
    }
  });
});
