import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from './run_cli.ts';

/** Packages only the queue (BullMQ, ioredis) and the report (Vega-Lite, Vega) need. */
const QUEUE_PACKAGES = ['bullmq', 'ioredis'];
const REPORT_PACKAGES = ['vega-lite', 'vega'];

/**
 * Runs the CLI with a module loader hook that writes down every module it resolves; returns the
 * npm packages among them (by their pnpm store folder name) and the command's exit status.
 */
function packagesLoadedBy(args: string[]): { packages: Set<string>; status: number | null } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cli-lazy-'));
  const log = path.join(dir, 'resolved.log');
  writeFileSync(log, '');
  writeFileSync(
    path.join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';\nexport async function resolve(specifier, context, next) {\n  const result = await next(specifier, context);\n  appendFileSync(${JSON.stringify(log)}, result.url + '\\n');\n  return result;\n}\n`,
  );
  writeFileSync(path.join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
  try {
    const { status } = runCli(args, dir, { NODE_OPTIONS: `--import ${pathToFileURL(path.join(dir, 'register.mjs')).href}` });
    // pnpm's store folders: node_modules/.pnpm/<name>@<version>[_peers]/node_modules/<name>/...
    const packages = new Set([...readFileSync(log, 'utf8').matchAll(/node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]!));
    return { packages, status };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('start-up loads only what the command needs', () => {
  it('--help and runs load neither the queue nor the report packages', () => {
    for (const args of [['--help'], ['runs', '--workdir', 'ws']]) {
      const { packages, status } = packagesLoadedBy(args);
      expect(status, args.join(' ')).toBe(0);
      expect(packages.has('commander'), 'the hook saw the CLI load').toBe(true);
      expect([...QUEUE_PACKAGES, ...REPORT_PACKAGES].filter((name) => packages.has(name)), args.join(' ')).toEqual([]);
    }
  });

  it('report loads the report packages, and --queue the queue packages', () => {
    const report = packagesLoadedBy(['report', '--workdir', 'ws']);
    expect(report.status).toBe(1); // no runs yet
    expect(REPORT_PACKAGES.filter((name) => report.packages.has(name))).toEqual(REPORT_PACKAGES);
    expect(QUEUE_PACKAGES.filter((name) => report.packages.has(name))).toEqual([]);
    // Nothing listens on port 1: the queue's packages load, then its Redis check fails.
    const queued = packagesLoadedBy(['ingest', '--workdir', 'ws', '--queue', 'redis://127.0.0.1:1']);
    expect(queued.status).toBe(1);
    expect(QUEUE_PACKAGES.filter((name) => queued.packages.has(name))).toEqual(QUEUE_PACKAGES);
  });
});
