import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquirePartialWriterLease, commitArtifactDir, isArtifact, livePartialWriters, memoryLogger, runStage, stageKey, UserError, Workspace, type StageSpec } from '../src/index.ts';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'core-partial-'));
const spec: StageSpec = { stage: 'demo', codeVersion: 'v1', params: { a: 1 }, inputs: { data: 'abc' } };

describe('commitArtifactDir', () => {
  it('commits a directory produced outside runStage as the artifact, with its manifest', async () => {
    const workspace = new Workspace(tmp());
    const key = stageKey(spec);
    const built = path.join(workspace.partialDir('demo', key), 'merged');
    mkdirSync(path.join(built, 'sub'), { recursive: true });
    writeFileSync(path.join(built, 'sub', 'out.txt'), 'hello');
    const manifest = await commitArtifactDir(workspace, spec, built, { rows: { lines: 1 }, extra: { queue: { shards: 2 } } }, performance.now());
    expect(manifest).toMatchObject({ stage: 'demo', key, codeVersion: 'v1', rows: { lines: 1 }, extra: { queue: { shards: 2 } } });
    expect(manifest.outputs).toEqual([{ file: 'sub/out.txt', bytes: 5, sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' }]);
    const found = await workspace.findArtifact('demo', key);
    expect(isArtifact(found) && found.manifest).toEqual(manifest);
    expect(readdirSync(path.join(workspace.artifactsDir, 'demo', key)).sort()).toEqual(['manifest.json', 'sub']);
  });
});

describe('partial writer leases', () => {
  it('keep gc off a key while held, and stop counting once released', async () => {
    const workspace = new Workspace(tmp());
    const lease = await acquirePartialWriterLease(workspace, 'demo', 'k1');
    expect(await livePartialWriters(workspace, 'demo', 'k1')).toEqual([`process ${process.pid}`]);
    expect(await workspace.lockForRemoval('demo', 'k1')).toEqual({ heldBy: `queue workers writing its shards (process ${process.pid})` });
    await lease.release();
    const removal = await workspace.lockForRemoval('demo', 'k1');
    expect(removal).toMatchObject({ readers: [] });
    if ('release' in removal) await removal.release();
  });

  it('keep a local runStage of the same key from clearing the shards they write', async () => {
    const workspace = new Workspace(tmp());
    const key = stageKey(spec);
    const shard = path.join(workspace.partialDir('demo', key), 'shards', '0');
    mkdirSync(shard, { recursive: true });
    writeFileSync(path.join(shard, 'out.txt'), 'written by a queue worker');
    const lease = await acquirePartialWriterLease(workspace, 'demo', key);
    const produce = async ({ dir }: { dir: string }) => {
      writeFileSync(path.join(dir, 'out.txt'), 'local');
      return {};
    };
    const run = runStage(workspace, spec, produce, { log: memoryLogger() });
    await expect(run).rejects.toThrow(UserError);
    await expect(run).rejects.toThrow(/queue workers are writing its shards \(process \d+\)/);
    expect(readdirSync(shard)).toEqual(['out.txt']);
    await lease.release();
    const artifact = await runStage(workspace, spec, produce, { log: memoryLogger() });
    expect(readdirSync(artifact.dir).sort()).toEqual(['manifest.json', 'out.txt']);
  });
});
