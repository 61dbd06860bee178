import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';

export interface Lock {
  release(): Promise<void>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A lock directory (mkdir is atomic) holding the owner's pid. A lock whose owner died (kill -9)
 * is taken over. `onWait` is called once when another live process holds the lock.
 */
export async function acquireLock(lockDir: string, onWait?: (owner: string) => void): Promise<Lock> {
  await mkdir(path.dirname(lockDir), { recursive: true });
  const me = `${process.pid}@${hostname()}`;
  let told = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(path.join(lockDir, 'owner'), me);
      return { release: () => rm(lockDir, { recursive: true, force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readFile(path.join(lockDir, 'owner'), 'utf8').catch(() => '');
    const [pidText, host] = owner.split('@');
    const pid = Number(pidText);
    // An owner file not yet written means the lock is being taken right now: wait.
    if (owner && host === hostname() && !processAlive(pid)) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (!told && owner) {
      told = true;
      onWait?.(owner);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
