import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { spawnLogged, type WorkerProcess } from '../../queue/test/fixtures.ts';
import { MAIN, SHARED_FLOWERS, TSX } from './run_cli.ts';

export const SHARED_MOBILENET = path.resolve(SHARED_FLOWERS, '../../models/mobilenet_v2_0.35_imagenet/model.json');

/** `pnpm pipeline ARGS` from `cwd`, as a process to watch and kill. */
export function spawnPipeline(args: string[], cwd: string): WorkerProcess {
  return spawnLogged(process.execPath, ['--import', TSX, MAIN, ...args], { cwd, env: { INIT_CWD: cwd } });
}

/** `pnpm pipeline ARGS` to its end: its exit code and its stdout and stderr together. */
export async function runPipelineAsync(args: string[], cwd: string): Promise<{ status: number | null; output: string }> {
  const run = spawnPipeline(args, cwd);
  const { code } = await run.exited;
  return { status: code, output: run.output() };
}

/**
 * `pnpm pipeline worker` on one engine thread and one pool thread, noticing a killed worker's
 * shard within seconds (BullMQ's 30 s defaults, shortened).
 */
export function spawnPipelineWorker(queueUrl: string, workdir: string, cwd: string): WorkerProcess {
  return spawnPipeline(['worker', '--queue', queueUrl, '--workdir', workdir, '--workers', '1', '--threads', '1', '--lock-duration-ms', '3000', '--stalled-interval-ms', '1000'], cwd);
}

/** The first `perClass` photos of each class of the shared set, copied into `dir`. */
export function copyPhotoSubset(dir: string, perClass: number): string {
  for (const label of readdirSync(SHARED_FLOWERS).sort()) {
    mkdirSync(path.join(dir, label), { recursive: true });
    for (const name of readdirSync(path.join(SHARED_FLOWERS, label)).sort().slice(0, perClass)) copyFileSync(path.join(SHARED_FLOWERS, label, name), path.join(dir, label, name));
  }
  return dir;
}

function dataFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name !== 'manifest.json')
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

/** Every file but the manifest (timings differ) is present in both and equal byte for byte, but `timed` ones: compared after `untimed`. */
export function expectSameDataFiles(actualDir: string, expectedDir: string, timed: Record<string, (text: string) => unknown> = {}): void {
  const files = dataFiles(expectedDir);
  expect(files.length).toBeGreaterThan(0);
  expect(dataFiles(actualDir)).toEqual(files);
  for (const [file, untimed] of Object.entries(timed)) expect(untimed(readFileSync(path.join(actualDir, file), 'utf8'))).toEqual(untimed(readFileSync(path.join(expectedDir, file), 'utf8')));
  for (const file of files.filter((f) => !(f in timed))) expect(readFileSync(path.join(actualDir, file)).equals(readFileSync(path.join(expectedDir, file))), `${file} differs`).toBe(true);
}

/** The one complete artifact of a stage in a workdir. */
export function artifactDir(workdir: string, stage: string): string {
  const keys = readdirSync(path.join(workdir, 'artifacts', stage)).filter((entry) => !entry.startsWith('.') && !entry.endsWith('.lock'));
  expect(keys, `${stage} artifacts in ${workdir}`).toHaveLength(1);
  return path.join(workdir, 'artifacts', stage, keys[0]!);
}
