import { statfs, mkdir } from 'node:fs/promises';
import { UserError } from './errors.ts';

/** Stops before a big write that cannot fit, rather than dying half-way with ENOSPC. */
export async function ensureFreeSpace(dir: string, bytesNeeded: number, what: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const stats = await statfs(dir);
  const free = stats.bavail * stats.bsize;
  // Keep a margin: the estimate is rough and other files share the disk.
  if (free < bytesNeeded * 1.1 + 64 * 2 ** 20) {
    throw new UserError(`not enough disk space in ${dir} for ${what}: needs about ${formatBytes(bytesNeeded)}, ${formatBytes(free)} free`);
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** A failed write as the user should see it: ENOSPC names the file and says the disk is full. */
export function writeFailure(error: unknown, file: string): unknown {
  if ((error as NodeJS.ErrnoException | undefined)?.code !== 'ENOSPC') return error;
  return new UserError(`cannot write ${file}: the disk is full (ENOSPC); free some space (pnpm pipeline gc removes unused artifacts) and rerun`);
}
