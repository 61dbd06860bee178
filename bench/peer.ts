/**
 * The PyTorch peer (../shared/peers/pytorch_bench.py, Debian's python3-torch), run in the same
 * benchmark run as the pipeline's own figures so that ratios compare like with like.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SHARED_PEER as PEER } from '../shared_folder.ts';

// Debian's interpreter: python3-torch installs there, not into other Pythons on the PATH.
const PYTHON = '/usr/bin/python3';

/** The peer's JSON line per benchmark name, or one `error` entry saying why there is none. */
export function peerBenchmark(only: string[], threads: number): Record<string, unknown> {
  if (!existsSync(PEER)) return { error: `no peer benchmark at ${PEER}` };
  const result = spawnSync(PYTHON, [PEER, '--threads', String(threads), '--steps', '5', '--warmup', '1', '--only', only.join(',')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (result.status !== 0) return { error: `peer benchmark failed (install python3-torch python3-torchvision): ${(result.stderr || String(result.error)).trim().split('\n').at(-1)}` };
  const lines = result.stdout.trim().split('\n').filter((line) => line.startsWith('{'));
  return Object.fromEntries(lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((row) => typeof row.bench === 'string').map((row) => [row.bench as string, row]));
}
