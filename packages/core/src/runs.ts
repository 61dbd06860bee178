import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Workspace } from './artifacts.ts';
import { replaceDirectory, writeFileAtomic } from './atomic.ts';
import { acquireLock } from './lock.ts';
import type { Logger } from './log.ts';
import { UserError } from './errors.ts';

/** What a run used and produced; `runs/<name>/run.json`. */
export interface RunRecord {
  name: string;
  experiment: string;
  createdAt: string;
  /** Stage -> artifact key this run used. */
  artifacts: Record<string, string>;
  params: Record<string, unknown>;
  /** The training stage's engine. */
  backend?: string;
  /** Stage -> the engine it computed on ('onnx-cpu', 'wasm', ...), for the stages that run models. */
  engines?: Record<string, string>;
  /**
   * The pretrained weights the features came from: the settled choice ('imagenet', a bundled
   * base, a path), the MobileNetV2 width used and, where 'auto' fell back, why and the width asked for.
   */
  weights?: { choice: string; alpha: number; source: string; fallback?: { reason: string; requestedAlpha: number } };
  /** The test split's headline figures; `tta` with test-time augmentation, when the run has it. */
  metrics?: { accuracy: number; macro_f1: number; tta?: { accuracy: number; macro_f1: number } };
  epochs?: number;
  wallSeconds?: number;
}

export const RUN_FILE = 'run.json';
const RUN_NAME = /^[\w.@+-][\w.@+ -]*$/u;

/**
 * `<experiment>-<UTC time to the millisecond>-<random>`, e.g. best-20260101-120000.123Z-3fa9c2:
 * sorts by time, and two runs started at once still get different names (and records).
 */
export function defaultRunName(experiment: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-');
  return `${experiment}-${stamp}-${randomBytes(3).toString('hex')}`;
}

export function validateRunName(name: string): string {
  if (!RUN_NAME.test(name) || name.startsWith('.')) {
    throw new UserError(`invalid run name '${name}': use letters, digits, '.', '_', '-', '+', '@'`);
  }
  return name;
}

export function runDir(workspace: Workspace, name: string): string {
  return path.join(workspace.runsDir, name);
}

/**
 * Builds a run's directory aside and moves it into place only when `build` succeeds, so a
 * failed or interrupted run never replaces the record of an earlier one with the same name.
 */
export async function commitRun(
  workspace: Workspace,
  name: string,
  build: (dir: string) => Promise<RunRecord>,
  log: Logger,
): Promise<RunRecord> {
  validateRunName(name);
  const lock = await acquireLock(path.join(workspace.runsDir, `.${name}.lock`), { log, what: `run '${name}'` });
  const partial = path.join(workspace.runsDir, `.partial-${name}-${process.pid}`);
  try {
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true });
    const record = await build(partial);
    await writeFileAtomic(path.join(partial, RUN_FILE), `${JSON.stringify(record, null, 2)}\n`);
    const target = runDir(workspace, name);
    const existed = await stat(target).then(() => true, () => false);
    await replaceDirectory(partial, target);
    if (existed) log.info(`replaced the earlier run '${name}'`);
    return record;
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  } finally {
    await lock.release();
  }
}

export async function readRun(workspace: Workspace, name: string): Promise<RunRecord> {
  const file = path.join(runDir(workspace, name), RUN_FILE);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as RunRecord;
  } catch {
    throw new UserError(`no run '${name}' in ${workspace.runsDir} (see 'pnpm pipeline runs')`);
  }
}

/** Runs newest first. */
export async function listRuns(workspace: Workspace): Promise<RunRecord[]> {
  const names = await readdir(workspace.runsDir).catch(() => [] as string[]);
  const records: RunRecord[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const text = await readFile(path.join(workspace.runsDir, name, RUN_FILE), 'utf8').catch(() => undefined);
    if (text) records.push(JSON.parse(text) as RunRecord);
  }
  return records.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
}
