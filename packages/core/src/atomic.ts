import { open, rename, rm, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFailure } from './disk.ts';

/** Flushes a file or directory entry to disk, so a rename that follows survives a crash. */
export async function fsyncPath(target: string): Promise<void> {
  const handle = await open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a file under a temporary name, fsyncs it and renames it into place. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw writeFailure(error, file);
  }
}

/**
 * Moves a finished directory into place. An existing target is moved aside first and removed
 * only after the new one is in place, so readers never see a missing or half-written directory.
 */
export async function replaceDirectory(source: string, target: string): Promise<void> {
  const aside = `${target}.old-${process.pid}-${Date.now()}`;
  let movedAside = false;
  try {
    await rename(target, aside);
    movedAside = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await rename(source, target);
  await fsyncPath(path.dirname(target));
  if (movedAside) await rm(aside, { recursive: true, force: true });
}

/**
 * Builds a directory beside `target` and moves it into place only once `build` succeeds; a
 * failed build leaves the old directory (if any) untouched and nothing half-written behind.
 */
export async function writeDirectoryAtomic(target: string, build: (dir: string) => Promise<void>): Promise<void> {
  const partial = `${target}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  try {
    await mkdir(partial, { recursive: true });
    await build(partial);
    await replaceDirectory(partial, target);
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  }
}
