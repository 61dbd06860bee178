/** Runs pipeline stages as the CLI does (spec, planner, Stage interface), for the benchmarks. */
import { memoryLogger, Workspace, type Artifact } from '../packages/core/src/index.ts';
import { PIPELINE_DEFAULTS, resolvePipelineSpec, runStages, type OptionValues, type StageName } from '../packages/pipeline/src/index.ts';

/**
 * The stages through `through` over `values` (layered over the defaults) in `workdir`, the
 * `force`d ones rebuilt even when cached; returns their artifacts.
 */
export async function runStagesFor(values: OptionValues, through: StageName, workdir: string, force: StageName[] = []): Promise<Record<string, Artifact>> {
  const workspace = new Workspace(workdir);
  const log = memoryLogger();
  const spec = await resolvePipelineSpec({ ...PIPELINE_DEFAULTS, ...values }, { through, explicit: new Set(), cwd: workdir, workspace, log });
  try {
    return await runStages(spec, { workspace, log, signal: new AbortController().signal, force: new Set(force) });
  } finally {
    await workspace.releaseReaderLeases();
  }
}
