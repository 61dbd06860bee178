import { appendFile, cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger, WORKSPACE_PACKAGES_DIR, Workspace } from '@flowers/core';
import { ensureDemoDataset } from '@flowers/ingest';
import { PIPELINE_DEFAULTS, planExperiment, resolvePipelineSpec, runStages, type PipelineSpec } from '../src/index.ts';

/** A copy of the workspace's packages, sources and package.json only: what code versions read. */
async function copyPackages(to: string): Promise<string> {
  for (const name of await readdir(WORKSPACE_PACKAGES_DIR)) {
    await cp(path.join(WORKSPACE_PACKAGES_DIR, name, 'package.json'), path.join(to, name, 'package.json'));
    await cp(path.join(WORKSPACE_PACKAGES_DIR, name, 'src'), path.join(to, name, 'src'), { recursive: true });
  }
  return to;
}

describe('code versions in the plan', () => {
  let root: string;
  let workspace: Workspace;
  let spec: PipelineSpec;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'code-version-'));
    workspace = new Workspace(path.join(root, 'workdir'));
    const data = await ensureDemoDataset(path.join(root, 'data'));
    const log = memoryLogger();
    spec = await resolvePipelineSpec({ ...PIPELINE_DEFAULTS, data, size: 64, workers: 2 }, { through: 'augment', explicit: new Set(), cwd: root, workspace, log });
    await runStages(spec, { workspace, log, signal: new AbortController().signal });
    await workspace.releaseReaderLeases();
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('finds everything up to date against an unchanged copy of the code', async () => {
    const plan = await planExperiment(spec, { workspace, packagesDir: await copyPackages(path.join(root, 'same')) });
    expect(plan.map((p) => p.state)).toEqual(['cached', 'cached']);
  });

  it('marks ingest and everything after it as changed when core, which draws the split, changes', async () => {
    const copy = await copyPackages(path.join(root, 'core-changed'));
    await appendFile(path.join(copy, 'core', 'src', 'random.ts'), '\n// a change\n');
    const plan = await planExperiment(spec, { workspace, packagesDir: copy });
    expect(plan.map((p) => [p.stage, p.state, p.reasons])).toEqual([
      ['ingest', 'build', ['code changed: @flowers/core']],
      ['augment', 'build', ['input ingest is built first']],
    ]);
  });

  it('marks only augment when augment changes', async () => {
    const copy = await copyPackages(path.join(root, 'augment-changed'));
    await appendFile(path.join(copy, 'augment', 'src', 'warp.ts'), '\n// a change\n');
    const plan = await planExperiment(spec, { workspace, packagesDir: copy });
    expect(plan.map((p) => [p.stage, p.state, p.reasons])).toEqual([
      ['ingest', 'cached', []],
      ['augment', 'build', ['code changed: @flowers/augment']],
    ]);
  });
});
