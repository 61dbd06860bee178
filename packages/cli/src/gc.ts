import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { clearStaleLock, listRuns, type Workspace } from '@flowers/core';

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
 * Deletes stale locks, artifacts that no run refers to, and leftovers of interrupted attempts
 * whose lock is free. Returns what it removed and the bytes freed.
 */
export async function collectGarbage(workspace: Workspace): Promise<{ removed: string[]; bytes: number }> {
  const referenced = new Set<string>();
  for (const run of await listRuns(workspace)) for (const [stage, key] of Object.entries(run.artifacts)) referenced.add(`${stage}/${key}`);
  const removed = (await clearStaleLocks(workspace.runsDir)).map((lock) => `runs/${lock}`);
  let bytes = 0;
  const stages = await readdir(workspace.artifactsDir).catch(() => [] as string[]);
  for (const stage of stages) {
    const stageDir = path.join(workspace.artifactsDir, stage);
    const staleLocks = await clearStaleLocks(stageDir);
    removed.push(...staleLocks.map((lock) => `${stage}/${lock}`));
    const entries = await readdir(stageDir).catch(() => [] as string[]);
    const locked = new Set(entries.filter((e) => e.endsWith('.lock')).map((e) => e.slice(0, -'.lock'.length)));
    for (const entry of entries) {
      if (entry.endsWith('.lock')) continue;
      // Leftovers of an attempt or of taking a lock (KEY.old-*, KEY.lock.new-*) belong to KEY.
      const key = entry.replace(/^\.partial-/, '').replace(/\.(old|lock\.\w+)-.*$/, '');
      // Never touch what a running pipeline process is working on.
      if (locked.has(key)) continue;
      if (!entry.startsWith('.') && !entry.includes('.old-') && referenced.has(`${stage}/${entry}`)) continue;
      const target = path.join(stageDir, entry);
      bytes += await sizeOf(target);
      await rm(target, { recursive: true, force: true });
      removed.push(`${stage}/${entry}`);
    }
  }
  return { removed, bytes };
}
