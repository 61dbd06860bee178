import { readdir, readlink, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { UserError, sha256Hex } from '@flowers/core';
import { SPLITS, type SplitName } from '@flowers/core/contracts';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff'] as const;

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
  /**
   * Entries that are not data (not an image by extension, not a regular file, dangling or looping
   * links, names that are not UTF-8), by path; reported, never fatal.
   */
  ignored: Array<{ path: string; reason: string }>;
  presplit: boolean;
}

const isHidden = (name: string): boolean => name.startsWith('.');
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

interface FolderEntry {
  /** Path relative to the dataset folder, '/'-separated. */
  rel: string;
  name: string;
  /** What the entry is once links are followed. */
  info: Stats;
}

/** The folders above an entry, as real folders (device:inode) -> their path relative to the dataset folder. */
type Ancestors = ReadonlyMap<string, string>;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const folderId = (info: Stats): string => `${info.dev}:${info.ino}`;

/** Why a link cannot be followed, or undefined when stat failed for another reason. */
async function brokenLinkReason(full: string, code: string | undefined): Promise<string | undefined> {
  if (code !== 'ENOENT' && code !== 'ELOOP') return undefined;
  const target = await readlink(full);
  return code === 'ENOENT' ? `dangling symlink (to ${target})` : `symlink loop (to ${target})`;
}

/**
 * The visible entries of a folder, sorted, with symbolic links followed (as Keras'
 * image_dataset_from_directory(follow_links=True) does). Dangling links and links back into a
 * folder above go to `ignored` instead: a loop would otherwise be walked forever.
 */
async function listFolder(root: string, relDir: string, ancestors: Ancestors, ignored: ScannedDataset['ignored']): Promise<FolderEntry[]> {
  // As bytes: a name that is not UTF-8 would come back with U+FFFD in it, a path that does not exist.
  const entries = await readdir(path.join(root, relDir), { encoding: 'buffer', withFileTypes: true });
  const relOf = (name: string): string => (relDir ? `${relDir}/${name}` : name);
  const listed: FolderEntry[] = [];
  for (const entry of entries) {
    let name: string;
    try {
      name = utf8.decode(entry.name);
    } catch {
      const bytes = Array.from(entry.name, (b) => b.toString(16).padStart(2, '0')).join(' ');
      ignored.push({ path: relOf(entry.name.toString()), reason: `name is not valid UTF-8 (bytes ${bytes}): rename it` });
      continue;
    }
    if (isHidden(name)) continue; // .DS_Store, .amlignore, .git are not data
    const rel = relOf(name);
    const full = path.join(root, relDir, name);
    let info: Stats;
    try {
      info = await stat(full);
    } catch (error) {
      const reason = entry.isSymbolicLink() ? await brokenLinkReason(full, (error as NodeJS.ErrnoException).code) : undefined;
      if (!reason) throw error;
      ignored.push({ path: rel, reason });
      continue;
    }
    const ancestor = info.isDirectory() ? ancestors.get(folderId(info)) : undefined;
    if (ancestor !== undefined) {
      ignored.push({ path: rel, reason: `symlink loop: leads back to ${ancestor || 'the data folder'}` });
      continue;
    }
    listed.push({ rel, name, info });
  }
  return listed.sort((a, b) => byCodePoint(a.name, b.name));
}

async function subfolders(root: string, relDir: string, ancestors: Ancestors, ignored: ScannedDataset['ignored']): Promise<FolderEntry[]> {
  return (await listFolder(root, relDir, ancestors, ignored)).filter((e) => e.info.isDirectory());
}

/** Finds the split folders of a pre-split dataset (`val/` is accepted for `validation/`). */
function presplitFolders(folders: readonly FolderEntry[]): Record<SplitName, FolderEntry> | undefined {
  const find = (name: string): FolderEntry | undefined => folders.find((f) => f.name === name);
  const [train, validation, test] = [find('train'), find('validation') ?? find('val'), find('test')];
  return train && validation && test ? { train, validation, test } : undefined;
}

const within = (ancestors: Ancestors, folder: FolderEntry): Ancestors => new Map(ancestors).set(folderId(folder.info), folder.rel);

async function scanClassFolder(
  root: string,
  folder: FolderEntry,
  label: string,
  givenSplit: SplitName | undefined,
  ancestors: Ancestors,
  dataset: Pick<ScannedDataset, 'files' | 'ignored'>,
): Promise<number> {
  const inside = within(ancestors, folder);
  let count = 0;
  for (const entry of await listFolder(root, folder.rel, inside, dataset.ignored)) {
    if (entry.info.isDirectory()) {
      count += await scanClassFolder(root, entry, label, givenSplit, inside, dataset);
      continue;
    }
    if (!entry.info.isFile()) {
      // A FIFO or device named like a photo would block or never end when read.
      dataset.ignored.push({ path: entry.rel, reason: 'not a regular file' });
      continue;
    }
    if (!IMAGE_EXTENSIONS.includes(path.extname(entry.name).toLowerCase() as (typeof IMAGE_EXTENSIONS)[number])) {
      dataset.ignored.push({ path: entry.rel, reason: `not an image file extension (${path.extname(entry.name) || 'none'})` });
      continue;
    }
    dataset.files.push({ path: entry.rel, label, bytes: entry.info.size, mtimeMs: Math.floor(entry.info.mtimeMs), ...(givenSplit ? { givenSplit } : {}) });
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
  const dataset: ScannedDataset = { root, classes: [], files: [], ignored: [], presplit: false };
  const top: Ancestors = new Map([[folderId(info), '']]);
  const folders = await subfolders(root, '', top, dataset.ignored);
  const splitDirs = presplitFolders(folders);
  dataset.presplit = Boolean(splitDirs);
  if (splitDirs) {
    const classSets = await Promise.all(SPLITS.map((s) => subfolders(root, splitDirs[s].rel, within(top, splitDirs[s]), dataset.ignored)));
    const names = classSets.map((set) => set.map((f) => f.name));
    const classes = names[0]!;
    SPLITS.forEach((split, i) => {
      if (names[i]!.join('/') !== classes.join('/')) {
        throw new UserError(`${path.join(root, splitDirs[split].rel)} has classes [${names[i]!.join(', ')}] but train/ has [${classes.join(', ')}]`);
      }
    });
    dataset.classes = classes;
    for (const [i, split] of SPLITS.entries()) {
      for (const folder of classSets[i]!) {
        const n = await scanClassFolder(root, folder, folder.name, split, within(top, splitDirs[split]), dataset);
        if (n === 0) throw new UserError(`class folder has no images: ${path.join(root, folder.rel)}`);
      }
    }
  } else {
    dataset.classes = folders.map((f) => f.name);
    for (const folder of folders) {
      const n = await scanClassFolder(root, folder, folder.name, undefined, top, dataset);
      if (n === 0) throw new UserError(`class folder has no images: ${path.join(root, folder.rel)}`);
    }
  }
  if (dataset.classes.length < 2) {
    throw new UserError(`${root} needs at least 2 class sub-folders of images, found ${dataset.classes.length}${dataset.classes.length ? ` (${dataset.classes[0]})` : ''}`);
  }
  dataset.files.sort((a, b) => byCodePoint(a.path, b.path));
  dataset.ignored.sort((a, b) => byCodePoint(a.path, b.path));
  return dataset;
}

/** A cheap fingerprint of the dataset (names, sizes, modification times) for the cache key. */
export function datasetFingerprint(dataset: ScannedDataset): string {
  return sha256Hex(JSON.stringify(dataset.files.map((f) => [f.path, f.bytes, f.mtimeMs]))).slice(0, 16);
}
