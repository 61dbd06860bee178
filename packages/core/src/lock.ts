import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { writeFailure } from './disk.ts';
import type { Logger } from './log.ts';

export interface Lock {
  release(): Promise<void>;
}

/** Who waits for a lock, and for what: told every few seconds while another process holds it. */
export interface LockWait {
  log: Logger;
  what: string;
}

const OWNER_FILE = 'owner';
/** A lock without a readable owner this long is abandoned (a write that failed, or a kill). */
export const OWNERLESS_STALE_MS = 5_000;
/**
 * Another host's pids mean nothing here: its lock is alive while its owner file is younger than
 * this lease, which the holder renews with a heartbeat.
 */
export const LEASE_MS = 120_000;
const HEARTBEAT_MS = LEASE_MS / 4;
const POLL_MS = 200;
const WAIT_REPORT_MS = 5_000;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const uniqueSuffix = (): string => `${process.pid}-${randomBytes(4).toString('hex')}`;

interface LockState {
  /** The lock directory's inode: a takeover removes only the lock it judged. */
  ino: number;
  holder: string;
  stale: boolean;
}

/** Who holds a lock and whether it is stale; undefined when there is no lock. */
async function inspectLock(lockDir: string): Promise<LockState | undefined> {
  const dirInfo = await stat(lockDir).catch(() => undefined);
  if (!dirInfo) return undefined;
  const ownerFile = path.join(lockDir, OWNER_FILE);
  const [text, ownerInfo] = await Promise.all([readFile(ownerFile, 'utf8').catch(() => ''), stat(ownerFile).catch(() => undefined)]);
  const owner = /^(\d+)@(.+)$/.exec(text.trim());
  const now = Date.now();
  if (!owner) {
    const age = now - Math.max(dirInfo.mtimeMs, ownerInfo?.mtimeMs ?? 0);
    return { ino: dirInfo.ino, holder: `nobody (no readable owner file; taken over once it has had none for ${OWNERLESS_STALE_MS / 1000} s)`, stale: age > OWNERLESS_STALE_MS };
  }
  const [, pid, host] = owner;
  if (host === hostname()) return { ino: dirInfo.ino, holder: `process ${pid}`, stale: !processAlive(Number(pid)) };
  const sinceHeartbeat = now - (ownerInfo?.mtimeMs ?? 0);
  return {
    ino: dirInfo.ino,
    holder: `process ${pid} on ${host} (last heartbeat ${Math.round(sinceHeartbeat / 1000)} s ago, lease ${LEASE_MS / 1000} s)`,
    stale: sinceHeartbeat > LEASE_MS,
  };
}

/**
 * Removes the lock judged stale. It is first renamed aside, which only one of several processes
 * doing this can do; if what was moved is not the lock that was judged (someone took over in
 * between), it goes back.
 */
async function removeJudgedLock(lockDir: string, judged: LockState): Promise<void> {
  const aside = `${lockDir}.stale-${uniqueSuffix()}`;
  try {
    await rename(lockDir, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if ((await stat(aside)).ino !== judged.ino) {
    await rename(aside, lockDir).catch(() => undefined);
    return;
  }
  await rm(aside, { recursive: true, force: true });
}

/** Removes the lock if it is stale; true when it did. */
export async function clearStaleLock(lockDir: string): Promise<boolean> {
  const state = await inspectLock(lockDir);
  if (!state?.stale) return false;
  await removeJudgedLock(lockDir, state);
  return true;
}

/** A complete lock directory under a temporary name, ready to be renamed into place. */
async function writeCandidate(lockDir: string, owner: string): Promise<string> {
  await mkdir(path.dirname(lockDir), { recursive: true });
  const candidate = `${lockDir}.new-${uniqueSuffix()}`;
  await mkdir(candidate);
  const ownerFile = path.join(candidate, OWNER_FILE);
  try {
    await writeFile(ownerFile, owner);
  } catch (error) {
    await rm(candidate, { recursive: true, force: true });
    throw writeFailure(error, ownerFile);
  }
  return candidate;
}

function holdLock(lockDir: string, ino: number): Lock {
  const ownerFile = path.join(lockDir, OWNER_FILE);
  // A failed heartbeat (the lock was taken from us) only lets the lease run out.
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(ownerFile, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  return {
    async release() {
      clearInterval(heartbeat);
      const current = await stat(lockDir).catch(() => undefined);
      if (current?.ino === ino) await rm(lockDir, { recursive: true, force: true });
    },
  };
}

/**
 * Takes the lock, taking over a stale one. While a live process holds it, `whileHeld` is told who
 * and answers whether to keep trying; when it answers no, the holder is returned instead.
 */
async function takeLock(lockDir: string, whileHeld: (holder: string) => Promise<boolean>): Promise<Lock | { heldBy: string }> {
  const owner = `${process.pid}@${hostname()}`;
  let candidate: string | undefined;
  try {
    for (;;) {
      candidate ??= await writeCandidate(lockDir, owner);
      try {
        await rename(candidate, lockDir);
        candidate = undefined;
        return holdLock(lockDir, (await stat(lockDir)).ino);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // ENOENT: `pipeline gc` removed the candidate as a leftover; build another.
        if (code === 'ENOENT') candidate = undefined;
        else if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      }
      const state = await inspectLock(lockDir);
      if (!state) continue;
      if (state.stale) {
        await removeJudgedLock(lockDir, state);
        continue;
      }
      if (!(await whileHeld(state.holder))) return { heldBy: state.holder };
    }
  } finally {
    if (candidate) await rm(candidate, { recursive: true, force: true });
  }
}

/**
 * A lock directory holding its owner (`pid@host`). It is taken by renaming a complete directory
 * into place, which fails while another lock is there, so a lock never lacks its owner file.
 * Stale locks are taken over: a local owner that died, another host's owner whose lease ran
 * out, or a lock with no readable owner for a few seconds (left by older code).
 */
export async function acquireLock(lockDir: string, waiting?: LockWait): Promise<Lock> {
  let lastReport = -Infinity;
  const taken = await takeLock(lockDir, async (holder) => {
    if (waiting && performance.now() - lastReport >= WAIT_REPORT_MS) {
      lastReport = performance.now();
      waiting.log.info(`waiting for ${waiting.what}: ${lockDir} is held by ${holder}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    return true;
  });
  return taken as Lock; // whileHeld never gives up
}

/** The lock, or who holds it (a live process): for work that skips what is busy rather than wait. */
export function tryAcquireLock(lockDir: string): Promise<Lock | { heldBy: string }> {
  return takeLock(lockDir, async () => false);
}

/**
 * A reader lease: a lock of this process's own in `readersDir`, so any number of readers hold
 * one at a time. It is judged stale by the same rules as a lock (and renewed by its heartbeat),
 * so a reader that died or lost its host stops counting without anyone releasing it.
 */
export function acquireReaderLease(readersDir: string): Promise<Lock> {
  return acquireLock(path.join(readersDir, uniqueSuffix()));
}

/** Who holds the live reader leases in `readersDir`, after removing the stale ones. */
export async function liveReaders(readersDir: string): Promise<string[]> {
  const holders: string[] = [];
  for (const entry of await readdir(readersDir).catch(() => [] as string[])) {
    const lease = path.join(readersDir, entry);
    const state = await inspectLock(lease);
    if (!state) continue;
    if (state.stale) await removeJudgedLock(lease, state);
    else holders.push(state.holder);
  }
  return holders;
}
