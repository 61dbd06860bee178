import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalJson, sha256Hex } from './hash.ts';

/** The workspace's `packages/` folder, which holds core itself. */
export const WORKSPACE_PACKAGES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * What computed an artifact: a hash of the stage's package and of every workspace package it
 * depends on (core draws the split and the views, so a change there must invalidate ingest), and
 * the versions of the libraries that compute its numbers (sharp and libvips, tfjs, ONNX Runtime).
 */
export interface CodeVersion {
  /** The short hash that goes into the cache key. */
  version: string;
  /** Workspace package name -> hash of its sources and package.json. */
  packages: Record<string, string>;
  /** Library -> version. */
  libraries: Record<string, string>;
}

interface WorkspacePackage {
  dir: string;
  workspaceDependencies: string[];
}

async function readWorkspacePackages(packagesDir: string): Promise<Map<string, WorkspacePackage>> {
  const found = new Map<string, WorkspacePackage>();
  for (const entry of (await readdir(packagesDir, { withFileTypes: true })).filter((e) => e.isDirectory())) {
    const dir = path.join(packagesDir, entry.name);
    const manifest = await readFile(path.join(dir, 'package.json'), 'utf8').then((text) => JSON.parse(text) as Record<string, unknown>, () => undefined);
    if (!manifest || typeof manifest.name !== 'string') continue;
    const dependencies = { ...(manifest.dependencies as Record<string, string> | undefined) };
    const workspaceDependencies = Object.keys(dependencies).filter((name) => String(dependencies[name]).startsWith('workspace:'));
    found.set(manifest.name, { dir, workspaceDependencies });
  }
  return found;
}

/** A hash of a package's `package.json` and every TypeScript file under its `src/`. */
async function hashPackage(dir: string): Promise<string> {
  const srcDir = path.join(dir, 'src');
  const files = (await readdir(srcDir, { recursive: true })).filter((f) => f.endsWith('.ts')).sort();
  const hash = createHash('sha256').update(await readFile(path.join(dir, 'package.json'))).update('\0');
  for (const file of files) hash.update(file.split(path.sep).join('/')).update('\0').update(await readFile(path.join(srcDir, file))).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/**
 * The code version of a stage's package (see CodeVersion). `packagesDir` is the workspace's
 * `packages/` folder; another one (a copy) gives that copy's version.
 */
export async function codeVersionOf(packageName: string, libraries: Record<string, string>, packagesDir = WORKSPACE_PACKAGES_DIR): Promise<CodeVersion> {
  const workspace = await readWorkspacePackages(packagesDir);
  const packages: Record<string, string> = {};
  const visit = async (name: string): Promise<void> => {
    if (name in packages) return;
    const found = workspace.get(name);
    if (!found) throw new Error(`workspace package ${name} not found in ${packagesDir}`);
    packages[name] = await hashPackage(found.dir);
    for (const dependency of found.workspaceDependencies) await visit(dependency);
  };
  await visit(packageName);
  return { version: sha256Hex(canonicalJson({ packages, libraries })).slice(0, 16), packages, libraries };
}

/** The installed version of one of core's libraries (onnxruntime-node, the tfjs backends). */
export function installedVersion(library: string): string {
  let dir = path.dirname(createRequire(import.meta.url).resolve(library));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === library && manifest.version) return manifest.version;
    } catch {
      // no package.json at this level
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the version of ${library}`);
    dir = parent;
  }
}
