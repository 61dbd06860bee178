/**
 * What a long-lived process (a queue worker) keeps between jobs, so that each shard does not pay
 * again for making it: thread pools, a prepared base. Each is kept under the key of what it was
 * made for, at most `capacity` at once (the oldest is disposed to make room). A use that fails
 * drops what it used, which may be left broken.
 */
export class KeptWarm<T> {
  private readonly kept = new Map<string, T>();

  constructor(
    private readonly dispose: (resource: T) => Promise<void>,
    private readonly capacity = Number.POSITIVE_INFINITY,
  ) {}

  /**
   * Runs `use` on the resource for `key`. With `keepWarm`, the one kept for it (made, and kept,
   * when there is none); without, a fresh one, disposed after. `reused` says it was kept from before.
   */
  async use<R>(key: string, keepWarm: boolean, make: () => Promise<T>, use: (resource: T, reused: boolean) => Promise<R>): Promise<R> {
    const kept = keepWarm ? this.kept.get(key) : undefined;
    if (keepWarm && kept === undefined) {
      for (const [oldKey, old] of this.kept) {
        if (this.kept.size < this.capacity) break;
        this.kept.delete(oldKey);
        await this.dispose(old);
      }
    }
    const resource = kept ?? (await make());
    if (keepWarm) this.kept.set(key, resource);
    let succeeded = false;
    try {
      const result = await use(resource, kept !== undefined);
      succeeded = true;
      return result;
    } finally {
      if (!keepWarm || !succeeded) {
        if (this.kept.get(key) === resource) this.kept.delete(key);
        await this.dispose(resource);
      }
    }
  }

  /** Disposes everything kept (the process is stopping). */
  async release(): Promise<void> {
    const all = [...this.kept.values()];
    this.kept.clear();
    await Promise.all(all.map((resource) => this.dispose(resource)));
  }
}
