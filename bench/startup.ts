/**
 * How long `pnpm pipeline` takes to start: the wall time of commands that do next to no work
 * (`--help`, `runs` on an empty workdir), each the median of 5 fresh processes. Every command
 * pays this once; a queue producer pays it while the workers wait.
 *   benchStartup()
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, round } from './stats.ts';

const MAIN = fileURLToPath(new URL('../packages/cli/src/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const ROUNDS = 5;

/** Wall seconds of a fresh `node --import tsx <args>`, which must succeed. */
function seconds(args: string[], cwd: string): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, ['--import', TSX, ...args], { cwd, env: { ...process.env, INIT_CWD: cwd }, stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed with exit code ${result.status}`);
  return (performance.now() - started) / 1000;
}

export function benchStartup(): Record<string, unknown> {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'bench-startup-'));
  try {
    const figure = (args: string[]) => {
      const runs = Array.from({ length: ROUNDS }, () => seconds(args, cwd));
      return { seconds: round(median(runs)), runs_s: runs.map((x) => round(x)) };
    };
    return {
      note: `wall time of a fresh process, the median of ${ROUNDS}`,
      // What any command costs before the pipeline's own modules load.
      node_with_tsx: figure(['-e', '0']),
      help: figure([MAIN, '--help']),
      runs: figure([MAIN, 'runs', '--workdir', 'ws']),
    };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}
