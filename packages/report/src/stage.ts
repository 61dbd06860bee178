import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isArtifact, readRun, runDir, UserError, writeDirectoryAtomic, type ArtifactManifest, type RunRecord, type Workspace } from '@flowers/core';
import { AUGMENT_PREVIEW_FILE, HISTORY_FILE, METRICS_FILE, PREDICTIONS_FILE, SPLITS, probabilityRows, readHistory, readIngestReport, readMetrics, readPredictions } from '@flowers/core/contracts';
import { writeComparisonReport, writeRunReport } from './render.ts';
import type { ComparedRun, RunReportData } from './types.ts';

async function manifestOf(workspace: Workspace, stage: string, key: string): Promise<{ dir: string; manifest: ArtifactManifest }> {
  const artifact = await workspace.findArtifact(stage, key);
  if (!isArtifact(artifact)) {
    const why = artifact ? `is damaged (${artifact.damaged})` : `is missing from ${workspace.artifactsDir} (was it removed by gc?)`;
    throw new UserError(`the ${stage} artifact ${key} this run used ${why}`);
  }
  return artifact;
}

/**
 * Gathers what a run's report shows from the run record and the artifacts it names: the ingest
 * report, the augment preview, and the train stage's history, metrics and predictions (which
 * name each test image's path).
 */
export async function gatherRunReportData(workspace: Workspace, run: RunRecord): Promise<RunReportData> {
  const stages = await Promise.all(Object.entries(run.artifacts).map(async ([stage, key]) => ({ stage, ...(await manifestOf(workspace, stage, key)) })));
  const byStage = Object.fromEntries(stages.map((s) => [s.stage, s]));
  const ingest = byStage.ingest;
  const train = byStage.train;
  if (!ingest || !train) throw new UserError(`run '${run.name}' has no ingest or train artifact to report on`);
  const ingestReport = await readIngestReport(ingest.dir);
  const history = await readHistory(path.join(train.dir, HISTORY_FILE));
  const metrics = await readMetrics(path.join(train.dir, METRICS_FILE));
  const predictions = await readPredictions(path.join(train.dir, PREDICTIONS_FILE));
  const preview = byStage.augment ? await readFile(path.join(byStage.augment.dir, AUGMENT_PREVIEW_FILE)).catch(() => undefined) : undefined;
  const bestEpoch = train.manifest.extra?.bestEpoch;
  return {
    run: run.name,
    experiment: run.experiment,
    createdAt: run.createdAt,
    classes: metrics.classes,
    splitCounts: Object.entries(ingestReport.counts).flatMap(([label, counts]) => SPLITS.map((s) => ({ split: s, label, count: counts[s] }))),
    ingest: { skipped: ingestReport.skipped, duplicates: ingestReport.duplicates.map((d) => ({ kept: d.kept, dropped: d.dropped })) },
    ...(preview ? { augmentPreviewPng: new Uint8Array(preview) } : {}),
    history,
    ...(typeof bestEpoch === 'number' ? { bestEpoch } : {}),
    metrics,
    test: { yTrue: Array.from(predictions.labels), probabilities: probabilityRows(predictions), paths: predictions.paths.map((p) => path.join(predictions.dataDir, p)) },
    stages: stages.map(({ stage, manifest }) => ({
      stage,
      key: manifest.key,
      params: manifest.params,
      ...(manifest.backend ? { backend: manifest.backend } : {}),
      versions: manifest.versions,
      timings: manifest.timings,
      inputs: manifest.inputs,
      outputs: manifest.outputs,
    })),
  };
}

/** Writes `runs/<run>/report/` (report.html, charts as SVG and PNG), replacing an older report only when complete. */
export async function writeReportForRun(workspace: Workspace, name: string): Promise<string> {
  const run = await readRun(workspace, name);
  const data = await gatherRunReportData(workspace, run);
  const target = path.join(runDir(workspace, name), 'report');
  await writeDirectoryAtomic(target, async (dir) => {
    await writeRunReport(dir, data);
  });
  return path.join(target, 'report.html');
}

/** Writes a side-by-side comparison of several runs into `outDir`. */
export async function writeComparisonForRuns(workspace: Workspace, names: string[], outDir: string): Promise<string> {
  const runs: ComparedRun[] = [];
  for (const name of names) {
    const run = await readRun(workspace, name);
    if (!run.metrics) throw new UserError(`run '${name}' has no test metrics to compare`);
    const train = await manifestOf(workspace, 'train', run.artifacts.train!);
    const history = await readHistory(path.join(train.dir, HISTORY_FILE));
    runs.push({ run: name, experiment: run.experiment, accuracy: run.metrics.accuracy, macroF1: run.metrics.macro_f1, epochs: history.length, wallSeconds: run.wallSeconds ?? 0, history });
  }
  await writeDirectoryAtomic(outDir, async (dir) => {
    await writeComparisonReport(dir, runs);
  });
  return path.join(outDir, 'report.html');
}
