import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitRun, defaultRunName, InterruptedError, memoryLogger, readRun, runStage, stageKey, UserError, validateRunName, Workspace, type StageSpec } from '../src/index.ts';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'core-artifacts-'));
const spec = (params: unknown): StageSpec => ({ stage: 'demo', codeVersion: 'v1', params, inputs: { data: 'abc' } });

describe('stage keys', () => {
  it('change with code, parameters and inputs, and not with key order', () => {
    const base = stageKey(spec({ a: 1, b: [1, 2] }));
    expect(stageKey(spec({ b: [1, 2], a: 1 }))).toBe(base);
    expect(stageKey(spec({ a: 2, b: [1, 2] }))).not.toBe(base);
    expect(stageKey({ ...spec({ a: 1, b: [1, 2] }), codeVersion: 'v2' })).not.toBe(base);
    expect(stageKey({ ...spec({ a: 1, b: [1, 2] }), inputs: { data: 'abd' } })).not.toBe(base);
    expect(base).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('runStage', () => {
  it('produces once, then answers from the cache with the same manifest', async () => {
    const workspace = new Workspace(tmp());
    const log = memoryLogger();
    let calls = 0;
    const produce = async ({ dir }: { dir: string }) => {
      calls++;
      writeFileSync(path.join(dir, 'out.txt'), 'hello');
      return { rows: { lines: 1 } };
    };
    const first = await runStage(workspace, spec({ a: 1 }), produce, { log });
    const second = await runStage(workspace, spec({ a: 1 }), produce, { log });
    expect(calls).toBe(1);
    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(log.lines).toContain(`cached demo ${first.manifest.key}`);
    expect(second.manifest).toEqual(first.manifest);
    expect(first.manifest.outputs).toEqual([{ file: 'out.txt', bytes: 5, sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' }]);
    await runStage(workspace, spec({ a: 1 }), produce, { log, force: true });
    expect(calls).toBe(2);
  });

  it('leaves no artifact when the producer fails, and a damaged artifact is redone', async () => {
    const workspace = new Workspace(tmp());
    const log = memoryLogger();
    await expect(
      runStage(workspace, spec({ a: 1 }), async ({ dir }) => {
        writeFileSync(path.join(dir, 'half.txt'), 'half');
        throw new Error('boom');
      }, { log }),
    ).rejects.toThrow('boom');
    expect(readdirSync(path.join(workspace.artifactsDir, 'demo')).filter((e) => !e.startsWith('.') && !e.endsWith('.lock'))).toEqual([]);
    const good = await runStage(workspace, spec({ a: 1 }), async ({ dir }) => (writeFileSync(path.join(dir, 'f.txt'), 'complete'), {}), { log });
    writeFileSync(path.join(good.dir, 'f.txt'), 'trunc');
    const redone = await runStage(workspace, spec({ a: 1 }), async ({ dir }) => (writeFileSync(path.join(dir, 'f.txt'), 'complete'), {}), { log });
    expect(redone.cached).toBe(false);
    expect(readFileSync(path.join(redone.dir, 'f.txt'), 'utf8')).toBe('complete');
  });

  it('removes the partial directory of a failed stage', async () => {
    const workspace = new Workspace(tmp());
    await expect(
      runStage(workspace, spec({ f: 1 }), async ({ dir }) => {
        writeFileSync(path.join(dir, 'half.arrow'), 'half');
        throw new UserError('bad weights');
      }, { log: memoryLogger() }),
    ).rejects.toThrow('bad weights');
    expect(readdirSync(path.join(workspace.artifactsDir, 'demo')).filter((e) => !e.endsWith('.lock'))).toEqual([]);
  });

  it('keeps an interrupted attempt for --resume, and discards it otherwise', async () => {
    const workspace = new Workspace(tmp());
    const log = memoryLogger();
    const interrupt = (params: unknown) =>
      expect(
        runStage(workspace, spec(params), async ({ dir }) => {
          writeFileSync(path.join(dir, 'checkpoint'), 'epoch 3');
          throw new InterruptedError('training stopped after epoch 3');
        }, { log }),
      ).rejects.toThrow();
    const seenBy = async (params: unknown, resume: boolean): Promise<string> => {
      let seen = '';
      await runStage(workspace, spec(params), async ({ dir, resuming }) => {
        seen = `${resuming ? 'resuming' : 'fresh'}, ${existsSync(path.join(dir, 'checkpoint')) ? readFileSync(path.join(dir, 'checkpoint'), 'utf8') : 'no checkpoint'}`;
        return {};
      }, { log, resume });
      return seen;
    };
    await interrupt({ r: 1 });
    expect(await seenBy({ r: 1 }, true)).toBe('resuming, epoch 3');
    await interrupt({ r: 2 });
    expect(await seenBy({ r: 2 }, false)).toBe('fresh, no checkpoint');
  });
});

describe('reader leases', () => {
  const log = memoryLogger();
  const produce = async ({ dir }: { dir: string }) => {
    writeFileSync(path.join(dir, 'out.txt'), 'hello');
    return {};
  };
  /** Who reads the artifact, as `pipeline gc` sees it. */
  async function readersSeenByGc(root: string, key: string): Promise<string[]> {
    const lock = await new Workspace(root).lockForRemoval('demo', key);
    if ('heldBy' in lock) throw new Error(`locked by ${lock.heldBy}`);
    await lock.release();
    return lock.readers;
  }

  it('keep a produced or cached artifact from removal until each process releases its own', async () => {
    const root = tmp();
    const producer = new Workspace(root);
    const { key } = (await runStage(producer, spec({ a: 1 }), produce, { log })).manifest;
    // Another pipeline command in the same workdir, answered from the cache.
    const reader = new Workspace(root);
    expect((await runStage(reader, spec({ a: 1 }), produce, { log })).cached).toBe(true);
    expect(await readersSeenByGc(root, key)).toEqual([`process ${process.pid}`, `process ${process.pid}`]);
    await producer.releaseReaderLeases();
    expect(await readersSeenByGc(root, key)).toEqual([`process ${process.pid}`]);
    await reader.releaseReaderLeases();
    expect(await readersSeenByGc(root, key)).toEqual([]);
    expect(readdirSync(producer.readerLeasesDir('demo', key))).toEqual([]);
  });

  it('are not needed while a stage works on the key: its lock keeps gc away', async () => {
    const workspace = new Workspace(tmp());
    let seenByGc: unknown;
    await runStage(workspace, spec({ a: 2 }), async (context) => {
      seenByGc = await workspace.lockForRemoval('demo', context.key);
      return produce(context);
    }, { log });
    expect(seenByGc).toEqual({ heldBy: `process ${process.pid}` });
    await workspace.releaseReaderLeases();
  });
});

describe('runs', () => {
  it('replace a run only when the new one succeeds', async () => {
    const workspace = new Workspace(tmp());
    const log = memoryLogger();
    const record = (accuracy: number) => async (dir: string) => {
      writeFileSync(path.join(dir, 'metrics.json'), String(accuracy));
      return { name: 'r', experiment: 'e', createdAt: new Date().toISOString(), artifacts: {}, params: {}, metrics: { accuracy, macro_f1: accuracy } };
    };
    await commitRun(workspace, 'r', record(0.5), log);
    await expect(commitRun(workspace, 'r', async () => { throw new Error('training failed'); }, log)).rejects.toThrow('training failed');
    expect((await readRun(workspace, 'r')).metrics?.accuracy).toBe(0.5);
    await commitRun(workspace, 'r', record(0.9), log);
    expect((await readRun(workspace, 'r')).metrics?.accuracy).toBe(0.9);
    expect(log.lines).toContain("replaced the earlier run 'r'");
    expect(readdirSync(workspace.runsDir).filter((e) => e !== 'r' && !e.endsWith('.lock'))).toEqual([]);
    await expect(commitRun(workspace, '../evil', record(1), log)).rejects.toThrow(/invalid run name/);
  });

  it('get default names that differ even when started in the same millisecond, and sort by time', () => {
    const now = new Date('2026-01-01T12:00:00.123Z');
    const names = Array.from({ length: 20 }, () => defaultRunName('best', now));
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(validateRunName(name)).toMatch(/^best-20260101-120000\.123Z-[0-9a-f]{6}$/);
    expect(defaultRunName('best', new Date('2026-01-01T12:00:00.124Z')) > names[0]!).toBe(true);
  });
});
