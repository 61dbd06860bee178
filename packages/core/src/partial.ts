import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fsyncPath, replaceDirectory, writeFileAtomic } from './atomic.ts';
import { sha256File } from './hash.ts';
import { acquireReaderLease, liveReaders, type Lock } from './lock.ts';
import { MANIFEST_FILE, stageKey, type ArtifactManifest, type OutputFile, type StageResult, type StageSpec, type Workspace } from './artifacts.ts';

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .filter((f) => f !== MANIFEST_FILE)
    .sort();
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * runStage's last step, for a directory of finished outputs wherever they were produced (in
 * process, or merged from queue workers' shards): lists and hashes the files, writes the
 * manifest last and renames `dir` into place as the key's artifact. The caller holds the key's lock.
 */
export async function commitArtifactDir(
  workspace: Workspace,
  spec: StageSpec,
  dir: string,
  result: StageResult,
  startedMs: number,
): Promise<ArtifactManifest> {
  const key = stageKey(spec);
  const outputs: OutputFile[] = [];
  for (const file of await listFiles(dir)) {
    const full = path.join(dir, file);
    await fsyncPath(full);
    outputs.push({ file, bytes: (await stat(full)).size, sha256: await sha256File(full) });
  }
  const manifest: ArtifactManifest = {
    stage: spec.stage,
    key,
    codeVersion: spec.codeVersion,
    ...(spec.code ? { code: spec.code } : {}),
    createdAt: new Date().toISOString(),
    params: spec.params,
    inputs: spec.inputs,
    outputs,
    rows: result.rows ?? {},
    timings: { ...result.timings, total_s: round3((performance.now() - startedMs) / 1000) },
    versions: { node: process.version, ...result.versions },
    ...(result.backend ? { backend: result.backend } : {}),
    ...(result.extra ? { extra: result.extra } : {}),
  };
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  await fsyncPath(dir);
  await replaceDirectory(dir, workspace.artifactDir(spec.stage, key));
  return manifest;
}

/** Where the leases of the processes writing into partial directories live: `writers/<stage>/<key>/` (outside `artifacts/`). */
export function partialWritersRoot(workspace: Workspace): string {
  return path.join(workspace.root, 'writers');
}

function partialWritersDir(workspace: Workspace, stage: string, key: string): string {
  return path.join(partialWritersRoot(workspace), stage, key);
}

/**
 * Held by a process that writes into a key's partial directory without holding the key's lock
 * (a queue worker writing one shard, a producer waiting for its shards): while one is live,
 * `pipeline gc` keeps the key. Judged stale by the lock rules, so a killed writer stops counting.
 */
export function acquirePartialWriterLease(workspace: Workspace, stage: string, key: string): Promise<Lock> {
  return acquireReaderLease(partialWritersDir(workspace, stage, key));
}

/** Who holds live writer leases on a key's partial directory, after removing the stale ones. */
export function livePartialWriters(workspace: Workspace, stage: string, key: string): Promise<string[]> {
  return liveReaders(partialWritersDir(workspace, stage, key));
}
