/**
 * `pnpm bench`: the project's speed measurements, as one JSON object on stdout. Each measurement
 * runs in a fresh process so its peak RSS is its own. Timings on a shared machine are noisy:
 * compare ratios measured within one run.
 *   pnpm bench [ingest|augment|features|training|experiments|queue|startup ...]   (default: all)
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { benchExperiments } from './experiments.ts';
import { benchFeatures } from './features.ts';
import { benchQueue } from './queue.ts';
import { benchStartup } from './startup.ts';
import { benchTraining } from './training.ts';

const TSX = import.meta.resolve('tsx');
const cores = os.availableParallelism();

function child(script: string, args: Array<string | number>): Record<string, unknown> {
  const result = spawnSync(process.execPath, ['--import', TSX, new URL(script, import.meta.url).pathname, ...args.map(String)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 2 ** 20,
  });
  if (result.status !== 0) throw new Error(`${script} ${args.join(' ')} failed with exit code ${result.status}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

const ratio = (a: unknown, b: unknown): number => Math.round((Number(a) / Number(b)) * 100) / 100;

const suites: Record<string, () => Promise<Record<string, unknown>> | Record<string, unknown>> = {
  ingest: () => child('./stage_throughput.ts', ['ingest', cores]),
  augment: () => {
    const resize1 = child('./stage_throughput.ts', ['augment', 1, 0, 'none']);
    const resizeN = child('./stage_throughput.ts', ['augment', cores, 0, 'none']);
    const preset1 = child('./stage_throughput.ts', ['augment', 1, 10, 'experiment']);
    const presetN = child('./stage_throughput.ts', ['augment', cores, 10, 'experiment']);
    return {
      resize_only: { workers_1: resize1, [`workers_${cores}`]: resizeN, speedup: ratio(resizeN.output_images_per_s, resize1.output_images_per_s) },
      experiment_preset_views_10: {
        workers_1: preset1,
        [`workers_${cores}`]: presetN,
        speedup: ratio(presetN.output_images_per_s, preset1.output_images_per_s),
        augmented_images_per_s_per_core: Math.round(Number(presetN.output_images_per_s) / cores),
      },
    };
  },
  features: () => benchFeatures(),
  training: () => benchTraining(),
  experiments: () => benchExperiments(),
  queue: () => benchQueue(),
  startup: () => benchStartup(),
};

const requested = process.argv.slice(2);
const names = requested.length ? requested : Object.keys(suites);
const report: Record<string, unknown> = { machine: { cores, memory_gib: Math.round(os.totalmem() / 2 ** 30), node: process.version, cpu: os.cpus()[0]?.model }, date: new Date().toISOString() };
for (const name of names) {
  const suite = suites[name];
  if (!suite) throw new Error(`unknown benchmark '${name}': one of ${Object.keys(suites).join(', ')}`);
  report[name] = await suite();
}
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
