import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDemoDataset } from '@flowers/ingest';
import { MAIN, runCli } from './run_cli.ts';

// Root reads a file whatever its mode: the CLI then runs as nobody, for whom chmod 000 is a real EACCES.
const unprivileged = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
/** Whether that user can read this checkout at all (not where it sits under a private home folder). */
const canRunUnprivileged =
  unprivileged.length === 0 || spawnSync(unprivileged[0]!, [...unprivileged.slice(1), process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(MAIN)})`]).status === 0;

describe('pnpm pipeline ingest and files it could not read', () => {
  it.skipIf(!canRunUnprivileged)('reads a file skipped as unreadable again on the next run instead of taking the cached ingest (nor the augment made from it)', async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'cli-unreadable-'));
    chmodSync(cwd, 0o777);
    const data = await ensureDemoDataset(path.join(cwd, 'data'), 3);
    const locked = path.join(data, 'rose', 'rose_000.png');
    chmodSync(locked, 0o000);
    const ingest = (): ReturnType<typeof runCli> => runCli(['augment', '--data', 'data', '--workdir', 'ws', '--workers', '1', '--size', '32'], cwd, { HOME: cwd }, unprivileged);
    const report = (): { images: number; skipped: Array<{ path: string; reason: string }> } => {
      const [key] = readdirSync(path.join(cwd, 'ws', 'artifacts', 'ingest')).filter((d) => !d.startsWith('.') && !d.endsWith('.lock'));
      return JSON.parse(readFileSync(path.join(cwd, 'ws', 'artifacts', 'ingest', key!, 'ingest-report.json'), 'utf8'));
    };

    const first = ingest();
    expect(first.status, first.stderr).toBe(0);
    expect(report().skipped).toEqual([{ path: 'rose/rose_000.png', reason: 'unreadable: EACCES' }]);

    // chmod leaves the name, size and modification time as they were.
    chmodSync(locked, 0o644);
    const second = ingest();
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('cached ingest');
    expect(second.stderr).not.toContain('cached augment');
    expect(JSON.parse(second.stdout)).toEqual({ train: 5, validation: 5, test: 5 });
    expect(second.stderr).toMatch(/^ingest [0-9a-f]{16}: it could not read 1 file\(s\) last time: reading them again$/m);
    // augment is keyed on the split's checksum, which the second ingest changed.
    expect(second.stderr).toMatch(/^augment [0-9a-f]{16}: input changed: split$/m);
    expect(report()).toMatchObject({ images: 15, skipped: [] });

    const third = ingest();
    expect(third.status, third.stderr).toBe(0);
    expect(third.stderr).toMatch(/^cached ingest [0-9a-f]{16}\ncached augment [0-9a-f]{16}$/m);
  });
});
