import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError, Workspace, defaultWorkerCount, stderrLogger, type Logger } from '@flowers/core';

/**
 * pnpm runs scripts from the repository root; INIT_CWD is where the user typed the command, so
 * relative paths resolve against that.
 */
export function callerCwd(): string {
  return process.env.INIT_CWD ?? process.cwd();
}

export function resolvePath(p: string): string {
  return path.resolve(callerCwd(), p);
}

/** Options every command understands. */
export interface CommonOptions {
  workdir: string;
  run?: string;
  seed: number;
  /** Stages to recompute despite the cache: the command's own stage with --force (every stage for `all`). */
  force: ReadonlySet<string>;
  workers: number;
  config?: string;
}

export interface PipelineContext {
  workspace: Workspace;
  log: Logger;
  options: CommonOptions;
}

export function createContext(options: CommonOptions): PipelineContext {
  return { workspace: new Workspace(resolvePath(options.workdir)), log: stderrLogger, options };
}

/** Reads `--config FILE`: a JSON object with the same keys as the long options (kebab or camel case). */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  const full = resolvePath(file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(full, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(code ? `cannot read config ${full}: ${code}` : `config ${full} is not valid JSON: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UserError(`config ${full} must hold a JSON object`);
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()), v]));
}

export async function isDirectory(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

export const DEFAULTS = {
  workdir: '.pipeline',
  seed: 0,
  workers: defaultWorkerCount(),
};
