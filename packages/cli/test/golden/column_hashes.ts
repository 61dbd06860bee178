/**
 * A fingerprint of each data file the stages write: per column, the sha256 of its values; per
 * file, its schema metadata with machine-specific folders replaced by their names (`<root>`, `<shared>`). JSON files are
 * fingerprinted by the values under each top-level key, timings left out. Kept independent of the contract modules
 * on purpose: it reads the files with a plain Arrow IPC read.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readArrowTable, type Table } from '@flowers/core';

type Vector = NonNullable<ReturnType<Table['getChild']>>;

export interface ArrowFingerprint {
  rows: number;
  columns: Record<string, string>;
  metadata: Record<string, string>;
}

function columnHash(vector: Vector): string {
  const hash = createHash('sha256');
  if (vector.data.some((data) => data.children.length === 0)) {
    // Scalar columns: the JSON of their values, in row order.
    return hash.update(JSON.stringify(Array.from(vector.toArray() as ArrayLike<unknown>))).digest('hex');
  }
  // Fixed-size lists: the values of their rows, as little-endian bytes.
  for (const data of vector.data) {
    const child = data.children[0]!;
    const listSize = (data.type as { listSize: number }).listSize;
    const values = child.values as Uint8Array | Float32Array;
    const start = child.offset + data.offset * listSize;
    const slice = values.subarray(start, start + data.length * listSize);
    hash.update(new Uint8Array(slice.buffer, slice.byteOffset, slice.byteLength));
  }
  return hash.digest('hex');
}

/** `folders` maps each machine-specific absolute folder to the name it is recorded under. */
export async function arrowFingerprint(file: string, folders: Record<string, string>): Promise<ArrowFingerprint> {
  const table = await readArrowTable(file);
  const columns: Record<string, string> = {};
  for (const field of table.schema.fields) columns[field.name] = columnHash(table.getChild(field.name)!);
  const unplace = (value: string) => Object.entries(folders).reduce((v, [folder, name]) => v.split(folder).join(name), value);
  const metadata = Object.fromEntries([...table.schema.metadata].map(([k, v]) => [k, unplace(v)]));
  return { rows: table.numRows, columns, metadata };
}

/** Timings, which differ run to run, as manifests' do. */
const TIMING_KEYS = new Set(['seconds']);

export function jsonFingerprint(file: string): Record<string, string> {
  const value = JSON.parse(readFileSync(file, 'utf8'), (key, v: unknown) => (TIMING_KEYS.has(key) ? undefined : v)) as unknown;
  const entries = Array.isArray(value) ? [['[]', value] as const] : Object.entries(value as Record<string, unknown>);
  return Object.fromEntries(entries.map(([k, v]) => [k, createHash('sha256').update(JSON.stringify(v)).digest('hex')]));
}
