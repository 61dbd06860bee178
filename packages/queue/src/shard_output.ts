import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fsyncPath, writeDirectoryAtomic } from '@flowers/core';

/** A shard's finished output, inside the artifact's partial directory: present only once complete. */
export function shardOutputDir(partialDir: string, index: number): string {
  return path.join(partialDir, 'shards', String(index));
}

export async function shardDone(partialDir: string, index: number): Promise<boolean> {
  return stat(shardOutputDir(partialDir, index)).then((s) => s.isDirectory(), () => false);
}

/**
 * Builds a shard beside its final name and renames it into place once complete and flushed, so a
 * worker killed mid-shard leaves only a temporary directory that nothing reads.
 */
export async function writeShardAtomically(partialDir: string, index: number, build: (dir: string) => Promise<void>): Promise<void> {
  await writeDirectoryAtomic(shardOutputDir(partialDir, index), async (dir) => {
    await build(dir);
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) await fsyncPath(path.join(entry.parentPath, entry.name));
    }
  });
}
