import { describe, expect, it } from 'vitest';
import { KeptWarm } from '../src/index.ts';

/** Resources named `<key>#<n>`, the n-th one made; `disposed` lists the ones disposed, in order. */
function resources(capacity?: number) {
  let made = 0;
  const disposed: string[] = [];
  const kept = new KeptWarm<string>(async (resource) => void disposed.push(resource), capacity);
  const use = (key: string, keepWarm: boolean, fails = false) =>
    kept.use(key, keepWarm, async () => `${key}#${++made}`, async (resource, reused) => {
      if (fails) throw new Error(`${resource} broke`);
      return { resource, reused };
    });
  return { kept, use, disposed };
}

describe('KeptWarm', () => {
  it('keeps a resource for its key between warm uses, and disposes a cold one after use without touching the kept one', async () => {
    const { use, disposed } = resources();
    expect(await use('a', true)).toEqual({ resource: 'a#1', reused: false });
    expect(await use('a', true)).toEqual({ resource: 'a#1', reused: true });
    expect(await use('a', false)).toEqual({ resource: 'a#2', reused: false });
    expect(disposed).toEqual(['a#2']);
    expect(await use('a', true)).toEqual({ resource: 'a#1', reused: true });
  });

  it('at capacity, disposes the oldest kept resource to make room for a new key', async () => {
    const { use, disposed } = resources(1);
    await use('a', true);
    expect(await use('b', true)).toEqual({ resource: 'b#2', reused: false });
    expect(disposed).toEqual(['a#1']);
    expect(await use('b', true)).toEqual({ resource: 'b#2', reused: true });
    expect(await use('a', true)).toEqual({ resource: 'a#3', reused: false });
  });

  it('drops and disposes a resource whose use failed; release disposes the rest', async () => {
    const { kept, use, disposed } = resources();
    await use('a', true);
    await use('b', true);
    await expect(use('a', true, true)).rejects.toThrow('a#1 broke');
    expect(disposed).toEqual(['a#1']);
    expect(await use('a', true)).toEqual({ resource: 'a#3', reused: false });
    await kept.release();
    expect(disposed.sort()).toEqual(['a#1', 'a#3', 'b#2']);
    expect(await use('b', true)).toEqual({ resource: 'b#4', reused: false });
  });
});
