import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { clearStaleLock, listRuns, livePartialWriters, partialWritersRoot, type Workspace } from '@flowers/core';

async function sizeOf(target: string): Promise<number> {
  const info = await stat(target).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const entry of await readdir(target)) total += await sizeOf(path.join(target, entry));
  return total;
}

/** Removes the stale locks (owner dead, lease run out, or no owner) among a directory's entries. */
async function clearStaleLocks(dir: string): Promise<string[]> {
  const cleared: string[] = [];
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    if (entry.endsWith('.lock') && (await clearStaleLock(path.join(dir, entry)))) cleared.push(entry);
  }
  return cleared;
}

/**
 * Deletes stale locks, artifacts that no run refers to, and leftovers of interrupted attempts.
 * Each key is handled under its lock, taken without waiting: a key that a process is working on
 * is skipped, and an artifact that a running pipeline holds a live reader lease on stays until
 * that pipeline has recorded its run; both are listed in `kept`. Returns what it removed, what
 * it kept and why, and the bytes freed.
 */
export async function collectGarbage(workspace: Workspace): Promise<{ removed: string[]; kept: string[]; bytes: number }> {
  const referenced = new Set<string>();
  for (const run of await listRuns(workspace)) for (const [stage, key] of Object.entries(run.artifacts)) referenced.add(`${stage}/${key}`);
  const removed = (await clearStaleLocks(workspace.runsDir)).map((lock) => `runs/${lock}`);
  const kept: string[] = [];
  let bytes = 0;
  const sortedEntries = async (dir: string): Promise<string[]> => (await readdir(dir).catch(() => [] as string[])).sort();
  const stages = new Set([...(await sortedEntries(workspace.artifactsDir)), ...(await sortedEntries(workspace.readersDir))]);
  for (const stage of [...stages].sort()) {
    const stageDir = path.join(workspace.artifactsDir, stage);
    const staleLocks = await clearStaleLocks(stageDir);
    removed.push(...staleLocks.map((lock) => `${stage}/${lock}`));
    const entriesByKey = new Map<string, string[]>();
    for (const entry of await sortedEntries(stageDir)) {
      if (entry.endsWith('.lock')) continue;
      // Leftovers of an attempt or of taking a lock (KEY.old-*, KEY.lock.new-*) belong to KEY.
      const key = entry.replace(/^\.partial-/, '').replace(/\.(old|lock\.\w+)-.*$/, '');
      entriesByKey.set(key, [...(entriesByKey.get(key) ?? []), entry]);
    }
    const leasedKeys = await sortedEntries(path.join(workspace.readersDir, stage));
    for (const key of new Set([...entriesByKey.keys(), ...leasedKeys])) {
      const garbage = (entriesByKey.get(key) ?? []).filter((entry) => !(entry === key && referenced.has(`${stage}/${key}`)));
      if (!garbage.length && !leasedKeys.includes(key)) continue;
      const lock = await workspace.lockForRemoval(stage, key);
      if ('heldBy' in lock) {
        if (garbage.length) kept.push(`${stage}/${key}: locked by ${lock.heldBy}`);
        continue;
      }
      try {
        const inUse = lock.readers.length > 0;
        if (inUse && garbage.includes(key)) kept.push(`${stage}/${key}: in use by ${lock.readers.join(', ')}`);
        // Leftovers go even while the artifact is read: readers use only the complete artifact.
        for (const entry of garbage.filter((e) => !(inUse && e === key))) {
          const target = path.join(stageDir, entry);
          bytes += await sizeOf(target);
          await rm(target, { recursive: true, force: true });
          removed.push(`${stage}/${entry}`);
        }
        // Only stale leases were in it (lockForRemoval removed them), and none is taken while we hold the lock.
        if (!inUse) await rm(workspace.readerLeasesDir(stage, key), { recursive: true, force: true });
      } finally {
        await lock.release();
      }
    }
  }
  await removeIdleWriterDirs(workspace);
  return { removed, kept, bytes };
}

/**
 * Removes `writers/<stage>/<key>/` folders left with no live lease (their stale ones removed).
 * rmdir removes only an empty folder; a queue worker whose lease loses the race with it fails
 * that shard attempt, which BullMQ retries.
 */
async function removeIdleWriterDirs(workspace: Workspace): Promise<void> {
  const writersDir = partialWritersRoot(workspace);
  for (const stage of await readdir(writersDir).catch(() => [] as string[])) {
    for (const key of await readdir(path.join(writersDir, stage)).catch(() => [] as string[])) {
      if (!(await livePartialWriters(workspace, stage, key)).length) await rmdir(path.join(writersDir, stage, key)).catch(() => undefined);
    }
    await rmdir(path.join(writersDir, stage)).catch(() => undefined);
  }
}
