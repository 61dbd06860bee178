/**
 * Accuracy and wall time of experiments on the shared Flowers photos, through the CLI as a user
 * runs them, over several seeds (each seed is a different split, so the spread shows how much a
 * ~620-photo test split moves by luck). Also times a train-only rerun with every earlier stage
 * cached, and how much of it is spent outside training itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SHARED_FLOWERS as FLOWERS, SHARED_MOBILENET } from '../shared_folder.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const TSX = import.meta.resolve('tsx');

/** The experiments measured with the shared ImageNet MobileNetV2 0.35 base (InceptionV3's ImageNet weights cannot be downloaded here). */
export const MEASURED_EXPERIMENTS: Record<string, string[]> = {
  best: ['--experiment', 'best'],
  // The reference head (Dense 512, Dropout 0.5) on avg-pooled MobileNetV2 features; the reference
  // lr 1.5e-6 was tuned for a flattened 18,432-value InceptionV3 map and underfits 1,280 values.
  'features-mobilenet': ['--experiment', 'features', '--base', 'mobilenet_v2', '--alpha', '0.35', '--size', '224', '--pool', 'avg', '--lr', '1e-4', '--epochs', '60'],
};

interface Outcome {
  accuracy: number;
  macro_f1: number;
  wall_s: number;
}

function pipeline(args: string[], workdir: string): Outcome & { stderr: string } {
  const started = performance.now();
  const result = spawnSync(process.execPath, ['--import', TSX, path.join(ROOT, 'packages/cli/src/main.ts'), ...args, '--data', FLOWERS, '--weights', SHARED_MOBILENET, '--workdir', workdir], {
    encoding: 'utf8',
    env: { ...process.env, INIT_CWD: ROOT },
    maxBuffer: 256 * 2 ** 20,
  });
  const wall_s = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`pipeline ${args.join(' ')} failed: ${result.stderr.trim().split('\n').at(-1)}`);
  const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { accuracy: number; macro_f1: number };
  return { accuracy: summary.accuracy, macro_f1: summary.macro_f1, wall_s: Math.round(wall_s * 10) / 10, stderr: result.stderr };
}

function trainSeconds(workdir: string, runName: string): number {
  const run = JSON.parse(readFileSync(path.join(workdir, 'runs', runName, 'run.json'), 'utf8')) as { artifacts: { train: string } };
  const manifest = JSON.parse(readFileSync(path.join(workdir, 'artifacts', 'train', run.artifacts.train, 'manifest.json'), 'utf8')) as { timings: { train_s: number } };
  return manifest.timings.train_s;
}

const summarise = (values: number[]) => {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, values.length - 1));
  return { mean: Math.round(mean * 10000) / 10000, sd: Math.round(sd * 10000) / 10000, min: Math.min(...values), max: Math.max(...values) };
};

export function benchExperiments(seeds = [0, 1, 2]): Record<string, unknown> {
  const workdir = mkdtempSync(path.join(os.tmpdir(), 'bench-experiments-'));
  try {
    const report: Record<string, unknown> = { seeds };
    for (const [name, args] of Object.entries(MEASURED_EXPERIMENTS)) {
      const runs = seeds.map((seed) => ({ seed, ...pipeline(['train', ...args, '--seed', String(seed), '--run', `${name}-${seed}`], workdir) }));
      report[name] = {
        command: `pnpm pipeline train ${args.join(' ')} --seed S --data ../shared/data/flowers --weights ../shared/models/mobilenet_v2_0.35_imagenet/model.json`,
        runs: runs.map(({ stderr: _stderr, ...rest }) => rest),
        accuracy: summarise(runs.map((r) => r.accuracy)),
      };
    }
    // Every earlier stage cached: retrain `best` for seed 0 and see where the time goes.
    const rerun = pipeline(['train', ...MEASURED_EXPERIMENTS.best!, '--seed', '0', '--run', 'best-rerun', '--force'], workdir);
    const cachedStages = (rerun.stderr.match(/^cached \w+/gm) ?? []).map((line) => line.slice('cached '.length));
    const train_s = trainSeconds(workdir, 'best-rerun');
    report.best_train_only_rerun = {
      cached_stages: cachedStages,
      wall_s: rerun.wall_s,
      train_s: Math.round(train_s * 10) / 10,
      outside_training_s: Math.round((rerun.wall_s - train_s) * 10) / 10,
    };
    report.artifacts = readdirSync(path.join(workdir, 'artifacts')).sort();
    return report;
  } finally {
    rmSync(workdir, { recursive: true, force: true });
  }
}
