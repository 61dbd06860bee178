import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryLogger, planPipeline, PIPELINE_LOCK_FILE, runPipeline, Workspace, type PipelineStep, type Stage, type StageEnvironment } from '../src/index.ts';

/** A stage that writes `out.txt`: its params' text, after its input's. */
function textStage(name: string, reads: string[], produced: string[]): Stage<{ text: string }> {
  return {
    name,
    package: '@flowers/core',
    reads: () => reads,
    writes: ['out.txt'],
    libraries: async () => ({}),
    keyInputs: async (_params, inputs) => Object.fromEntries(reads.map((input) => [input, inputs[input]!.manifest.key])),
    async produce({ dir, params, inputs }) {
      produced.push(name);
      const before = reads.length ? await readFile(path.join(inputs[reads[0]!]!.dir, 'out.txt'), 'utf8') : '';
      await writeFile(path.join(dir, 'out.txt'), `${before}${params.text}`);
      return {};
    },
  };
}

describe('the planner', () => {
  let root: string;
  let workspace: Workspace;
  let produced: string[];
  let env: StageEnvironment;
  const steps = (first: string, second: string): PipelineStep[] =>
    [
      { stage: textStage('first', [], produced), params: { text: first } },
      { stage: textStage('second', ['first'], produced), params: { text: second } },
    ] as PipelineStep[];

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'planner-'));
    workspace = new Workspace(root);
    produced = [];
    env = { workers: 1, log: memoryLogger(), signal: new AbortController().signal, pipeline: 'toy' };
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('says a new workdir has everything to build, and why each later stage waits', async () => {
    const plan = await planPipeline(workspace, 'toy', steps('a', 'b'));
    expect(plan.map((p) => [p.stage, p.state, p.reasons])).toEqual([
      ['first', 'build', ['never built in this workdir']],
      ['second', 'build', ['input first is built first']],
    ]);
    expect(plan[1]!.key).toBeUndefined();
    expect(produced).toEqual([]); // planning runs nothing
  });

  it('runs what is missing in order, then finds everything up to date', async () => {
    const artifacts = await runPipeline(workspace, 'toy', steps('a', 'b'), env);
    expect(produced).toEqual(['first', 'second']);
    expect(await readFile(path.join(artifacts.second!.dir, 'out.txt'), 'utf8')).toBe('ab');
    const plan = await planPipeline(workspace, 'toy', steps('a', 'b'));
    expect(plan.map((p) => p.state)).toEqual(['cached', 'cached']);
    expect(plan.map((p) => p.key)).toEqual([artifacts.first!.manifest.key, artifacts.second!.manifest.key]);
    await runPipeline(workspace, 'toy', steps('a', 'b'), env);
    expect(produced).toEqual(['first', 'second']);
    await workspace.releaseReaderLeases();
  });

  it('names the param that changed, against what pipeline.lock says built the stage last', async () => {
    await runPipeline(workspace, 'toy', steps('a', 'b'), env);
    const lock = JSON.parse(await readFile(path.join(root, PIPELINE_LOCK_FILE), 'utf8')) as Record<string, Record<string, { params: unknown }>>;
    expect(lock.toy!.second!.params).toEqual({ text: 'b' });
    const plan = await planPipeline(workspace, 'toy', steps('a', 'c'));
    expect(plan[0]!.state).toBe('cached');
    expect(plan[1]).toMatchObject({ state: 'build', reasons: ['params changed: text "b" → "c"'] });
    // The first stage rebuilt makes the second one's input change.
    await runPipeline(workspace, 'toy', steps('z', 'b'), env);
    await runPipeline(workspace, 'toy', steps('a', 'b'), env);
    expect(produced).toEqual(['first', 'second', 'first', 'second']);
    await workspace.releaseReaderLeases();
  });

  it('says an artifact removed since is missing, and --force rebuilds a cached one', async () => {
    const artifacts = await runPipeline(workspace, 'toy', steps('a', 'b'), env);
    await workspace.releaseReaderLeases();
    await rm(artifacts.second!.dir, { recursive: true });
    expect((await planPipeline(workspace, 'toy', steps('a', 'b')))[1]!.reasons).toEqual(['its artifact is missing (removed by gc, or damaged)']);
    const forced = await planPipeline(workspace, 'toy', steps('a', 'b'), { force: new Set(['first']) });
    expect(forced.map((p) => [p.state, p.reasons])).toEqual([['build', ['--force']], ['build', ['input first is built first']]]);
  });

  it('checks sizes on every cache hit, and with verify the recorded sha256 too, rebuilding a damaged artifact', async () => {
    const artifacts = await runPipeline(workspace, 'toy', steps('a', 'b'), env);
    await workspace.releaseReaderLeases();
    const out = path.join(artifacts.second!.dir, 'out.txt');
    await writeFile(out, 'xy'); // same size, other bytes
    expect((await planPipeline(workspace, 'toy', steps('a', 'b')))[1]!.state).toBe('cached');
    const verified = await planPipeline(workspace, 'toy', steps('a', 'b'), { verify: true });
    expect(verified[1]).toMatchObject({ state: 'build', reasons: ["its artifact is damaged: out.txt does not match its manifest's sha256"] });
    await runPipeline(workspace, 'toy', steps('a', 'b'), env, { verify: true });
    expect(await readFile(out, 'utf8')).toBe('ab');
    await writeFile(out, 'abc'); // another size: found without --verify
    expect((await planPipeline(workspace, 'toy', steps('a', 'b')))[1]!.reasons).toEqual(['its artifact is damaged: out.txt has 3 bytes, its manifest says 2']);
    await workspace.releaseReaderLeases();
  });
});
