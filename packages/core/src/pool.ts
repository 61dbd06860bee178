import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { canonicalJson } from './hash.ts';
import { stopIfInterrupted } from './interrupt.ts';
import { KeptWarm } from './kept_warm.ts';

export { Piscina };

/** Default worker count: one per core. */
export function defaultWorkerCount(): number {
  return availableParallelism();
}

export interface PoolOptions {
  /** Passed to every worker as `workerData`. */
  workerData?: unknown;
  /**
   * Tasks one worker runs at once (default 1). Workers whose tasks mostly wait on sharp, which
   * decodes on libuv's threads, take 2: the thread then hashes or warps one image while libvips
   * decodes the next, instead of idling through every decode.
   */
  tasksPerWorker?: number;
}

/**
 * A piscina pool over a worker module. Our sources are TypeScript run through tsx, so a `.ts`
 * worker gets the tsx loader explicitly (test runners do not pass their loaders on to threads).
 * Callers keep at most `workers * (tasksPerWorker + 8)` tasks submitted (running + queued).
 */
export function createPool(workerUrl: URL, workers: number, { workerData, tasksPerWorker = 1 }: PoolOptions = {}): Piscina {
  const execArgv = workerUrl.pathname.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
  return new Piscina({
    filename: workerUrl.href,
    minThreads: workers,
    maxThreads: workers,
    concurrentTasksPerWorker: tasksPerWorker,
    // A few queued tasks per thread keep every core busy without buffering the whole dataset.
    maxQueue: workers * 8,
    idleTimeout: 30_000,
    execArgv,
    workerData,
  });
}

/** Pools kept by a long-lived process (a queue worker) between jobs, by worker module and options. */
const warmPools = new KeptWarm<Piscina>((pool) => pool.destroy());

/**
 * Runs `use` on a pool of `workers` threads over `workerUrl`. With `keepWarm`, the pool is the one
 * kept from an earlier call with the same module and options (made, and kept, when there is none):
 * starting threads that load sharp and the TypeScript loader takes a quarter of a second, a cost a
 * queue worker would otherwise pay for every shard. Without, a fresh pool is destroyed after use.
 * A use that fails drops the pool, which may hold abandoned tasks.
 */
export function withPool<T>(workerUrl: URL, workers: number, options: PoolOptions & { keepWarm?: boolean }, use: (pool: Piscina) => Promise<T>): Promise<T> {
  const { keepWarm = false, ...poolOptions } = options;
  const key = canonicalJson({ worker: workerUrl.href, workers, ...poolOptions });
  return warmPools.use(key, keepWarm, async () => createPool(workerUrl, workers, poolOptions), use);
}

/** Destroys the pools kept warm (a queue worker, when it stops). */
export function releaseWarmPools(): Promise<void> {
  return warmPools.release();
}

/**
 * Runs `task(item)` for each item on the pool with bounded concurrency and hands results to
 * `onResult` in input order, so outputs are deterministic whatever the scheduling. Between two
 * results it stops once interrupted (see runInterruptibly); tasks in flight are abandoned.
 */
export async function mapOrdered<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<R>,
  onResult: (result: R, index: number) => Promise<void> | void,
): Promise<void> {
  const pending = new Map<number, Promise<R>>();
  let next = 0;
  const launch = (): void => {
    while (next < items.length && pending.size < concurrency) {
      const index = next++;
      const promise = task(items[index]!, index);
      // Attach a handler now so a failure is not reported as unhandled before we await it.
      promise.catch(() => undefined);
      pending.set(index, promise);
    }
  };
  launch();
  for (let index = 0; index < items.length; index++) {
    stopIfInterrupted(`after ${index} of ${items.length} items`);
    const result = await pending.get(index)!;
    pending.delete(index);
    launch();
    await onResult(result, index);
  }
}
