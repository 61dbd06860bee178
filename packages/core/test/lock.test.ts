import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os, { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { acquireLock, acquireReaderLease, clearStaleLock, liveReaders, memoryLogger, tryAcquireLock } from '../src/index.ts';
import { LEASE_MS, OWNERLESS_STALE_MS } from '../src/lock.ts';

// The owner write can be made to fail as on a full disk.
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return { ...actual, writeFile: vi.fn(actual.writeFile) };
});

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'core-lock-'));
const secondsAgo = (s: number): Date => new Date(Date.now() - s * 1000);

/** A lock directory as another process would leave it. */
function plantLock(owner: string, age = 0): string {
  const dir = path.join(tmp(), 'k.lock');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'owner'), owner);
  utimesSync(path.join(dir, 'owner'), secondsAgo(age), secondsAgo(age));
  utimesSync(dir, secondsAgo(age), secondsAgo(age));
  return dir;
}

const me = `${process.pid}@${hostname()}`;

describe('locks', () => {
  it('take over a lock whose local owner died', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const dir = plantLock(`${dead.stdout.trim()}@${hostname()}`);
    const lock = await acquireLock(dir);
    expect(readFileSync(path.join(dir, 'owner'), 'utf8')).toBe(me);
    await lock.release();
    expect(existsSync(dir)).toBe(false);
  });

  it('make a second taker wait until the first releases, saying what it waits for', async () => {
    const dir = path.join(tmp(), 'y.lock');
    const first = await acquireLock(dir);
    const order: string[] = [];
    const log = memoryLogger();
    const second = acquireLock(dir, { log, what: 'demo k' }).then((lock) => (order.push('second'), lock));
    await new Promise((r) => setTimeout(r, 300));
    order.push('first releases');
    await first.release();
    await (await second).release();
    expect(order).toEqual(['first releases', 'second']);
    expect(log.lines).toEqual([`waiting for demo k: ${dir} is held by process ${process.pid}`]);
  });

  it('let only one of many concurrent takers hold it at a time', async () => {
    const dir = path.join(tmp(), 'z.lock');
    let holders = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const lock = await acquireLock(dir);
        most = Math.max(most, ++holders);
        await new Promise((r) => setTimeout(r, 5));
        holders--;
        await lock.release();
      }),
    );
    expect(most).toBe(1);
    expect(readdirSync(path.dirname(dir))).toEqual([]);
  });

  it('take over a lock left without an owner (mkdir, then a full disk), after saying so', async () => {
    // As `mkdir -p KEY.lock && : > KEY.lock/owner` leaves it: an empty owner file, just now.
    const dir = plantLock('');
    const log = memoryLogger();
    const lock = await acquireLock(dir, { log, what: 'ingest k' });
    expect(readFileSync(path.join(dir, 'owner'), 'utf8')).toBe(me);
    expect(log.lines[0]).toBe(`waiting for ingest k: ${dir} is held by nobody (no readable owner file; taken over once it has had none for ${OWNERLESS_STALE_MS / 1000} s)`);
    await lock.release();
  }, 30_000);

  it('leave no lock behind when the owner file cannot be written, naming the file', async () => {
    const dir = path.join(tmp(), 'full.lock');
    vi.mocked(writeFile).mockRejectedValueOnce(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    await expect(acquireLock(dir)).rejects.toThrow(/^cannot write .*full\.lock\.new-[\w-]+\/owner: the disk is full \(ENOSPC\)/);
    expect(readdirSync(path.dirname(dir))).toEqual([]);
    await (await acquireLock(dir)).release();
  });

  it("judge another host's lock by its lease, not by the local pid table", async () => {
    const fresh = plantLock('1@elsewhere.example', 1);
    expect(await clearStaleLock(fresh)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    const expired = plantLock('1@elsewhere.example', LEASE_MS / 1000 + 60);
    const lock = await acquireLock(expired);
    expect(readFileSync(path.join(expired, 'owner'), 'utf8')).toBe(me);
    await lock.release();
  }, 30_000);

  it('renew the lease while held (heartbeat on the owner file)', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const dir = path.join(tmp(), 'h.lock');
      const lock = await acquireLock(dir);
      const owner = path.join(dir, 'owner');
      utimesSync(owner, secondsAgo(3600), secondsAgo(3600));
      vi.advanceTimersByTime(LEASE_MS);
      await vi.waitFor(() => expect(Date.now() - statSync(owner).mtimeMs).toBeLessThan(LEASE_MS));
      await lock.release();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('tryAcquireLock', () => {
  it('names the live holder instead of waiting, and takes over a stale lock', async () => {
    const dir = path.join(tmp(), 't.lock');
    const held = await acquireLock(dir);
    expect(await tryAcquireLock(dir)).toEqual({ heldBy: `process ${process.pid}` });
    await held.release();
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim();
    const stale = plantLock(`${dead}@${hostname()}`);
    const taken = await tryAcquireLock(stale);
    if ('heldBy' in taken) throw new Error(`held by ${taken.heldBy}`);
    expect(readFileSync(path.join(stale, 'owner'), 'utf8')).toBe(me);
    await taken.release();
  });
});

describe('reader leases', () => {
  /** A lease directory as another reader would leave it in `readersDir`. */
  function plantLease(readersDir: string, name: string, owner: string, age: number): string {
    const dir = path.join(readersDir, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'owner'), owner);
    utimesSync(path.join(dir, 'owner'), secondsAgo(age), secondsAgo(age));
    return dir;
  }

  it('are held by any number of readers at once and end on release', async () => {
    const readersDir = path.join(tmp(), 'k.readers');
    const leases = await Promise.all([acquireReaderLease(readersDir), acquireReaderLease(readersDir)]);
    expect(await liveReaders(readersDir)).toEqual([`process ${process.pid}`, `process ${process.pid}`]);
    await Promise.all(leases.map((lease) => lease.release()));
    expect(await liveReaders(readersDir)).toEqual([]);
    expect(readdirSync(readersDir)).toEqual([]);
  });

  it("count a dead local reader and another host's expired lease as gone (and remove them), another host's fresh lease as live", async () => {
    const readersDir = path.join(tmp(), 'k.readers');
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim();
    plantLease(readersDir, 'dead', `${dead}@${hostname()}`, 0);
    plantLease(readersDir, 'expired', '1@elsewhere.example', LEASE_MS / 1000 + 60);
    plantLease(readersDir, 'fresh', '1@elsewhere.example', 1);
    const readers = await liveReaders(readersDir);
    expect(readers).toHaveLength(1);
    expect(readers[0]).toBe(`process 1 on elsewhere.example (last heartbeat 1 s ago, lease ${LEASE_MS / 1000} s)`);
    expect(readdirSync(readersDir)).toEqual(['fresh']);
  });
});
