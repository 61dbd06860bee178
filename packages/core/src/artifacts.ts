import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson, sha256File, sha256Hex } from './hash.ts';
import { InterruptedError, UserError } from './errors.ts';
import { runStageInterruptibly, stopIfInterrupted } from './interrupt.ts';
import { acquireLock, acquireReaderLease, liveReaders, tryAcquireLock, type Lock } from './lock.ts';
import type { Logger } from './log.ts';
import type { CodeVersion } from './code_version.ts';
import { commitArtifactDir, livePartialWriters } from './partial.ts';

export interface OutputFile {
  file: string;
  bytes: number;
  sha256: string;
}

/** What produced an artifact: written last, so a directory with a manifest is complete. */
export interface ArtifactManifest {
  stage: string;
  key: string;
  codeVersion: string;
  /** What the code version is made of (see CodeVersion), so the planner can say which part changed. */
  code?: Omit<CodeVersion, 'version'>;
  createdAt: string;
  params: unknown;
  /** Input name -> the key of the upstream artifact (or a fingerprint of raw data). */
  inputs: Record<string, string>;
  outputs: OutputFile[];
  rows: Record<string, number>;
  timings: Record<string, number>;
  versions: Record<string, string>;
  backend?: string;
  extra?: Record<string, unknown>;
}

export interface StageSpec {
  stage: string;
  codeVersion: string;
  code?: Omit<CodeVersion, 'version'>;
  params: unknown;
  inputs: Record<string, string>;
}

/** What a stage's producer reports besides its files. */
export interface StageResult {
  rows?: Record<string, number>;
  timings?: Record<string, number>;
  versions?: Record<string, string>;
  backend?: string;
  extra?: Record<string, unknown>;
}

export interface StageContext {
  /** The directory to write outputs into; it becomes the artifact only once the producer returns. */
  dir: string;
  key: string;
  /** True when `dir` holds a previous interrupted attempt's files that `--resume` asked to keep. */
  resuming: boolean;
}

export interface Artifact {
  dir: string;
  manifest: ArtifactManifest;
  cached: boolean;
}

export const MANIFEST_FILE = 'manifest.json';

/** The key of an artifact: a hash of the stage's code version, parameters and inputs. */
export function stageKey(spec: StageSpec): string {
  return sha256Hex(canonicalJson({ stage: spec.stage, code: spec.codeVersion, params: spec.params, inputs: spec.inputs })).slice(0, 16);
}

/** A key's files, locked for removal: `readers` are the live processes still reading its artifact. */
export interface RemovalLock {
  readers: string[];
  release(): Promise<void>;
}

/**
 * The pipeline's working directory: `artifacts/<stage>/<key>/` for stage outputs (with
 * `<key>.lock` while a process works on the key), `readers/<stage>/<key>/` for the leases of the
 * processes reading it, `runs/<run>/` for what a run used and produced.
 */
export class Workspace {
  readonly artifactsDir: string;
  /** Outside `artifacts/`, so that listing a stage's artifacts never meets a lease. */
  readonly readersDir: string;
  readonly runsDir: string;
  /** `stage/key` -> this process's reader lease on that artifact. */
  private readonly leases = new Map<string, Lock>();

  constructor(readonly root: string) {
    this.artifactsDir = path.join(root, 'artifacts');
    this.readersDir = path.join(root, 'readers');
    this.runsDir = path.join(root, 'runs');
  }

  artifactDir(stage: string, key: string): string {
    return path.join(this.artifactsDir, stage, key);
  }

  /** Where a stage's unfinished attempt lives; never trusted as an artifact. */
  partialDir(stage: string, key: string): string {
    return path.join(this.artifactsDir, stage, `.partial-${key}`);
  }

  lockDir(stage: string, key: string): string {
    return path.join(this.artifactsDir, stage, `${key}.lock`);
  }

  readerLeasesDir(stage: string, key: string): string {
    return path.join(this.readersDir, stage, key);
  }

  /**
   * Keeps `pipeline gc` from deleting the artifact until releaseReaderLeases. Taken under the
   * key's lock, which gc holds while it checks the leases and deletes, so gc never misses it.
   */
  async leaseArtifact(stage: string, key: string): Promise<void> {
    const id = `${stage}/${key}`;
    if (!this.leases.has(id)) this.leases.set(id, await acquireReaderLease(this.readerLeasesDir(stage, key)));
  }

  /** Ends this process's reader leases: once its run is recorded, or when it stops without one. */
  async releaseReaderLeases(): Promise<void> {
    const leases = [...this.leases.values()];
    this.leases.clear();
    await Promise.all(leases.map((lease) => lease.release()));
  }

  /**
   * Locks a key for removing its files, without waiting: `heldBy` while a process produces or
   * looks up the artifact. Stale reader leases are removed on the way.
   */
  async lockForRemoval(stage: string, key: string): Promise<RemovalLock | { heldBy: string }> {
    const taken = await tryAcquireLock(this.lockDir(stage, key));
    if ('heldBy' in taken) return taken;
    try {
      // Queue workers write shards into the partial directory without holding the key's lock.
      const writers = await livePartialWriters(this, stage, key);
      if (writers.length) {
        await taken.release();
        return { heldBy: `queue workers writing its shards (${writers.join(', ')})` };
      }
      return { readers: await liveReaders(this.readerLeasesDir(stage, key)), release: () => taken.release() };
    } catch (error) {
      await taken.release();
      throw error;
    }
  }

  /**
   * The complete artifact for this key, or undefined: missing, or an output whose size differs
   * from its manifest's. With `verify`, every output is also hashed against the manifest, and a
   * mismatch is returned as `damaged`, naming the file.
   */
  async findArtifact(stage: string, key: string, options: { verify?: boolean } = {}): Promise<Artifact | { damaged: string } | undefined> {
    const dir = this.artifactDir(stage, key);
    const manifest = await readManifest(dir);
    if (!manifest) return undefined;
    for (const output of manifest.outputs) {
      const size = await stat(path.join(dir, output.file)).then((s) => s.size, () => -1);
      if (size !== output.bytes) return size < 0 ? { damaged: `${output.file} is missing` } : { damaged: `${output.file} has ${size} bytes, its manifest says ${output.bytes}` };
      if (options.verify && (await sha256File(path.join(dir, output.file))) !== output.sha256) return { damaged: `${output.file} does not match its manifest's sha256` };
    }
    return { dir, manifest, cached: true };
  }

  /** The newest complete artifact of a stage by creation time, if any: what the planner compares a missing key with. */
  async newestArtifact(stage: string): Promise<ArtifactManifest | undefined> {
    let newest: ArtifactManifest | undefined;
    for (const entry of await this.listArtifacts()) {
      if (entry.stage !== stage) continue;
      const manifest = await readManifest(entry.dir);
      if (manifest && (!newest || manifest.createdAt > newest.createdAt)) newest = manifest;
    }
    return newest;
  }

  /** Every complete artifact in the workspace. */
  async listArtifacts(): Promise<Array<{ stage: string; key: string; dir: string }>> {
    const result: Array<{ stage: string; key: string; dir: string }> = [];
    const stages = await readdir(this.artifactsDir).catch(() => [] as string[]);
    for (const stage of stages.sort()) {
      const entries = await readdir(path.join(this.artifactsDir, stage)).catch(() => [] as string[]);
      for (const key of entries.sort()) {
        if (!key.startsWith('.') && !key.endsWith('.lock')) result.push({ stage, key, dir: this.artifactDir(stage, key) });
      }
    }
    return result;
  }
}

async function readManifest(dir: string): Promise<ArtifactManifest | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8')) as ArtifactManifest;
  } catch {
    return undefined;
  }
}

/** A found artifact, as opposed to a damaged one or none. */
export function isArtifact(found: Artifact | { damaged: string } | undefined): found is Artifact {
  return found !== undefined && 'manifest' in found;
}

export interface RunStageOptions {
  log: Logger;
  /** Recompute even if the artifact exists. */
  force?: boolean;
  /** Keep files of an interrupted attempt in the partial directory (the producer continues from them). */
  resume?: boolean;
}

/**
 * Runs a stage unless its artifact is cached. Under a per-key lock, the producer writes into a
 * partial directory; the manifest is written last and the directory renamed into place, so a
 * stage killed at any point leaves nothing a later run would take for complete. The artifact
 * returned is leased to this process (see Workspace.leaseArtifact). Interrupted (see
 * runInterruptibly), it stops at its next safe point, or does not start.
 */
export function runStage(
  workspace: Workspace,
  spec: StageSpec,
  produce: (context: StageContext) => Promise<StageResult>,
  options: RunStageOptions,
): Promise<Artifact> {
  return runStageInterruptibly(spec.stage, () => reuseOrProduce(workspace, spec, produce, options));
}

async function reuseOrProduce(
  workspace: Workspace,
  spec: StageSpec,
  produce: (context: StageContext) => Promise<StageResult>,
  options: RunStageOptions,
): Promise<Artifact> {
  const key = stageKey(spec);
  const { log } = options;
  stopIfInterrupted('before it started');
  const lock = await acquireLock(workspace.lockDir(spec.stage, key), { log, what: `${spec.stage} ${key}` });
  try {
    if (!options.force) {
      const existing = await workspace.findArtifact(spec.stage, key);
      if (isArtifact(existing)) {
        log.info(`cached ${spec.stage} ${key}`);
        await workspace.leaseArtifact(spec.stage, key);
        return existing;
      }
    }
    const partial = workspace.partialDir(spec.stage, key);
    const resuming = Boolean(options.resume) && (await stat(partial).then(() => true, () => false));
    if (!resuming) {
      // Queue workers write shards into it without the key's lock: clearing it would lose their work.
      const writers = await livePartialWriters(workspace, spec.stage, key);
      if (writers.length) throw new UserError(`${spec.stage} ${key}: queue workers are writing its shards (${writers.join(', ')}); rerun with --queue to join them, or once they are done`);
      await rm(partial, { recursive: true, force: true });
    }
    await mkdir(partial, { recursive: true });
    const started = performance.now();
    let result: StageResult;
    try {
      result = await produce({ dir: partial, key, resuming });
    } catch (error) {
      // A failed stage leaves nothing behind; an interrupted one keeps what it wrote, for --resume.
      if (!(error instanceof InterruptedError)) await rm(partial, { recursive: true, force: true });
      throw error;
    }
    const manifest = await commitArtifactDir(workspace, spec, partial, result, started);
    await workspace.leaseArtifact(spec.stage, key);
    return { dir: workspace.artifactDir(spec.stage, key), manifest, cached: false };
  } finally {
    await lock.release();
  }
}
