import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError, sha256Hex } from '@flowers/core';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff'] as const;
export const SPLITS = ['train', 'validation', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

export interface ScannedFile {
  /** Path relative to the dataset folder, '/'-separated. */
  path: string;
  label: string;
  /** Only for datasets that come already split into train/validation/test folders. */
  givenSplit?: SplitName;
  bytes: number;
  mtimeMs: number;
}

export interface ScannedDataset {
  root: string;
  classes: string[];
  files: ScannedFile[];
  /** Files that are not images by extension; reported, never fatal. */
  ignored: Array<{ path: string; reason: string }>;
  presplit: boolean;
}

const isHidden = (name: string): boolean => name.startsWith('.');
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

async function subfolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory() && !isHidden(e.name)).map((e) => e.name).sort(byCodePoint);
}

/** Finds the split folders of a pre-split dataset (`val/` is accepted for `validation/`). */
function presplitFolders(folders: string[]): Record<SplitName, string> | undefined {
  const validation = folders.includes('validation') ? 'validation' : folders.includes('val') ? 'val' : undefined;
  if (!folders.includes('train') || !folders.includes('test') || !validation) return undefined;
  return { train: 'train', validation, test: 'test' };
}

async function scanClassFolder(
  root: string,
  relDir: string,
  label: string,
  givenSplit: SplitName | undefined,
  dataset: Pick<ScannedDataset, 'files' | 'ignored'>,
): Promise<number> {
  const entries = await readdir(path.join(root, relDir), { withFileTypes: true, recursive: true });
  let count = 0;
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const rel = path.relative(root, full).split(path.sep).join('/');
    // Hidden files and anything inside hidden folders (.DS_Store, .amlignore, .git) are not data.
    if (rel.split('/').some(isHidden)) continue;
    if (!IMAGE_EXTENSIONS.includes(path.extname(entry.name).toLowerCase() as (typeof IMAGE_EXTENSIONS)[number])) {
      dataset.ignored.push({ path: rel, reason: `not an image file extension (${path.extname(entry.name) || 'none'})` });
      continue;
    }
    const info = await stat(full);
    dataset.files.push({ path: rel, label, bytes: info.size, mtimeMs: Math.floor(info.mtimeMs), ...(givenSplit ? { givenSplit } : {}) });
    count++;
  }
  return count;
}

/**
 * Lists a folder-of-folders dataset: class = sub-folder name, sorted so class indices are stable.
 * A folder holding train/, validation/ (or val/) and test/ with the same class folders is taken
 * as already split.
 */
export async function scanDataset(root: string): Promise<ScannedDataset> {
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory()) throw new UserError(`data folder not found: ${root}`);
  const top = await subfolders(root);
  const splitDirs = presplitFolders(top);
  const dataset: ScannedDataset = { root, classes: [], files: [], ignored: [], presplit: Boolean(splitDirs) };
  if (splitDirs) {
    const classSets = await Promise.all(SPLITS.map((s) => subfolders(path.join(root, splitDirs[s]))));
    const classes = classSets[0]!;
    SPLITS.forEach((split, i) => {
      if (classSets[i]!.join('/') !== classes.join('/')) {
        throw new UserError(
          `${path.join(root, splitDirs[split])} has classes [${classSets[i]!.join(', ')}] but train/ has [${classes.join(', ')}]`,
        );
      }
    });
    dataset.classes = classes;
    for (const split of SPLITS) {
      for (const label of classes) {
        const n = await scanClassFolder(root, path.join(splitDirs[split], label), label, split, dataset);
        if (n === 0) throw new UserError(`class folder has no images: ${path.join(root, splitDirs[split], label)}`);
      }
    }
  } else {
    dataset.classes = top;
    for (const label of top) {
      const n = await scanClassFolder(root, label, label, undefined, dataset);
      if (n === 0) throw new UserError(`class folder has no images: ${path.join(root, label)}`);
    }
  }
  if (dataset.classes.length < 2) {
    throw new UserError(`${root} needs at least 2 class sub-folders of images, found ${dataset.classes.length}${dataset.classes.length ? ` (${dataset.classes[0]})` : ''}`);
  }
  dataset.files.sort((a, b) => byCodePoint(a.path, b.path));
  return dataset;
}

/** A cheap fingerprint of the dataset (names, sizes, modification times) for the cache key. */
export function datasetFingerprint(dataset: ScannedDataset): string {
  return sha256Hex(JSON.stringify(dataset.files.map((f) => [f.path, f.bytes, f.mtimeMs]))).slice(0, 16);
}
