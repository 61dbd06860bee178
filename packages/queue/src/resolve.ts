import { UnrecoverableError } from 'bullmq';
import { UserError, isArtifact, stageKey, type Artifact, type StageSpec, type Workspace } from '@flowers/core';
import type { StageJobData } from './jobs.ts';
import type { InputDirs, InputRef, QueueStageIdentity } from './stage.ts';

/** The artifact spec a job stands for: the same key on every machine. */
export function specOf(data: Pick<StageJobData, 'stage' | 'codeVersion' | 'params' | 'inputs' | 'keyParams' | 'keyInputs' | 'code'>): StageSpec {
  return {
    stage: data.stage,
    codeVersion: data.codeVersion,
    ...(data.code ? { code: data.code } : {}),
    params: data.keyParams === undefined ? data.params : data.keyParams,
    inputs: data.keyInputs ?? Object.fromEntries(Object.entries(data.inputs).map(([name, ref]) => [name, ref.key])),
  };
}

/**
 * Refuses a job this worker would compute differently: a mixed artifact (shards from two code
 * versions or engines) would not equal a local run's. Unrecoverable, so no other attempt is made.
 */
export function refuseMismatch(data: StageJobData, served: QueueStageIdentity): void {
  const engine = served.engine(data.params);
  if (data.codeVersion === served.codeVersion && data.engine === engine) return;
  throw new UnrecoverableError(
    `${data.stage} ${data.key}: the job needs code version ${data.codeVersion} on engine ${data.engine}, ` +
      `this worker runs code version ${served.codeVersion} on engine ${engine}; refused (run workers with the producer's code and engine)`,
  );
}

/** Checks that a job's key matches its content, so a corrupt or forged job writes no wrong artifact. */
export function checkKey(data: StageJobData): StageSpec {
  const spec = specOf(data);
  if (stageKey(spec) !== data.key) throw new UnrecoverableError(`${data.stage}: job data does not match its key ${data.key}`);
  return spec;
}

/**
 * The directories of a job's inputs in this machine's workdir, leased so that gc keeps them
 * while the job reads them (the caller releases the workspace's leases).
 */
export async function resolveInputs(workspace: Workspace, inputs: Record<string, InputRef>): Promise<InputDirs> {
  return (await resolveArtifacts(workspace, inputs)).dirs;
}

/** resolveInputs, with the upstream artifacts themselves (their manifests) besides their directories. */
export async function resolveArtifacts(workspace: Workspace, inputs: Record<string, InputRef>): Promise<{ dirs: InputDirs; artifacts: Record<string, Artifact> }> {
  const dirs: InputDirs = {};
  const artifacts: Record<string, Artifact> = {};
  for (const [name, ref] of Object.entries(inputs)) {
    if ('path' in ref) {
      dirs[name] = ref.path;
      continue;
    }
    const artifact = await workspace.findArtifact(ref.stage, ref.key);
    if (!isArtifact(artifact)) {
      throw new UserError(`input ${name}: artifact ${ref.stage}/${ref.key} is not in ${workspace.root} (is the workdir shared with the producer?)`);
    }
    await workspace.leaseArtifact(ref.stage, ref.key);
    dirs[name] = artifact.dir;
    artifacts[name] = artifact;
  }
  return { dirs, artifacts };
}
