import { createRandom, shuffleInPlace } from '@flowers/core';
import { SPLITS, type DuplicateGroup, type SplitName } from '@flowers/core/contracts';

export interface ValidImage {
  path: string;
  label: string;
  givenSplit?: SplitName;
  sha256: string;
  width: number;
  height: number;
  channels: number;
}

export interface AssignedImage extends ValidImage {
  labelIndex: number;
  split: SplitName;
}

/**
 * Keeps one copy of each photo (the first path in sorted order; in a pre-split dataset the copy
 * in the earliest split, so a photo never lands in both train and test).
 */
export function dropDuplicates(images: readonly ValidImage[]): { unique: ValidImage[]; duplicates: DuplicateGroup[] } {
  const splitRank = (image: ValidImage): number => (image.givenSplit ? SPLITS.indexOf(image.givenSplit) : 0);
  const ordered = [...images].sort((a, b) => splitRank(a) - splitRank(b) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const bySha = new Map<string, ValidImage[]>();
  for (const image of ordered) {
    const group = bySha.get(image.sha256);
    if (group) group.push(image);
    else bySha.set(image.sha256, [image]);
  }
  const unique: ValidImage[] = [];
  const duplicates: DuplicateGroup[] = [];
  for (const [sha256, group] of bySha) {
    unique.push(group[0]!);
    if (group.length > 1) {
      duplicates.push({
        sha256,
        kept: group[0]!.path,
        dropped: group.slice(1).map((g) => g.path),
        conflictingLabels: group.some((g) => g.label !== group[0]!.label),
      });
    }
  }
  return { unique, duplicates };
}

/** Train/validation/test fractions, e.g. "0.6,0.2,0.2". */
export function parseSplitFractions(text: string): [number, number, number] {
  const parts = text.split(',').map((p) => Number(p.trim()));
  const [train, validation, test] = parts;
  if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p) || p < 0) || train! <= 0 || test! <= 0) {
    throw new Error(`--split must be three non-negative fractions train,validation,test with train and test > 0, got '${text}'`);
  }
  const sum = train! + validation! + test!;
  if (Math.abs(sum - 1) > 1e-6) throw new Error(`--split fractions must add up to 1, got ${sum}`);
  return [train!, validation!, test!];
}

/**
 * Seeded, stratified split. Each class is ordered by content hash before the seeded shuffle,
 * so the split depends on the seed and the photos, not on names or file-system order.
 */
export function assignSplits(
  images: readonly ValidImage[],
  classes: readonly string[],
  fractions: readonly [number, number, number],
  seed: number,
): AssignedImage[] {
  const rows: AssignedImage[] = [];
  classes.forEach((label, labelIndex) => {
    const members = images.filter((image) => image.label === label);
    if (members.every((m) => m.givenSplit)) {
      for (const m of members) rows.push({ ...m, labelIndex, split: m.givenSplit! });
      return;
    }
    members.sort((a, b) => (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0));
    shuffleInPlace(members, createRandom(seed, 'split', label));
    // Validation and test get their rounded share, at least one photo each when the class has
    // three or more; train takes the rest.
    const share = (fraction: number): number => Math.max(Math.round(members.length * fraction), fraction > 0 && members.length >= 3 ? 1 : 0);
    const nValidation = share(fractions[1]);
    const nTrain = members.length - nValidation - share(fractions[2]);
    members.forEach((m, i) => {
      const split: SplitName = i < nTrain ? 'train' : i < nTrain + nValidation ? 'validation' : 'test';
      rows.push({ ...m, labelIndex, split });
    });
  });
  return rows.sort(
    (a, b) => SPLITS.indexOf(a.split) - SPLITS.indexOf(b.split) || a.labelIndex - b.labelIndex || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );
}

/** Counts per class and split, for the table and the report. */
export function countSplits(rows: readonly AssignedImage[], classes: readonly string[]): Record<string, Record<SplitName, number>> {
  const counts: Record<string, Record<SplitName, number>> = {};
  for (const label of classes) counts[label] = { train: 0, validation: 0, test: 0 };
  for (const row of rows) counts[row.label]![row.split]++;
  return counts;
}

export function formatSplitTable(counts: Record<string, Record<SplitName, number>>): string {
  const header = ['class', ...SPLITS, 'total'];
  const body = Object.entries(counts).map(([label, c]) => [label, ...SPLITS.map((s) => String(c[s])), String(c.train + c.validation + c.test)]);
  const totals = SPLITS.map((s) => Object.values(counts).reduce((sum, c) => sum + c[s], 0));
  body.push(['total', ...totals.map(String), String(totals.reduce((a, b) => a + b, 0))]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
