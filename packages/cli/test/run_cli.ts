import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
// Resolved here: `--import tsx` alone would be looked up from the child's working directory.
export const TSX = import.meta.resolve('tsx');
export { SHARED_FLOWERS } from '../../../shared_folder.ts';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI as a user would (`pnpm pipeline ...` from `cwd`); `wrapper` is a command line that
 * runs it (e.g. setpriv, to run it as another user).
 */
export function runCli(args: string[], cwd: string, env: Record<string, string> = {}, wrapper: string[] = []): CliResult {
  const [command, ...rest] = [...wrapper, process.execPath, '--import', TSX, MAIN, ...args];
  const result = spawnSync(command!, rest, {
    cwd,
    env: { ...process.env, INIT_CWD: cwd, ...env },
    encoding: 'utf8',
    timeout: 600_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function spawnCli(args: string[], cwd: string) {
  return spawn(process.execPath, ['--import', TSX, MAIN, ...args], { cwd, env: { ...process.env, INIT_CWD: cwd }, stdio: ['ignore', 'pipe', 'pipe'] });
}
