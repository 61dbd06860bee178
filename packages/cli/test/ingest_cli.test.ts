import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, SHARED_FLOWERS, spawnCli } from './run_cli.ts';

const tmp = (prefix: string): string => mkdtempSync(path.join(os.tmpdir(), prefix));

function ingestArtifactDirs(workdir: string): string[] {
  const stageDir = path.join(workdir, 'artifacts', 'ingest');
  return existsSync(stageDir) ? readdirSync(stageDir).filter((d) => !d.startsWith('.') && !d.endsWith('.lock')) : [];
}

/** Unique photos per class, computed here independently of the pipeline by hashing every file. */
function uniquePhotosByClass(root: string): { total: number; perClass: Record<string, number> } {
  const seen = new Set<string>();
  const perClass: Record<string, number> = {};
  for (const label of readdirSync(root).sort()) {
    for (const name of readdirSync(path.join(root, label)).sort()) {
      if (name.startsWith('.')) continue;
      const sha = createHash('sha256').update(readFileSync(path.join(root, label, name))).digest('hex');
      if (seen.has(sha)) continue;
      seen.add(sha);
      perClass[label] = (perClass[label] ?? 0) + 1;
    }
  }
  return { total: seen.size, perClass };
}

describe('pnpm pipeline ingest on the shared Flowers photos', () => {
  it('prints the split table, writes split.arrow, is cached the second time, and is byte-identical across workspaces', () => {
    const cwd = tmp('cli-ingest-');
    const first = runCli(['ingest', '--data', SHARED_FLOWERS, '--workdir', 'ws-a'], cwd);
    expect(first.status, first.stderr).toBe(0);
    const expected = uniquePhotosByClass(SHARED_FLOWERS);
    expect(expected.total).toBeLessThan(3093);
    const totalLine = first.stdout.split('\n').find((l) => l.startsWith('total'))!;
    expect(Number(totalLine.trim().split(/\s+/).at(-1))).toBe(expected.total);
    for (const [label, count] of Object.entries(expected.perClass)) {
      const line = first.stdout.split('\n').find((l) => l.startsWith(`${label} `))!;
      expect(Number(line.trim().split(/\s+/).at(-1)), label).toBe(count);
    }
    // Relative --workdir resolves against the caller's directory.
    const [key] = ingestArtifactDirs(path.join(cwd, 'ws-a'));
    expect(key).toBeDefined();
    const manifest = JSON.parse(readFileSync(path.join(cwd, 'ws-a', 'artifacts', 'ingest', key!, 'manifest.json'), 'utf8'));
    expect(manifest.outputs.map((o: { file: string }) => o.file)).toEqual(['classes.json', 'ingest-report.json', 'split.arrow']);
    expect(manifest.rows.images).toBe(expected.total);

    const again = runCli(['ingest', '--data', SHARED_FLOWERS, '--workdir', 'ws-a'], cwd);
    expect(again.status).toBe(0);
    expect(again.stderr).toContain(`cached ingest ${key}`);
    expect(again.stdout).toBe(first.stdout);

    const other = runCli(['ingest', '--data', SHARED_FLOWERS, '--workdir', 'ws-b', '--workers', '1'], cwd);
    expect(other.status).toBe(0);
    const a = readFileSync(path.join(cwd, 'ws-a', 'artifacts', 'ingest', key!, 'split.arrow'));
    const b = readFileSync(path.join(cwd, 'ws-b', 'artifacts', 'ingest', key!, 'split.arrow'));
    expect(a.equals(b)).toBe(true);

    const differentSeed = runCli(['ingest', '--data', SHARED_FLOWERS, '--workdir', 'ws-a', '--seed', '1'], cwd);
    expect(differentSeed.status).toBe(0);
    expect(differentSeed.stderr).not.toContain('cached');
    expect(ingestArtifactDirs(path.join(cwd, 'ws-a'))).toHaveLength(2);
  });

  it('killed half-way leaves nothing that looks complete, and a rerun finishes', async () => {
    const cwd = tmp('cli-kill-');
    const child = spawnCli(['ingest', '--data', SHARED_FLOWERS, '--workdir', 'ws'], cwd);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('validating images')) resolve();
      });
      // A non-TTY progress line comes every 10 s; kill after 4 s if none came sooner.
      setTimeout(resolve, 4000);
    });
    child.kill('SIGKILL');
    await exited;
    expect(ingestArtifactDirs(path.join(cwd, 'ws'))).toEqual([]);
    const rerun = runCli(['ingest', '--data', SHARED_FLOWERS, '--workdir', 'ws'], cwd);
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stderr).not.toContain('cached');
    expect(ingestArtifactDirs(path.join(cwd, 'ws'))).toHaveLength(1);
  });
});

describe('pnpm pipeline ingest, usage', () => {
  it('fails with one clear line for a missing data folder', () => {
    const cwd = tmp('cli-missing-');
    const result = runCli(['ingest', '--data', 'nowhere'], cwd);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(`error: data folder not found: ${path.join(cwd, 'nowhere')}`);
    expect(result.stdout).toBe('');
  });

  it('generates a synthetic demo set when no data is given, and says so', () => {
    const cwd = tmp('cli-demo-');
    const result = runCli(['ingest'], cwd);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain('synthetic');
    expect(result.stdout).toMatch(/^total\s+\d+\s+\d+\s+\d+\s+300$/m);
  });

  it('layers options: flags over --config over defaults', () => {
    const cwd = tmp('cli-config-');
    writeFileSync(path.join(cwd, 'settings.json'), JSON.stringify({ split: '0.5,0.25,0.25', workdir: 'from-config' }));
    const fromConfig = runCli(['ingest', '--config', 'settings.json'], cwd);
    expect(fromConfig.status, fromConfig.stderr).toBe(0);
    expect(fromConfig.stdout).toMatch(/^total\s+150\s+75\s+75\s+300$/m);
    expect(existsSync(path.join(cwd, 'from-config', 'artifacts', 'ingest'))).toBe(true);
    const flagWins = runCli(['ingest', '--config', 'settings.json', '--split', '0.8,0.1,0.1'], cwd);
    expect(flagWins.stdout).toMatch(/^total\s+240\s+30\s+30\s+300$/m);
    const bad = runCli(['ingest', '--config', 'settings.json', '--split', '0.8,0.1'], cwd);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^error: --split must be three/);
  });
});

describe('two pipeline processes on one workdir', () => {
  it('share the work: both succeed and leave one artifact', async () => {
    const cwd = tmp('cli-concurrent-');
    const run = () => {
      const child = spawnCli(['ingest', '--workdir', 'ws'], cwd);
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      return new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
    };
    const [a, b] = await Promise.all([run(), run()]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(`${a.stderr}${b.stderr}`).toMatch(/cached ingest|waiting for ingest/);
    expect(ingestArtifactDirs(path.join(cwd, 'ws'))).toHaveLength(1);
  });
});
