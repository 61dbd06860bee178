import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isArtifact, runStage, stageKey, type Artifact, type ArtifactManifest, type StageSpec, type Workspace } from './artifacts.ts';
import { writeFileAtomic } from './atomic.ts';
import { codeVersionOf } from './code_version.ts';
import { canonicalJson } from './hash.ts';
import { acquireLock } from './lock.ts';
import type { Stage, StageEnvironment } from './stage.ts';

/** A stage of a pipeline, with the params the pipeline spec gives it. */
export interface PipelineStep<P = unknown> {
  stage: Stage<P>;
  params: P;
}

/** What the planner found for one stage: cached, or to be built and why. */
export interface PlannedStage {
  stage: string;
  /** Unknown while an input is still to be built (its key depends on that input's contents). */
  key?: string;
  state: 'cached' | 'build';
  reasons: string[];
}

export interface PlanOptions {
  /** Stages to rebuild even when cached (--force). */
  force?: ReadonlySet<string>;
  /** Hash every output of a cached artifact against its manifest, not only its size (--verify). */
  verify?: boolean;
  /** The workspace's `packages/` folder, for code versions (a copy of it in tests). */
  packagesDir?: string;
}

/** A stage the planner has keyed, for an executor to build (or to find already built). */
export interface StageBuild<P = unknown> {
  workspace: Workspace;
  step: PipelineStep<P>;
  /** The planner's spec: its key is the artifact's. */
  spec: StageSpec;
  inputs: Record<string, Artifact>;
  env: StageEnvironment;
  /** Build it even if its artifact exists (--force, damaged, stale). */
  replace: boolean;
  /** Continue an interrupted attempt (`--resume`, resumable stages only). */
  resume: boolean;
}

/** Where a stage's work runs: in this process (runLocally), or on a queue's workers. Returns the artifact, leased to this process. */
export type StageExecutor = (build: StageBuild) => Promise<Artifact>;

/** The embedded default: the stage's producer in this process, under runStage's lock and partial directory. */
export const runLocally: StageExecutor = ({ workspace, step, spec, inputs, env, replace, resume }) =>
  runStage(
    workspace,
    spec,
    (context) => step.stage.produce({ ...context, params: step.params, inputs, keyInputs: spec.inputs, env, resumeRequested: resume && !context.resuming }),
    { log: env.log, force: replace, resume },
  );

export interface RunPipelineOptions extends PlanOptions {
  /** Stages whose interrupted attempt to continue from (`--resume`), among the resumable ones. */
  resume?: boolean;
  /** Where each stage to build runs (default: runLocally). */
  executor?: StageExecutor;
}

/** `pipeline.lock`: per pipeline, what each stage was last built from, as DVC's dvc.lock. */
export const PIPELINE_LOCK_FILE = 'pipeline.lock';
type LockedStage = Pick<ArtifactManifest, 'key' | 'codeVersion' | 'code' | 'params' | 'inputs'>;
type PipelineLock = Record<string, Record<string, LockedStage>>;

async function readPipelineLock(workspace: Workspace): Promise<PipelineLock> {
  return readFile(path.join(workspace.root, PIPELINE_LOCK_FILE), 'utf8').then((text) => JSON.parse(text) as PipelineLock, () => ({}));
}

/** Records what built a stage's artifact for this pipeline, under a lock (runs may finish at once). */
async function lockStage(workspace: Workspace, pipeline: string, manifest: ArtifactManifest): Promise<void> {
  const file = path.join(workspace.root, PIPELINE_LOCK_FILE);
  const lock = await acquireLock(`${file}.lock`);
  try {
    const current = await readPipelineLock(workspace);
    const { key, codeVersion, code, params, inputs } = manifest;
    current[pipeline] = { ...current[pipeline], [manifest.stage]: { key, codeVersion, ...(code ? { code } : {}), params, inputs } };
    await writeFileAtomic(file, `${JSON.stringify(current, null, 2)}\n`);
  } finally {
    await lock.release();
  }
}

/** Leaf values of a JSON value by dotted path. */
function leaves(value: unknown, prefix = ''): Map<string, string> {
  const found = new Map<string, string>();
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) for (const [p, v] of leaves(inner, prefix ? `${prefix}.${key}` : key)) found.set(p, v);
  } else {
    found.set(prefix, canonicalJson(value));
  }
  return found;
}

function changedLeaves(before: unknown, after: unknown): string[] {
  const [old, now] = [leaves(before), leaves(after)];
  const keys = [...new Set([...old.keys(), ...now.keys()])].sort();
  return keys.filter((key) => old.get(key) !== now.get(key)).map((key) => `${key} ${old.get(key) ?? '(none)'} → ${now.get(key) ?? '(none)'}`);
}

/** Which packages and libraries differ, where both code versions say what they are made of. */
function codeChanges(before: LockedStage['code'], after: LockedStage['code']): string {
  if (!before || !after) return 'code changed';
  const names = (a: Record<string, string>, b: Record<string, string>) => [...new Set([...Object.keys(a), ...Object.keys(b)])].sort().filter((name) => a[name] !== b[name]);
  const packages = names(before.packages, after.packages);
  const libraries = names(before.libraries, after.libraries).map((name) => `${name} ${before.libraries[name] ?? '(none)'} → ${after.libraries[name] ?? '(none)'}`);
  return `code changed: ${[...packages, ...libraries].join(', ')}`;
}

/** Why a stage with this spec has no artifact: what differs from what built it last (as dvc status says). */
function whyMissing(spec: StageSpec, key: string, previous: LockedStage | undefined): string[] {
  if (!previous) return ['never built in this workdir'];
  if (previous.key === key) return ['its artifact is missing (removed by gc, or damaged)'];
  const reasons: string[] = [];
  const params = changedLeaves(previous.params, spec.params);
  if (params.length) reasons.push(`params changed: ${params.join(', ')}`);
  if (previous.codeVersion !== spec.codeVersion) reasons.push(codeChanges(previous.code, spec.code));
  const inputs = Object.keys({ ...previous.inputs, ...spec.inputs }).filter((name) => previous.inputs[name] !== spec.inputs[name]);
  if (inputs.length) reasons.push(`input changed: ${inputs.join(', ')}`);
  return reasons.length ? reasons : ['built under another key'];
}

interface Decision {
  spec: StageSpec;
  key: string;
  cached?: Artifact;
  /** Set when the key's artifact exists but is to be built again (--force, damaged, stale). */
  replace?: boolean;
  reasons: string[];
}

/** Works out a stage's key from its resolved inputs, and whether its artifact can be used as it is. */
async function decide<P>(workspace: Workspace, step: PipelineStep<P>, inputs: Record<string, Artifact>, previous: LockedStage | undefined, options: PlanOptions): Promise<Decision> {
  const { stage, params } = step;
  const code = await codeVersionOf(stage.package, await stage.libraries(), options.packagesDir);
  const spec: StageSpec = {
    stage: stage.name,
    codeVersion: code.version,
    code: { packages: code.packages, libraries: code.libraries },
    params: stage.keyParams ? stage.keyParams(params) : params,
    inputs: await stage.keyInputs(params, inputs),
  };
  const key = stageKey(spec);
  const found = await workspace.findArtifact(stage.name, key, { verify: options.verify ?? false });
  if (options.force?.has(stage.name)) return { spec, key, replace: true, reasons: ['--force'] };
  if (!found) return { spec, key, reasons: whyMissing(spec, key, previous ?? (await workspace.newestArtifact(stage.name))) };
  if (!isArtifact(found)) return { spec, key, replace: true, reasons: [`its artifact is damaged: ${found.damaged}`] };
  const rebuild = stage.rebuildReason?.(found);
  return rebuild ? { spec, key, replace: true, reasons: [rebuild] } : { spec, key, cached: found, reasons: [] };
}

/**
 * The plan for a pipeline, as `dvc status` gives it: for each stage in order, whether its
 * artifact is cached, or must be built and why (params, code or an input changed). A stage
 * after one to be built is to be built too; its key is known once that input exists.
 */
export async function planPipeline(workspace: Workspace, pipeline: string, steps: readonly PipelineStep[], options: PlanOptions = {}): Promise<PlannedStage[]> {
  const lock = (await readPipelineLock(workspace))[pipeline] ?? {};
  const artifacts: Record<string, Artifact> = {};
  const plan: PlannedStage[] = [];
  for (const step of steps) {
    const pending = step.stage.reads(step.params).filter((name) => !artifacts[name]);
    if (pending.length) {
      plan.push({ stage: step.stage.name, state: 'build', reasons: pending.map((name) => `input ${name} is built first`) });
      continue;
    }
    const decision = await decide(workspace, step, artifacts, lock[step.stage.name], options);
    if (decision.cached) artifacts[step.stage.name] = decision.cached;
    plan.push({ stage: step.stage.name, key: decision.key, state: decision.cached ? 'cached' : 'build', reasons: decision.reasons });
  }
  return plan;
}

/**
 * Runs a pipeline as `dvc repro` does: each stage in order, reusing its artifact when cached and
 * building it otherwise, saying why. Returns every stage's artifact, leased to this process.
 */
export async function runPipeline(
  workspace: Workspace,
  pipeline: string,
  steps: readonly PipelineStep[],
  env: StageEnvironment,
  options: RunPipelineOptions = {},
): Promise<Record<string, Artifact>> {
  const lock = (await readPipelineLock(workspace))[pipeline] ?? {};
  const artifacts: Record<string, Artifact> = {};
  for (const step of steps) {
    const { stage, params } = step;
    const inputs = Object.fromEntries(stage.reads(params).map((name) => [name, artifacts[name]!]));
    const decision = await decide(workspace, step, inputs, lock[stage.name], options);
    if (!decision.cached) env.log.info(`${stage.name} ${decision.key}: ${decision.reasons.join('; ')}`);
    // A cached artifact is only leased, here; what is to be built goes to the executor.
    const execute = decision.cached ? runLocally : (options.executor ?? runLocally);
    const artifact = await execute({ workspace, step, spec: decision.spec, inputs, env, replace: decision.replace ?? false, resume: Boolean(options.resume && stage.resumable) });
    await lockStage(workspace, pipeline, artifact.manifest);
    artifacts[stage.name] = artifact;
  }
  return artifacts;
}
